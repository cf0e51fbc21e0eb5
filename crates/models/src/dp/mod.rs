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
    if let Some(prv) = report.epsilon_prv {
        report.epsilon_tightest = report.epsilon_rdp.min(prv);
    }
    Ok(report)
}

/// The tighter ε of the PRV accountant at the target δ (its upper bound), when every
/// event is one it models: Gaussian and subsampled-Gaussian mechanisms exactly, ε-DP
/// exponential mechanisms by their randomized-response dominating pair. `None` when an
/// event is only known by its zCDP ρ, or the accountant refuses.
fn prv_epsilon(tracker: &PrivacyTracker) -> Option<f64> {
    use mirage_privacy::{Mechanism, PrvAccountant};
    let mut accountant = PrvAccountant::new();
    let mut extra_delta = 0.0;
    for event in tracker.events() {
        match event.mechanism {
            Mechanism::Gaussian { sigma, sensitivity } => {
                accountant.add_gaussian(sigma / sensitivity, 1).ok()?;
            }
            Mechanism::SubsampledGaussian {
                sample_rate,
                noise_multiplier,
                steps,
            } => accountant
                .add_subsampled_gaussian(sample_rate, noise_multiplier, steps)
                .ok()?,
            Mechanism::Exponential { epsilon, count } => {
                accountant.add_pure(epsilon, count).ok()?
            }
            Mechanism::Zcdp { .. } => return None,
            Mechanism::Delta { delta } => extra_delta += delta,
        }
    }
    let delta = tracker.budget().delta - extra_delta;
    (delta > 0.0)
        .then(|| accountant.epsilon(delta).ok())
        .flatten()
        .map(|e| e.upper)
}

#[cfg(test)]
mod tests;
