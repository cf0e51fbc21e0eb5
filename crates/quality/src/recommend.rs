//! Recommendations in plain words, each tied to the number that prompted it.

use serde::{Deserialize, Serialize};

use crate::gate::{GateThresholds, Pillar};
use crate::privacy::PrivacyReport;
use crate::report::QualityReport;
use crate::shapes::ShapeMetric;
use crate::utility::{DetectionReport, UtilityReport};

/// How urgent a recommendation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth fixing before release.
    Warning,
    /// Blocks a release.
    Critical,
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The pillar it concerns.
    pub pillar: Pillar,
    /// How urgent it is.
    pub severity: Severity,
    /// What the numbers say and what to try.
    pub message: String,
}

fn say(pillar: Pillar, severity: Severity, message: String) -> Recommendation {
    Recommendation {
        pillar,
        severity,
        message,
    }
}

/// Advice from the fidelity report: the worst columns and pairs, and values out of range.
pub fn fidelity(report: &QualityReport, thresholds: &GateThresholds) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let weak: Vec<_> = report
        .worst_columns(3)
        .into_iter()
        .filter(|c| c.score < 0.95)
        .collect();
    for column in &weak {
        let advice = match column.metric {
            ShapeMetric::KsComplement => {
                "its numeric distribution differs: try empirical marginals \
                 (--config '{\"marginals\":\"empirical\"}') or a deep model, and check for \
                 outliers or mixed units in the source"
            }
            ShapeMetric::TvComplement => {
                "its category frequencies differ: check for many rare categories (pool them) \
                 or categories that only occur together with others"
            }
        };
        out.push(say(
            Pillar::Fidelity,
            if column.score < 0.8 {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!(
                "column {:?} scores {:.3} ({:?}); {advice}",
                column.column, column.score, column.metric
            ),
        ));
    }
    let mut pairs: Vec<_> = report
        .column_pair_trends
        .pairs
        .iter()
        .filter(|p| p.is_associated() && p.score < 0.85)
        .collect();
    pairs.sort_by(|a, b| a.score.total_cmp(&b.score));
    for pair in pairs.iter().take(3) {
        out.push(say(
            Pillar::Fidelity,
            Severity::Warning,
            format!(
                "the relation between {:?} and {:?} is weaker in the synthetic data (pair score {:.3}); \
                 a Gaussian copula keeps only monotone dependence, a deep model (TabularARGN, CTGAN) \
                 keeps non-linear and interacting ones",
                pair.column_a, pair.column_b, pair.score
            ),
        ));
    }
    for check in report.diagnostic.checks.iter().filter(|c| c.score < 1.0) {
        out.push(say(
            Pillar::Fidelity,
            Severity::Warning,
            format!(
                "{:?} on column {:?} is {:.3}: {:.1}% of synthetic values fail it; enforce bounds \
                 or the category set when generating",
                check.check,
                check.column,
                check.score,
                100.0 * (1.0 - check.score)
            ),
        ));
    }
    if report.overall < thresholds.min_overall {
        out.push(say(
            Pillar::Fidelity,
            Severity::Critical,
            format!(
                "overall quality {:.3} is below the gate's {:.3}: the synthetic data does not yet look \
                 like the real data; see the weakest columns and pairs above",
                report.overall, thresholds.min_overall
            ),
        ));
    }
    if out.is_empty() {
        out.push(say(
            Pillar::Fidelity,
            Severity::Info,
            format!(
                "fidelity is high (overall {:.3}, every column shape ≥ 0.95): nothing to change",
                report.overall
            ),
        ));
    }
    out
}

/// Advice from the utility and detection reports.
pub fn utility(
    utility: Option<&UtilityReport>,
    detection: Option<&DetectionReport>,
    thresholds: &GateThresholds,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    if let Some(primary) = utility.and_then(UtilityReport::primary)
        && let Some(ratio) = primary.ratio
        && let Some(report) = utility
    {
        let severity = if ratio < thresholds.min_utility_ratio {
            Severity::Critical
        } else {
            Severity::Info
        };
        out.push(say(
            Pillar::Utility,
            severity,
            format!(
                "a model trained on synthetic rows reaches {:.3} {:?} on real holdout rows for {:?}, \
                 {:.0}% of the {:.3} a model trained on real rows reaches{}",
                primary.synthetic,
                primary.metric,
                report.target,
                100.0 * ratio,
                primary.real,
                if severity == Severity::Critical {
                    "; train longer, use a stronger model, or condition on the target so its \
                     relations with the other columns are learned directly"
                } else {
                    ""
                }
            ),
        ));
        if let Some(spearman) = report.feature_importance.spearman
            && spearman < 0.7
        {
            out.push(say(
                Pillar::Utility,
                Severity::Warning,
                format!(
                    "the synthetic-trained model ranks features differently (Spearman {spearman:.2} with \
                     the real-trained one): conclusions about which features matter may not carry over"
                ),
            ));
        }
    }
    if let Some(detection) = detection {
        let severity = if detection.auc > thresholds.max_detection_auc {
            Severity::Critical
        } else if detection.auc > 0.75 {
            Severity::Warning
        } else {
            Severity::Info
        };
        out.push(say(
            Pillar::Utility,
            severity,
            format!(
                "a classifier tells synthetic from real rows with AUC {:.3} (0.5 = indistinguishable){}",
                detection.auc,
                if severity == Severity::Info {
                    ""
                } else {
                    "; the weakest columns and pairs in the fidelity section are what gives them away"
                }
            ),
        ));
    }
    out
}

/// Advice from the privacy report.
pub fn privacy(report: &PrivacyReport, thresholds: &GateThresholds) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let dcr = &report.dcr;
    if dcr.identical_match_share > thresholds.max_identical_match_share {
        out.push(say(
            Pillar::Privacy,
            Severity::Critical,
            format!(
                "{:.1}% of synthetic rows are exact copies of training rows: the model memorises; \
                 train fewer epochs, train with differential privacy, or drop exact copies before release",
                100.0 * dcr.identical_match_share
            ),
        ));
    }
    if dcr.closer_to_train_share > 0.55 {
        out.push(say(
            Pillar::Privacy,
            if dcr.closer_to_train_share > thresholds.max_closer_to_train_share {
                Severity::Critical
            } else {
                Severity::Warning
            },
            format!(
                "{:.0}% of synthetic rows sit closer to a training row than to a holdout row (about 50% \
                 is healthy): the model leans towards the rows it saw; use fewer epochs or DP training",
                100.0 * dcr.closer_to_train_share
            ),
        ));
    }
    if report.membership.auc > thresholds.max_membership_auc {
        out.push(say(
            Pillar::Privacy,
            Severity::Critical,
            format!(
                "a membership-inference attack tells training rows from others with AUC {:.3}: \
                 people in the source can be shown to be in it; train with differential privacy",
                report.membership.auc
            ),
        ));
    }
    for (name, risk) in [
        ("singling out", &report.singling_out),
        ("linkability", &report.linkability),
        ("attribute inference", &report.attribute_inference),
    ] {
        if crate::assessment::significant_risk(risk) > thresholds.max_attack_risk {
            out.push(say(
                Pillar::Privacy,
                Severity::Critical,
                format!(
                    "{name} succeeds on {:.1}% of training rows but on {:.1}% of holdout rows (risk {:.3} \
                     beyond what the data reveals about anyone): suppress rare categories and cap \
                     outliers, or train with differential privacy",
                    100.0 * risk.attack_rate,
                    100.0 * risk.control_rate,
                    risk.control_risk
                ),
            ));
        } else if risk.risk > thresholds.max_attack_risk {
            out.push(say(
                Pillar::Privacy,
                Severity::Info,
                format!(
                    "{name} beats random guessing (risk {:.3} against the baseline) but works as well on \
                     people outside the training data ({:.1}% vs {:.1}%): the data generalises rather than leaks",
                    risk.risk,
                    100.0 * risk.attack_rate,
                    100.0 * risk.control_rate
                ),
            ));
        }
    }
    if out.is_empty() {
        out.push(say(
            Pillar::Privacy,
            Severity::Info,
            format!(
                "no sign of leakage: {:.0}% of synthetic rows are closer to training than holdout rows, \
                 membership AUC {:.3}, attack risks beyond the control at most {:.3}",
                100.0 * dcr.closer_to_train_share,
                report.membership.auc,
                report
                    .singling_out
                    .control_risk
                    .max(report.linkability.control_risk)
                    .max(report.attribute_inference.control_risk)
            ),
        ));
    }
    out
}
