//! The self-contained HTML report: one file, inline CSS and SVG, no external assets, so it
//! opens offline and can be mailed. The gate's verdict sits at the top; then one section
//! per pillar.
//!
//! A small inline script checks after load that every plot has a drawn size and records
//! the result in `<html data-rendered="…">`, which the browser test reads.

pub mod svg;

use std::fmt::Write;

use crate::gate::GateResult;
use crate::report::QualityReport;
use crate::visuals::{AssociationMatrices, ColumnDistribution};
use svg::escape;

/// One titled part of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Body, already HTML.
    pub html: String,
}

/// An HTML table; cells are escaped.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A score in [0, 1] as a small horizontal bar with its value.
pub fn score_bar(score: f64) -> String {
    let pct = (score.clamp(0.0, 1.0) * 100.0).round();
    format!(
        r#"<span class="score"><span class="fill" style="width:{pct}%"></span></span> {score:.3}"#
    )
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 24px; color: #1a202c; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e2e8f0; padding-bottom: 4px; }
.verdict { padding: 12px 16px; border-radius: 6px; font-weight: 600; margin: 12px 0; }
.verdict.pass { background: #e6fffa; border: 1px solid #38a169; }
.verdict.fail { background: #fff5f5; border: 1px solid #e53e3e; }
.verdict ul { font-weight: 400; margin: 6px 0 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border-bottom: 1px solid #edf2f7; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f7fafc; }
.score { display: inline-block; width: 120px; height: 10px; background: #edf2f7; border-radius: 3px; vertical-align: middle; }
.score .fill { display: block; height: 100%; background: #3182ce; border-radius: 3px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plot { background: #fff; border: 1px solid #edf2f7; border-radius: 4px; }
.plot-title { font-size: 12px; font-weight: 600; fill: #2d3748; }
.axis { font-size: 9px; fill: #4a5568; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
.muted { color: #718096; }
"#;

const CHECK_SCRIPT: &str = r#"
window.addEventListener('load', function () {
  var plots = document.querySelectorAll('svg.plot');
  var drawn = 0;
  plots.forEach(function (p) { var b = p.getBBox(); if (b.width > 0 && b.height > 0) { drawn++; } });
  document.documentElement.setAttribute('data-rendered', drawn + '/' + plots.length);
});
"#;

/// The whole page.
pub fn page(title: &str, subtitle: &str, gate: &GateResult, sections: &[Section]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\" data-rendered=\"pending\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    );
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"muted\">{}</p>",
        escape(title),
        escape(subtitle)
    );
    let (class, verdict) = if gate.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    let pillars: Vec<String> = gate
        .pillars_checked
        .iter()
        .map(ToString::to_string)
        .collect();
    let _ = write!(
        out,
        "<div class=\"verdict {class}\" id=\"gate\">Quality gate {verdict} <span class=\"muted\">(checked: {})</span>",
        escape(&pillars.join(", "))
    );
    if !gate.reasons.is_empty() {
        out.push_str("<ul>");
        for reason in &gate.reasons {
            let _ = write!(out, "<li>{}</li>", escape(reason));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    for section in sections {
        let _ = write!(
            out,
            "<section><h2>{}</h2>{}</section>",
            escape(&section.title),
            section.html
        );
    }
    let _ = write!(out, "<script>{CHECK_SCRIPT}</script></body></html>");
    out
}

/// The fidelity section: scores, per-column distributions and association heat maps.
pub fn fidelity_section(
    report: &QualityReport,
    distributions: &[ColumnDistribution],
    associations: &AssociationMatrices,
) -> Section {
    let mut html = String::new();
    let headline = vec![
        vec![
            "Overall (all pairs)".to_string(),
            format!("{:.3}", report.overall),
        ],
        vec![
            "Overall (associated pairs, SDMetrics ≥ 0.17 weighting)".to_string(),
            format!("{:.3}", report.overall_associated),
        ],
        vec![
            "Column shapes".to_string(),
            format!("{:.3}", report.column_shapes.score),
        ],
        vec![
            "Column pair trends".to_string(),
            format!("{:.3}", report.column_pair_trends.score),
        ],
        vec![
            "Diagnostic".to_string(),
            format!("{:.3}", report.diagnostic.score),
        ],
    ];
    html.push_str(&table(&["score", "value"], &headline));

    html.push_str("<h3>Column shapes</h3><table><thead><tr><th>column</th><th>metric</th><th>score</th></tr></thead><tbody>");
    for column in &report.column_shapes.columns {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td></tr>",
            escape(&column.column),
            column.metric,
            score_bar(column.score)
        );
    }
    html.push_str("</tbody></table>");

    let _ = write!(
        html,
        "<h3>Distributions</h3><p class=\"legend\"><span style=\"background:{}\"></span>real<span style=\"background:{}\"></span>synthetic</p><div class=\"plots\">",
        svg::REAL,
        svg::SYNTHETIC
    );
    for d in distributions {
        let labels: Vec<String> = d.bars.iter().map(|b| b.label.clone()).collect();
        let real: Vec<f64> = d.bars.iter().map(|b| b.real).collect();
        let synthetic: Vec<f64> = d.bars.iter().map(|b| b.synthetic).collect();
        html.push_str(&svg::grouped_bars(&d.column, &labels, &real, &synthetic));
    }
    html.push_str("</div>");

    html.push_str("<h3>Associations (Pearson ρ for number pairs, Cramér's V otherwise)</h3><div class=\"plots\">");
    html.push_str(&svg::heatmap(
        "real",
        &associations.columns,
        &associations.real,
        true,
    ));
    html.push_str(&svg::heatmap(
        "synthetic",
        &associations.columns,
        &associations.synthetic,
        true,
    ));
    html.push_str(&svg::heatmap(
        "|real − synthetic|",
        &associations.columns,
        &associations.difference(),
        false,
    ));
    html.push_str("</div>");

    let mut worst: Vec<_> = report.column_pair_trends.pairs.iter().collect();
    worst.sort_by(|a, b| a.score.total_cmp(&b.score));
    let rows: Vec<Vec<String>> = worst
        .iter()
        .take(10)
        .map(|p| {
            vec![
                format!("{} × {}", p.column_a, p.column_b),
                format!("{:?}", p.metric),
                format!("{:.3}", p.score),
                if p.is_associated() {
                    "yes".into()
                } else {
                    "no".into()
                },
            ]
        })
        .collect();
    html.push_str("<h3>Weakest column pairs</h3>");
    html.push_str(&table(
        &["pair", "metric", "score", "associated in the real data"],
        &rows,
    ));
    Section {
        title: "Fidelity".into(),
        html,
    }
}
