//! Text for people: the profile table and the synth summary.

use std::fmt::Write;

use mirage_core::schema::ColumnKind;
use mirage_core::{ColumnProfile, DatasetProfile, Schema};

use crate::synth::SynthSummary;

/// A number in a short, readable form.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 1e6 || (value != 0.0 && value.abs() < 1e-3) {
        format!("{value:.3e}")
    } else {
        format!("{value:.3}")
    }
}

/// A statistic of a column in its own units (datetimes in their source format).
fn statistic(kind: &ColumnKind, value: Option<f64>) -> String {
    match (kind, value) {
        (_, None) => String::new(),
        (ColumnKind::Datetime { format }, Some(ms)) => {
            chrono::DateTime::from_timestamp_millis(ms as i64)
                .map(|t| t.naive_utc().format(format).to_string())
                .unwrap_or_else(|| number(ms))
        }
        (_, Some(v)) => number(v),
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let kept: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

fn top_values(column: &ColumnProfile, total: u64) -> String {
    column
        .top_values
        .iter()
        .take(3)
        .map(|t| {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * t.count as f64 / total as f64
            };
            format!("{} {share:.0}%", clip(&t.value, 14))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The profile as an aligned table, then the PII findings.
pub fn profile(source: &str, schema: &Schema, profile: &DatasetProfile) -> String {
    let header = [
        "column",
        "kind",
        "nulls",
        "distinct",
        "min",
        "max",
        "mean",
        "std",
        "top values",
    ];
    let mut rows: Vec<[String; 9]> = Vec::new();
    for column in &profile.columns {
        let kind = schema
            .column(&column.name)
            .map(|c| c.kind.clone())
            .unwrap_or_else(|| column.kind.clone());
        let numeric = kind.is_numeric();
        rows.push([
            clip(&column.name, 24),
            kind.name().to_string(),
            format!("{:.1}%", 100.0 * column.null_rate),
            format!(
                "{}{}",
                column.cardinality,
                if column.cardinality_exact { "" } else { "+" }
            ),
            statistic(&kind, column.min),
            statistic(&kind, column.max),
            if numeric && !matches!(kind, ColumnKind::Datetime { .. }) {
                statistic(&kind, column.mean)
            } else {
                String::new()
            },
            if numeric && !matches!(kind, ColumnKind::Datetime { .. }) {
                statistic(&kind, column.std)
            } else {
                String::new()
            },
            if numeric {
                String::new()
            } else {
                top_values(column, column.count)
            },
        ]);
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let sample = if profile.sample_rate < 1.0 {
        format!(", profiled on a {:.0}% sample", 100.0 * profile.sample_rate)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{source}: {} rows × {} columns{sample}\n",
        profile.rows,
        profile.columns.len()
    );
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = w - cell.chars().count();
                // Numbers right-aligned, text left-aligned.
                if (2..=7).contains(&i) {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for row in &rows {
        let _ = writeln!(out, "{}", line(row));
    }
    let findings: Vec<String> = profile
        .columns
        .iter()
        .flat_map(|c| {
            c.pii.iter().map(move |f| {
                format!(
                    "  {:<24} {:<16} confidence {:.2}, {:.0}% of values match",
                    c.name,
                    f.kind.label(),
                    f.confidence,
                    100.0 * f.match_share
                )
            })
        })
        .collect();
    if findings.is_empty() {
        let _ = writeln!(out, "\nPII: none found");
    } else {
        let _ = writeln!(out, "\nPII findings (excluded from modelling unless kept):");
        for finding in findings {
            let _ = writeln!(out, "{finding}");
        }
    }
    out
}

/// The closing summary of `mirage synth`.
pub fn summary(summary: &SynthSummary) -> String {
    let mut out = String::new();
    let q = &summary.assessment.fidelity;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Synthesized {} rows × {} columns from {} ({} rows{}) with {} in {:.2} s",
        summary.rows_out,
        summary.columns_out,
        summary.source,
        summary.rows_in,
        if summary.rows_holdout > 0 {
            format!(", {} held out", summary.rows_holdout)
        } else {
            String::new()
        },
        summary.model,
        summary.total_seconds()
    );
    let _ = writeln!(
        out,
        "  model:    {} ({})",
        summary.model, summary.model_reason
    );
    if let Some(privacy) = &summary.privacy {
        let report = &privacy.report;
        let _ = writeln!(
            out,
            "  privacy:  ε = {:.4} by RDP (order {}){} at δ = {:e}; target ε = {}; tightest ε = {:.4}",
            report.epsilon_rdp,
            report.rdp_order,
            report
                .epsilon_prv
                .map_or(String::new(), |e| format!(", {e:.4} by PRV")),
            report.target.delta,
            report.target.epsilon,
            report.epsilon_tightest()
        );
        let _ = writeln!(
            out,
            "  budget:   dataset {} has spent ε = {:.4} of {} (δ {:e} of {:e}){}",
            privacy.dataset,
            privacy.committed.epsilon,
            privacy.budget.epsilon,
            privacy.committed.delta,
            privacy.budget.delta,
            if privacy.budget_created {
                " — budget created at the default; change it with `mirage budget set`"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "            the quality report below reads the real rows: it is for the data owner, outside the DP guarantee"
        );
    }
    let stages: Vec<String> = summary
        .stages
        .iter()
        .map(|(s, t)| format!("{s} {t:.2} s"))
        .collect();
    let _ = writeln!(out, "  stages:   {}", stages.join(" · "));
    if summary.pii.is_empty() {
        let _ = writeln!(out, "  PII:      none found");
    } else {
        let items: Vec<String> = summary
            .pii
            .iter()
            .map(|p| format!("{} ({}, {:?})", p.column, p.kind.label(), p.policy).to_lowercase())
            .collect();
        let _ = writeln!(out, "  PII:      {}", items.join(", "));
    }
    if summary.rows_assessed < summary.rows_out {
        let _ = writeln!(
            out,
            "  assessed: the first {} of {} rows (the rest streamed straight to the output)",
            summary.rows_assessed, summary.rows_out
        );
    }
    out.push_str(&quality(q));
    out.push_str(&assessment(&summary.assessment));
    let _ = writeln!(out, "  output:   {}", summary.out.display());
    let _ = writeln!(
        out,
        "  reports:  {} · {}",
        summary.reports.0.display(),
        summary.reports.1.display()
    );
    out
}

/// The gate, the other pillars' headline numbers and the urgent recommendations.
pub fn assessment(a: &mirage_quality::Assessment) -> String {
    let mut out = String::new();
    if let Some(d) = &a.detection {
        let _ = write!(out, "  utility:  detection AUC {:.3}", d.auc);
        if let Some(p) = a
            .utility
            .as_ref()
            .and_then(mirage_quality::UtilityReport::primary)
        {
            let _ = write!(
                out,
                " · {:?} TSTR {:.3} / TRTR {:.3}{}",
                p.metric,
                p.synthetic,
                p.real,
                p.ratio
                    .map(|r| format!(" (ratio {r:.3})"))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if let Some(p) = &a.privacy {
        let _ = writeln!(
            out,
            "  privacy:  closer-to-train {:.3} · identical {:.4} · membership AUC {:.3} · attack risks beyond control {:.3}/{:.3}/{:.3}",
            p.dcr.closer_to_train_share,
            p.dcr.identical_match_share,
            p.membership.auc,
            p.singling_out.control_risk,
            p.linkability.control_risk,
            p.attribute_inference.control_risk
        );
    }
    let pillars: Vec<String> = a
        .gate
        .pillars_checked
        .iter()
        .map(ToString::to_string)
        .collect();
    if a.gate.passed {
        let _ = writeln!(out, "  gate:     PASSED ({})", pillars.join(", "));
    } else {
        let _ = writeln!(out, "  gate:     FAILED ({})", pillars.join(", "));
        for reason in &a.gate.reasons {
            let _ = writeln!(out, "            - {reason}");
        }
    }
    for r in a
        .recommendations
        .iter()
        .filter(|r| r.severity >= mirage_quality::recommend::Severity::Warning)
        .take(5)
    {
        let _ = writeln!(out, "  advice:   {}", r.message);
    }
    out
}

/// The quality lines: the scores, the SDMetrics-weighted overall, the worst columns.
pub fn quality(q: &mirage_quality::QualityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  quality:  overall {:.3} · column shapes {:.3} · column pair trends {:.3} · diagnostic {:.3}",
        q.overall, q.column_shapes.score, q.column_pair_trends.score, q.diagnostic.score
    );
    let associated = q
        .column_pair_trends
        .pairs
        .iter()
        .filter(|p| p.is_associated())
        .count();
    let _ = writeln!(
        out,
        "            overall {:.3} with trends over the {associated} associated pairs only (SDMetrics ≥ 0.17 weighting)",
        q.overall_associated
    );
    let worst: Vec<String> = q
        .worst_columns(3)
        .iter()
        .map(|c| format!("{} {:.3}", c.column, c.score))
        .collect();
    let _ = writeln!(out, "  worst:    {}", worst.join(" · "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(15_000_000.5), "1.500e7");
        assert_eq!(number(15_000_000.0), "15000000");
        assert_eq!(clip("abcdefgh", 5), "abcd…");
    }

    #[test]
    fn datetimes_show_in_their_format() {
        let kind = ColumnKind::Datetime {
            format: "%Y-%m-%d".into(),
        };
        assert_eq!(statistic(&kind, Some(1_554_076_800_000.0)), "2019-04-01");
    }
}
