//! [`RiskEstimate`]: an attack's success turned into a risk with a confidence interval.

use serde::{Deserialize, Serialize};

use super::wilson::{Z_95, wilson_interval};

/// The outcome of one Anonymeter-style attack.
///
/// `risk = (attack_rate − baseline_rate) / (1 − baseline_rate)`: the share of what random
/// guessing could not achieve that the synthetic data let the attacker achieve. `ci_low`
/// and `ci_high` put the 95 % Wilson interval of `attack_rate` through the same formula
/// (the baseline is taken as known). Values are clipped to `[0, 1]`: an attack no better
/// than guessing is no risk. With `baseline_rate = 1` nothing can be learnt, so the risk
/// is 0.
///
/// The same attack run on holdout rows gives `control_rate`: what the synthetic data
/// reveal about people it was never trained on, i.e. generalisation rather than leakage.
/// `control_risk` is Anonymeter's own headline figure, `(attack_rate − control_rate) /
/// (1 − control_rate)`; the two agree when the attack learns nothing general.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskEstimate {
    /// The risk against the random baseline, in `[0, 1]`.
    pub risk: f64,
    /// Lower end of the 95 % interval of `risk`.
    pub ci_low: f64,
    /// Upper end of the 95 % interval of `risk`.
    pub ci_high: f64,
    /// Share of attacks on training rows that succeeded.
    pub attack_rate: f64,
    /// Share of random-guess attacks on training rows that succeeded.
    pub baseline_rate: f64,
    /// Share of the same attacks on holdout rows that succeeded.
    pub control_rate: f64,
    /// The risk against the control instead of the baseline, in `[0, 1]`.
    pub control_risk: f64,
    /// Attacks run on each of the three sides.
    pub attacks: usize,
    /// Attacks on training rows that succeeded.
    pub successes: usize,
}

impl RiskEstimate {
    /// The estimate from the success counts of `attacks` attacks on each side.
    pub fn from_counts(
        attacks: usize,
        successes: usize,
        baseline_successes: usize,
        control_successes: usize,
    ) -> Self {
        let rate = |count: usize| {
            if attacks == 0 {
                0.0
            } else {
                count.min(attacks) as f64 / attacks as f64
            }
        };
        let attack_rate = rate(successes);
        let baseline_rate = rate(baseline_successes);
        let control_rate = rate(control_successes);
        let (low, high) = wilson_interval(successes, attacks, Z_95);
        Self {
            risk: excess(attack_rate, baseline_rate),
            ci_low: excess(low, baseline_rate),
            ci_high: excess(high, baseline_rate),
            attack_rate,
            baseline_rate,
            control_rate,
            control_risk: excess(attack_rate, control_rate),
            attacks,
            successes,
        }
    }
}

/// `(rate − reference) / (1 − reference)` clipped to `[0, 1]`.
fn excess(rate: f64, reference: f64) -> f64 {
    if reference >= 1.0 {
        return 0.0;
    }
    ((rate - reference) / (1.0 - reference)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_by_hand() {
        // 8 of 10 attacks succeed, 2 of 10 random guesses, 4 of 10 on the control.
        let estimate = RiskEstimate::from_counts(10, 8, 2, 4);
        // (0.8 − 0.2) / 0.8 = 0.75; the interval [0.4902, 0.9433] gives
        // (0.4902 − 0.2) / 0.8 = 0.3628 and (0.9433 − 0.2) / 0.8 = 0.9291.
        assert!((estimate.risk - 0.75).abs() < 1e-12);
        assert!(
            (estimate.ci_low - 0.3628).abs() < 1e-4,
            "{}",
            estimate.ci_low
        );
        assert!(
            (estimate.ci_high - 0.9291).abs() < 1e-4,
            "{}",
            estimate.ci_high
        );
        // (0.8 − 0.4) / 0.6 = 2/3.
        assert!((estimate.control_risk - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((estimate.attacks, estimate.successes), (10, 8));
    }

    #[test]
    fn no_better_than_guessing_is_no_risk() {
        let estimate = RiskEstimate::from_counts(10, 1, 5, 1);
        assert_eq!(estimate.risk, 0.0);
        assert_eq!(estimate.ci_low, 0.0);
        assert_eq!(RiskEstimate::from_counts(4, 4, 4, 4).risk, 0.0);
        let none = RiskEstimate::from_counts(0, 0, 0, 0);
        assert_eq!((none.risk, none.ci_low, none.ci_high), (0.0, 0.0, 1.0));
    }
}
