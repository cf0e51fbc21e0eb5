//! The full assessment of a synthetic table: fidelity, utility, privacy, the gate and the
//! recommendations, as one versioned JSON document and a self-contained HTML page.
//!
//! [`assess`] runs the pillars side by side (each is a pure function of the tables):
//! fidelity and the plot data always; detection always; utility when a target column is
//! named and a holdout is given; privacy when a holdout is given.

use mirage_core::Table;
use serde::{Deserialize, Serialize};

use crate::error::{QualityError, Result};
use crate::evaluate;
use crate::gate::{Bound, GateCheck, GateResult, GateThresholds, Pillar};
use crate::html::{self, Section, svg};
use crate::options::QualityOptions;
use crate::privacy::{
    PrivacyOptions, PrivacyReport, RiskEstimate, Z_95, evaluate_privacy, wilson_interval,
};
use crate::recommend::{self, Recommendation};
use crate::report::QualityReport;
use crate::utility::{
    DetectionOptions, DetectionReport, UtilityOptions, UtilityReport, detection, evaluate_utility,
};
use crate::visuals::{AssociationMatrices, ColumnDistribution, associations, distributions};

/// The version of the JSON layout. Fields are only ever added within a version.
pub const REPORT_VERSION: u32 = 1;

/// What to assess and how.
#[derive(Debug, Clone, Default)]
pub struct AssessmentOptions {
    /// Fidelity settings.
    pub fidelity: QualityOptions,
    /// The column utility predicts; no utility section without one.
    pub target: Option<String>,
    /// Utility settings other than the target.
    pub utility: UtilityOptions,
    /// Detection settings.
    pub detection: DetectionOptions,
    /// Privacy settings.
    pub privacy: PrivacyOptions,
    /// Gate thresholds.
    pub gate: GateThresholds,
}

/// Row counts of the three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentRows {
    /// Real rows the generator was trained on.
    pub train: usize,
    /// Real rows it never saw, if any.
    pub holdout: Option<usize>,
    /// Synthetic rows.
    pub synthetic: usize,
}

/// Everything known about one synthetic table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Layout version ([`REPORT_VERSION`]).
    pub version: u32,
    /// The Mirage version that computed it.
    pub mirage_version: String,
    /// Table sizes.
    pub rows: AssessmentRows,
    /// The gate's verdict.
    pub gate: GateResult,
    /// Advice, most urgent first.
    pub recommendations: Vec<Recommendation>,
    /// Column shapes, pair trends and diagnostic (synthetic against training rows).
    pub fidelity: QualityReport,
    /// Per-column distributions for plots.
    pub distributions: Vec<ColumnDistribution>,
    /// Association matrices for heat maps.
    pub associations: AssociationMatrices,
    /// Real-versus-synthetic classifier.
    pub detection: Option<DetectionReport>,
    /// Train-synthetic-test-real, when a target and a holdout were given.
    pub utility: Option<UtilityReport>,
    /// Privacy risk, when a holdout was given.
    pub privacy: Option<PrivacyReport>,
}

/// Runs every pillar that the inputs allow.
pub fn assess(
    train: &Table,
    holdout: Option<&Table>,
    synthetic: &Table,
    options: &AssessmentOptions,
) -> Result<Assessment> {
    options.gate.validate()?;
    let utility_options = options.target.as_ref().map(|target| UtilityOptions {
        target: target.clone(),
        ..options.utility.clone()
    });
    if utility_options.is_some() && holdout.is_none() {
        return Err(QualityError::InvalidOptions {
            message: "utility needs a real holdout the generator never saw: give --holdout (or a holdout \
                      share to mirage synth) together with --target"
                .into(),
        });
    }
    let (fidelity, plots, detection_report, utility, privacy) = std::thread::scope(|scope| {
        let fidelity = scope.spawn(|| evaluate(train, synthetic, &options.fidelity));
        let plots = scope.spawn(|| -> Result<_> {
            Ok((
                distributions(train, synthetic, 20, 12)?,
                associations(
                    train,
                    synthetic,
                    options.fidelity.bins,
                    options.fidelity.max_rows,
                )?,
            ))
        });
        let detected = scope.spawn(|| detection(train, synthetic, &options.detection));
        let utility = scope.spawn(|| match (&utility_options, holdout) {
            (Some(o), Some(h)) => evaluate_utility(train, h, synthetic, o).map(Some),
            _ => Ok(None),
        });
        let privacy = holdout.map(|h| evaluate_privacy(train, h, synthetic, &options.privacy));
        let join = |name: &str| QualityError::InvalidOptions {
            message: format!("the {name} computation crashed"),
        };
        (
            fidelity.join().map_err(|_| join("fidelity")),
            plots.join().map_err(|_| join("plot")),
            detected.join().map_err(|_| join("detection")),
            utility.join().map_err(|_| join("utility")),
            privacy,
        )
    });
    let fidelity = fidelity??;
    let (distributions, associations) = plots??;
    let detection_report = Some(detection_report??);
    let utility = utility??;
    let privacy = privacy.transpose()?;

    let gate = GateResult::from_checks(gate_checks(
        &fidelity,
        detection_report.as_ref(),
        utility.as_ref(),
        privacy.as_ref(),
        &options.gate,
    ));
    let mut recommendations = recommend::fidelity(&fidelity, &options.gate);
    recommendations.extend(recommend::utility(
        utility.as_ref(),
        detection_report.as_ref(),
        &options.gate,
    ));
    if let Some(privacy) = &privacy {
        recommendations.extend(recommend::privacy(privacy, &options.gate));
    }
    recommendations.sort_by_key(|r| std::cmp::Reverse(r.severity));
    Ok(Assessment {
        version: REPORT_VERSION,
        mirage_version: env!("CARGO_PKG_VERSION").to_string(),
        rows: AssessmentRows {
            train: train.num_rows(),
            holdout: holdout.map(Table::num_rows),
            synthetic: synthetic.num_rows(),
        },
        gate,
        recommendations,
        fidelity,
        distributions,
        associations,
        detection: detection_report,
        utility,
        privacy,
    })
}

/// Every gate check the available reports allow.
pub fn gate_checks(
    fidelity: &QualityReport,
    detection: Option<&DetectionReport>,
    utility: Option<&UtilityReport>,
    privacy: Option<&PrivacyReport>,
    t: &GateThresholds,
) -> Vec<GateCheck> {
    let mut checks = vec![
        GateCheck::new(
            Pillar::Fidelity,
            "overall",
            fidelity.overall,
            t.min_overall,
            Bound::AtLeast,
        ),
        GateCheck::new(
            Pillar::Fidelity,
            "diagnostic",
            fidelity.diagnostic.score,
            t.min_diagnostic,
            Bound::AtLeast,
        ),
    ];
    if let Some(ratio) = utility
        .and_then(UtilityReport::primary)
        .and_then(|p| p.ratio)
    {
        checks.push(GateCheck::new(
            Pillar::Utility,
            "utility_ratio",
            ratio,
            t.min_utility_ratio,
            Bound::AtLeast,
        ));
    }
    if let Some(detection) = detection {
        checks.push(GateCheck::new(
            Pillar::Utility,
            "detection_auc",
            detection.auc,
            t.max_detection_auc,
            Bound::AtMost,
        ));
    }
    if let Some(p) = privacy {
        checks.extend([
            GateCheck::new(
                Pillar::Privacy,
                "identical_match_share",
                p.dcr.identical_match_share,
                t.max_identical_match_share,
                Bound::AtMost,
            ),
            GateCheck::new(
                Pillar::Privacy,
                "closer_to_train_share",
                p.dcr.closer_to_train_share,
                t.max_closer_to_train_share,
                Bound::AtMost,
            ),
            GateCheck::new(
                Pillar::Privacy,
                "membership_auc",
                p.membership.auc,
                t.max_membership_auc,
                Bound::AtMost,
            ),
            // The gate uses the risk against the control (holdout rows): what an attack learns
            // about training rows beyond what it learns about anyone. The risk against the
            // random baseline is reported too, but high utility alone raises it.
            GateCheck::new(
                Pillar::Privacy,
                "singling_out_risk",
                significant_risk(&p.singling_out),
                t.max_attack_risk,
                Bound::AtMost,
            ),
            GateCheck::new(
                Pillar::Privacy,
                "linkability_risk",
                significant_risk(&p.linkability),
                t.max_attack_risk,
                Bound::AtMost,
            ),
            GateCheck::new(
                Pillar::Privacy,
                "attribute_inference_risk",
                significant_risk(&p.attribute_inference),
                t.max_attack_risk,
                Bound::AtMost,
            ),
        ]);
    }
    checks
}

/// The lower end of the 95 % interval of an attack's risk against the control:
/// `(a − c) / (1 − c)` with `a` the Wilson lower bound of the attack's success rate on
/// training rows and `c` its rate on holdout rows. With a few hundred attacks the point
/// estimate wanders by ±0.05 on data that leaks nothing; the gate fails only on an excess
/// that the attacks establish.
pub fn significant_risk(risk: &RiskEstimate) -> f64 {
    let (low, _) = wilson_interval(risk.successes, risk.attacks, Z_95);
    if risk.control_rate >= 1.0 {
        return 0.0;
    }
    ((low - risk.control_rate) / (1.0 - risk.control_rate)).clamp(0.0, 1.0)
}

impl Assessment {
    /// Puts `message` first among the recommendations, as information on fidelity (how
    /// the rows were compared, say).
    pub fn note_first(&mut self, message: String) {
        self.recommendations.insert(
            0,
            crate::recommend::Recommendation {
                pillar: crate::gate::Pillar::Fidelity,
                severity: crate::recommend::Severity::Info,
                message,
            },
        );
    }

    /// The report as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": {e:?}}}"))
    }

    /// A report read back from JSON; refuses layouts of another version.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(REPORT_VERSION)) {
            return Err(QualityError::InvalidOptions {
                message: format!(
                    "report version {version:?} is not {REPORT_VERSION}; recompute it with this Mirage"
                ),
            });
        }
        Ok(serde_json::from_value(value)?)
    }

    /// The self-contained HTML page.
    pub fn to_html(&self, title: &str) -> String {
        let subtitle = format!(
            "{} training rows{}, {} synthetic rows · report v{} · Mirage {}",
            self.rows.train,
            self.rows
                .holdout
                .map(|h| format!(", {h} holdout rows"))
                .unwrap_or_default(),
            self.rows.synthetic,
            self.version,
            self.mirage_version
        );
        let mut sections = vec![recommendations_section(&self.recommendations)];
        sections.push(html::fidelity_section(
            &self.fidelity,
            &self.distributions,
            &self.associations,
        ));
        sections.push(utility_section(
            self.utility.as_ref(),
            self.detection.as_ref(),
        ));
        sections.push(privacy_section(self.privacy.as_ref()));
        html::page(title, &subtitle, &self.gate, &sections)
    }
}

fn recommendations_section(recommendations: &[Recommendation]) -> Section {
    let rows: Vec<Vec<String>> = recommendations
        .iter()
        .map(|r| {
            vec![
                format!("{:?}", r.severity).to_lowercase(),
                r.pillar.to_string(),
                r.message.clone(),
            ]
        })
        .collect();
    Section {
        title: "Recommendations".into(),
        html: html::table(&["severity", "pillar", "recommendation"], &rows),
    }
}

fn utility_section(
    utility: Option<&UtilityReport>,
    detection: Option<&DetectionReport>,
) -> Section {
    let mut body = String::new();
    if let Some(d) = detection {
        body.push_str(&html::table(
            &["detection", "value"],
            &[
                vec![
                    "ROC-AUC real vs synthetic (0.5 ideal)".into(),
                    format!("{:.3}", d.auc),
                ],
                vec![
                    "score (1 − 2·|AUC − 0.5|)".into(),
                    format!("{:.3}", d.score),
                ],
                vec![
                    "rows (real / synthetic)".into(),
                    format!("{} / {}", d.real_rows, d.synthetic_rows),
                ],
            ],
        ));
    }
    match utility {
        Some(u) => {
            body.push_str(&format!(
                "<p>Target <b>{}</b> ({:?}); models trained on real training rows (TRTR) and on synthetic rows (TSTR), both tested on the real holdout.</p>",
                svg::escape(&u.target),
                u.task
            ));
            let rows: Vec<Vec<String>> = u
                .models
                .iter()
                .flat_map(|m| {
                    m.metrics.iter().map(move |c| {
                        vec![
                            format!("{:?}", m.model),
                            format!("{:?}", c.metric),
                            format!("{:.4}", c.real),
                            format!("{:.4}", c.synthetic),
                            c.ratio
                                .map(|r| format!("{r:.3}"))
                                .unwrap_or_else(|| "–".into()),
                        ]
                    })
                })
                .collect();
            body.push_str(&html::table(
                &["model", "metric", "TRTR", "TSTR", "ratio"],
                &rows,
            ));
            let importances = &u.feature_importance;
            body.push_str(&format!(
                "<p>Feature-importance agreement (Spearman): {}</p>",
                importances
                    .spearman
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or_else(|| "–".into())
            ));
            let labels: Vec<String> = importances
                .features
                .iter()
                .map(|f| f.feature.clone())
                .collect();
            let real: Vec<f64> = importances.features.iter().map(|f| f.real).collect();
            let synthetic: Vec<f64> = importances.features.iter().map(|f| f.synthetic).collect();
            body.push_str(&svg::grouped_bars(
                "feature importance (share of gain)",
                &labels,
                &real,
                &synthetic,
            ));
        }
        None => body.push_str(
            "<p class=\"muted\">No utility section: name a target column and give a holdout.</p>",
        ),
    }
    Section {
        title: "Utility".into(),
        html: body,
    }
}

fn privacy_section(privacy: Option<&PrivacyReport>) -> Section {
    let Some(p) = privacy else {
        return Section {
            title: "Privacy".into(),
            html: "<p class=\"muted\">No privacy section: give a real holdout the generator never saw.</p>".into(),
        };
    };
    let d = &p.dcr;
    let mut body = html::table(
        &["metric", "value", "healthy"],
        &[
            vec![
                "synthetic rows closer to train than to holdout".into(),
                format!("{:.3}", d.closer_to_train_share),
                "≈ 0.5".into(),
            ],
            vec![
                "identical-match share".into(),
                format!("{:.4}", d.identical_match_share),
                "≈ 0".into(),
            ],
            vec![
                "DCR synthetic→train: median / 5th pct".into(),
                format!(
                    "{:.4} / {:.4}",
                    d.synthetic_to_train.median, d.synthetic_to_train.p5
                ),
                "like holdout→train".into(),
            ],
            vec![
                "DCR holdout→train: median / 5th pct".into(),
                format!(
                    "{:.4} / {:.4}",
                    d.holdout_to_train.median, d.holdout_to_train.p5
                ),
                "reference".into(),
            ],
            vec![
                "NNDR: 10th percentile / median".into(),
                format!("{:.4} / {:.4}", d.nndr.p10, d.nndr.median),
                "not near 0".into(),
            ],
            vec![
                "membership-inference AUC".into(),
                format!("{:.3}", p.membership.auc),
                "≈ 0.5".into(),
            ],
        ],
    );
    let risks: Vec<Vec<String>> = [
        ("singling out", &p.singling_out),
        ("linkability", &p.linkability),
        ("attribute inference", &p.attribute_inference),
    ]
    .iter()
    .map(|(name, r)| {
        vec![
            (*name).to_string(),
            format!("{:.3}", r.risk),
            format!("{:.3}–{:.3}", r.ci_low, r.ci_high),
            format!("{:.3}", r.attack_rate),
            format!("{:.3}", r.baseline_rate),
            format!("{:.3}", r.control_rate),
            format!("{:.3}", r.control_risk),
            format!("{:.3}", significant_risk(r)),
        ]
    })
    .collect();
    body.push_str(&html::table(
        &[
            "attack",
            "risk vs baseline",
            "95% interval",
            "attack rate",
            "baseline rate",
            "control rate",
            "risk vs control (gated)",
        ],
        &risks,
    ));
    let bins = d.synthetic_to_train.histogram.len().max(1);
    let labels: Vec<String> = (0..bins)
        .map(|b| format!("{:.2}", b as f64 / bins as f64))
        .collect();
    let shares = |h: &[usize]| {
        let total: usize = h.iter().sum();
        h.iter()
            .map(|&c| {
                if total == 0 {
                    0.0
                } else {
                    c as f64 / total as f64
                }
            })
            .collect::<Vec<f64>>()
    };
    body.push_str(&format!(
        "<p class=\"legend\">Distance to the closest training row: <span style=\"background:{}\"></span>holdout rows<span style=\"background:{}\"></span>synthetic rows</p>",
        svg::REAL,
        svg::SYNTHETIC
    ));
    body.push_str(&svg::grouped_bars(
        "distance to closest training record",
        &labels,
        &shares(&d.holdout_to_train.histogram),
        &shares(&d.synthetic_to_train.histogram),
    ));
    Section {
        title: "Privacy".into(),
        html: body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(successes: usize, attacks: usize, control_rate: f64) -> RiskEstimate {
        RiskEstimate {
            risk: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
            attack_rate: successes as f64 / attacks as f64,
            baseline_rate: 0.0,
            control_rate,
            control_risk: 0.0,
            attacks,
            successes,
        }
    }

    #[test]
    fn significant_risk_uses_the_wilson_lower_bound() {
        // 8 of 10 at 95 %: Wilson lower bound 0.4902; control 0.2 → (0.4902 − 0.2) / 0.8.
        let r = significant_risk(&risk(8, 10, 0.2));
        assert!((r - (0.490_19 - 0.2) / 0.8).abs() < 1e-4, "{r}");
        // An attack no better than the control is no risk, whatever the noise.
        assert_eq!(significant_risk(&risk(330, 500, 0.69)), 0.0);
        assert_eq!(significant_risk(&risk(5, 5, 1.0)), 0.0);
    }
}
