//! The release gate: thresholds per pillar (fidelity, utility, privacy) and the pass/fail
//! verdict with its reasons.

use serde::{Deserialize, Serialize};

use crate::error::{QualityError, Result};

/// The three things a release must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pillar {
    /// It looks like the real data.
    Fidelity,
    /// It works like the real data.
    Utility,
    /// It does not give away the real people.
    Privacy,
}

impl std::fmt::Display for Pillar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pillar::Fidelity => "fidelity",
            Pillar::Utility => "utility",
            Pillar::Privacy => "privacy",
        })
    }
}

/// Which side of the threshold passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// `value ≥ threshold` passes.
    AtLeast,
    /// `value ≤ threshold` passes.
    AtMost,
}

/// Thresholds of the gate. Defaults are deliberately moderate: they stop releases that are
/// clearly broken or clearly leaking, and a team tightens them for its own data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateThresholds {
    /// Fidelity: the overall quality score (all pairs).
    pub min_overall: f64,
    /// Fidelity: the diagnostic (values in range, categories known, keys unique).
    pub min_diagnostic: f64,
    /// Utility: TSTR / TRTR of the main metric (ROC-AUC or R²) of gradient boosting.
    pub min_utility_ratio: f64,
    /// Utility: cross-validated AUC of a classifier separating real from synthetic rows.
    pub max_detection_auc: f64,
    /// Privacy: synthetic rows identical to a training row.
    pub max_identical_match_share: f64,
    /// Privacy: synthetic rows closer to the training rows than to the holdout rows.
    pub max_closer_to_train_share: f64,
    /// Privacy: AUC of the membership-inference attack.
    pub max_membership_auc: f64,
    /// Privacy: each Anonymeter-style risk (singling out, linkability, attribute inference).
    pub max_attack_risk: f64,
}

impl Default for GateThresholds {
    fn default() -> Self {
        Self {
            min_overall: 0.80,
            min_diagnostic: 0.95,
            min_utility_ratio: 0.85,
            max_detection_auc: 0.95,
            max_identical_match_share: 0.01,
            max_closer_to_train_share: 0.60,
            max_membership_auc: 0.60,
            max_attack_risk: 0.10,
        }
    }
}

impl GateThresholds {
    /// Every threshold must lie in [0, 1.5] (ratios may exceed 1).
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("min_overall", self.min_overall),
            ("min_diagnostic", self.min_diagnostic),
            ("min_utility_ratio", self.min_utility_ratio),
            ("max_detection_auc", self.max_detection_auc),
            ("max_identical_match_share", self.max_identical_match_share),
            ("max_closer_to_train_share", self.max_closer_to_train_share),
            ("max_membership_auc", self.max_membership_auc),
            ("max_attack_risk", self.max_attack_risk),
        ];
        for (name, value) in fields {
            if !(0.0..=1.5).contains(&value) || value.is_nan() {
                return Err(QualityError::InvalidOptions {
                    message: format!("gate threshold {name} = {value} must lie within [0, 1.5]"),
                });
            }
        }
        Ok(())
    }
}

/// One comparison of a measured value with its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    /// The pillar it belongs to.
    pub pillar: Pillar,
    /// What was measured (stable snake_case name).
    pub metric: String,
    /// The measured value.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// Which side passes.
    pub bound: Bound,
    /// Whether it passed.
    pub passed: bool,
}

impl GateCheck {
    /// A check of `value` against `threshold`.
    pub fn new(pillar: Pillar, metric: &str, value: f64, threshold: f64, bound: Bound) -> Self {
        let passed = match bound {
            Bound::AtLeast => value >= threshold,
            Bound::AtMost => value <= threshold,
        };
        Self {
            pillar,
            metric: metric.to_string(),
            value,
            threshold,
            bound,
            passed,
        }
    }

    /// The check in words, e.g. `privacy: membership_auc 0.72 is above the limit 0.60`.
    pub fn describe(&self) -> String {
        let relation = match (self.bound, self.passed) {
            (Bound::AtLeast, true) => "meets the minimum",
            (Bound::AtLeast, false) => "is below the minimum",
            (Bound::AtMost, true) => "is within the limit",
            (Bound::AtMost, false) => "is above the limit",
        };
        format!(
            "{}: {} {:.3} {relation} {:.3}",
            self.pillar, self.metric, self.value, self.threshold
        )
    }
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// Whether every check passed.
    pub passed: bool,
    /// The pillars that were checked (a pillar without data is not checked).
    pub pillars_checked: Vec<Pillar>,
    /// Every check.
    pub checks: Vec<GateCheck>,
    /// The failed checks in words; empty when the gate passed.
    pub reasons: Vec<String>,
}

impl GateResult {
    /// The verdict over these checks.
    pub fn from_checks(checks: Vec<GateCheck>) -> Self {
        let mut pillars_checked: Vec<Pillar> = Vec::new();
        for check in &checks {
            if !pillars_checked.contains(&check.pillar) {
                pillars_checked.push(check.pillar);
            }
        }
        let reasons: Vec<String> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(GateCheck::describe)
            .collect();
        Self {
            passed: reasons.is_empty(),
            pillars_checked,
            checks,
            reasons,
        }
    }

    /// Whether the checks of one pillar all passed (`None` when it was not checked).
    pub fn pillar_passed(&self, pillar: Pillar) -> Option<bool> {
        let mut checks = self.checks.iter().filter(|c| c.pillar == pillar).peekable();
        checks.peek()?;
        Some(checks.all(|c| c.passed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_pass_on_the_right_side_and_fail_with_reasons() {
        let checks = vec![
            GateCheck::new(Pillar::Fidelity, "overall", 0.9, 0.8, Bound::AtLeast),
            GateCheck::new(Pillar::Privacy, "membership_auc", 0.72, 0.6, Bound::AtMost),
            GateCheck::new(
                Pillar::Privacy,
                "closer_to_train_share",
                0.6,
                0.6,
                Bound::AtMost,
            ),
        ];
        let result = GateResult::from_checks(checks);
        assert!(!result.passed);
        assert_eq!(
            result.pillars_checked,
            vec![Pillar::Fidelity, Pillar::Privacy]
        );
        assert_eq!(
            result.reasons,
            vec!["privacy: membership_auc 0.720 is above the limit 0.600"]
        );
        assert_eq!(result.pillar_passed(Pillar::Fidelity), Some(true));
        assert_eq!(result.pillar_passed(Pillar::Privacy), Some(false));
        assert_eq!(result.pillar_passed(Pillar::Utility), None);
    }

    #[test]
    fn thresholds_are_validated_by_name() {
        let bad = GateThresholds {
            max_membership_auc: -0.1,
            ..GateThresholds::default()
        };
        let err = bad.validate().expect_err("negative");
        assert!(err.to_string().contains("max_membership_auc"), "{err}");
        GateThresholds::default()
            .validate()
            .expect("defaults are valid");
    }
}
