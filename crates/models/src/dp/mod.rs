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

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
use mirage_core::schema::PhysicalType;
use mirage_privacy::{PrivacyReport, PrivacyTracker};

use crate::error::{ModelError, Result};

/// Fresh keys for an identifier column of a DP model, without reading the source's:
/// `first_row + i + 1` as integers, or `"id-…"` strings. Unique across batches.
pub fn generate_keys(physical: PhysicalType, first_row: u64, rows: usize) -> ArrayRef {
    let numbers = (0..rows as u64).map(|i| first_row + i + 1);
    match physical {
        PhysicalType::Utf8 => Arc::new(StringArray::from_iter_values(
            numbers.map(|n| format!("id-{n:08}")),
        )),
        PhysicalType::Float64 => {
            Arc::new(Float64Array::from_iter_values(numbers.map(|n| n as f64)))
        }
        PhysicalType::TimestampMillis => Arc::new(TimestampMillisecondArray::from_iter_values(
            numbers.map(|n| n as i64),
        )),
        PhysicalType::Int64 | PhysicalType::Boolean => {
            Arc::new(Int64Array::from_iter_values(numbers.map(|n| n as i64)))
        }
    }
}

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
