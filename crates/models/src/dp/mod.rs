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
mod fit;
mod settings;
mod stats;

pub use bins::NumericBins;
pub use fit::{
    DpEncoding, DpSchedule, ensure_private, measured_columns, noise_gradients, noisy_targets,
    refuse_resume,
};
pub use settings::DpSettings;
pub use stats::{ColumnStats, DpStatistics, NULL_SHARE, OTHER_LABEL, has_null_slot};

use mirage_privacy::{PrivacyReport, PrivacyTracker};

use crate::error::{ModelError, Result};

/// A generator seeded by the operating system, for the DP noise. The noise must never be
/// derivable from anything saved with the model (a config seed would let anyone who
/// reads the model redraw the noise and subtract it), so DP fits draw it from here and
/// keep the config's seed for what needs no secrecy.
pub fn secret_rng() -> Result<rand_chacha::ChaCha8Rng> {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::try_from_os_rng().map_err(|e| {
        ModelError::Privacy(mirage_privacy::PrivacyError::InvalidParameter {
            field: "randomness",
            message: format!("no secure randomness for the DP noise: {e}"),
        })
    })
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
