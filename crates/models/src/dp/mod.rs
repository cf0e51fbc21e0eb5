//! Differentially private fitting shared by every model: the `privacy` config section,
//! the DP column statistics that replace reading the data in preprocessing, numeric
//! tokens from DP quantiles, and the closing report.
//!
//! A DP fit runs: [`DpSettings::tracker`] → [`DpStatistics::measure`] (charged) →
//! encoders built from the statistics only → DP-SGD (or MST's measurements) charged to
//! the same tracker → [`finish`]. Any step that reads the data without a charge calls
//! `tracker.mark_not_dp`, and [`finish`] then refuses (strict) or reports the model as
//! not DP.

mod bins;
mod settings;
mod stats;

pub use bins::NumericBins;
pub use settings::DpSettings;
pub use stats::{ColumnStats, DpStatistics, OTHER_LABEL};

use mirage_privacy::{PrivacyReport, PrivacyTracker};

use crate::error::{ModelError, Result};

/// Ends a DP fit: the report of what was spent; [`ModelError::NotPrivate`] when
/// `settings.strict` and some data read was not charged.
pub fn finish(tracker: &PrivacyTracker, settings: &DpSettings) -> Result<PrivacyReport> {
    let mut report = tracker.report()?;
    if settings.strict && !report.not_dp_reasons.is_empty() {
        return Err(ModelError::NotPrivate {
            reasons: report.not_dp_reasons,
        });
    }
    report.epsilon_prv = prv_epsilon(tracker);
    Ok(report)
}

/// The tighter PRV ε when every event is one the PRV accountant models (filled in once
/// that accountant lands).
fn prv_epsilon(_tracker: &PrivacyTracker) -> Option<f64> {
    None
}

#[cfg(test)]
mod tests;
