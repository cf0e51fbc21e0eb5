//! The quality report: the three properties, the columns left out, and how to read them.

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::error::Result;
use crate::shapes::{ColumnShapeScore, ColumnShapes};
use crate::trends::ColumnPairTrends;

/// Why a real column was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The synthetic table has no column of that name.
    MissingFromSynthetic,
    /// A key: its values are meant to differ, so only its uniqueness is checked.
    Identifier,
    /// Free text: neither a distribution of numbers nor of categories.
    Text,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::MissingFromSynthetic => "missing from the synthetic table",
            SkipReason::Identifier => "identifier: checked for key uniqueness only",
            SkipReason::Text => "free text: not scored",
        })
    }
}

/// A real column left out of shapes and trends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedColumn {
    /// The column.
    pub column: String,
    /// Why.
    pub reason: SkipReason,
}

/// How well a synthetic table reproduces a real one, scored as SDMetrics' single-table
/// QualityReport scores it. Every score lies in `[0, 1]`, 1 being a perfect match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Mean of the Column Shapes and Column Pair Trends scores (the shapes score alone when
    /// there are no pairs).
    pub overall: f64,
    /// The overall score as SDMetrics ≥ 0.17 weighs it: Column Pair Trends averaged over
    /// the pairs with a trend in the real data only (|ρ| > 0.5, Cramér's V > 0.3), which
    /// are the hard ones. Compare published SDMetrics figures with this number.
    #[serde(default)]
    pub overall_associated: f64,
    /// Marginal distributions, column by column.
    pub column_shapes: ColumnShapes,
    /// Relations between pairs of columns.
    pub column_pair_trends: ColumnPairTrends,
    /// Validity checks; not part of `overall`.
    pub diagnostic: Diagnostic,
    /// Real columns that were not scored.
    pub skipped: Vec<SkippedColumn>,
    /// Rows of the real table.
    pub real_rows: usize,
    /// Rows of the synthetic table.
    pub synthetic_rows: usize,
}

impl QualityReport {
    /// The `n` columns with the lowest shape scores, worst first (ties keep schema order).
    pub fn worst_columns(&self, n: usize) -> Vec<&ColumnShapeScore> {
        let mut columns: Vec<&ColumnShapeScore> = self.column_shapes.columns.iter().collect();
        columns.sort_by(|a, b| a.score.total_cmp(&b.score));
        columns.truncate(n);
        columns
    }

    /// The report as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        // Only strings, numbers, options and vectors: serialisation cannot fail (non-finite
        // floats, which never occur here, would become `null`).
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
    }

    /// A report read back from [`to_json_pretty`](Self::to_json_pretty)'s output.
    pub fn from_json(json: &str) -> Result<Self> {
        Ok(serde_json::from_str(json)?)
    }
}

/// The arithmetic mean, `None` for no values.
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (count, sum) = values.fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{DiagnosticCheck, DiagnosticCheckKind};
    use crate::shapes::ShapeMetric;
    use crate::trends::{PairMetric, PairTrendScore};
    use mirage_core::ColumnKind;

    fn shape(column: &str, score: f64) -> ColumnShapeScore {
        ColumnShapeScore {
            column: column.into(),
            kind: ColumnKind::Datetime {
                format: "%Y".into(),
            },
            metric: ShapeMetric::KsComplement,
            score,
        }
    }

    fn report() -> QualityReport {
        QualityReport {
            overall: 0.8,
            overall_associated: 0.75,
            column_shapes: ColumnShapes {
                score: 0.7,
                columns: vec![
                    shape("a", 0.9),
                    shape("b", 0.4),
                    shape("c", 0.8),
                    shape("d", 0.4),
                ],
            },
            column_pair_trends: ColumnPairTrends {
                score: 0.9,
                associated_score: Some(0.9),
                pairs: vec![PairTrendScore {
                    column_a: "a".into(),
                    column_b: "b".into(),
                    metric: PairMetric::CorrelationSimilarity,
                    score: 0.9,
                    real_correlation: Some(0.5),
                    synthetic_correlation: Some(0.3),
                    real_association: None,
                }],
            },
            diagnostic: Diagnostic {
                score: 1.0,
                checks: vec![DiagnosticCheck {
                    column: "a".into(),
                    check: DiagnosticCheckKind::BoundaryAdherence,
                    score: 1.0,
                }],
            },
            skipped: vec![SkippedColumn {
                column: "id".into(),
                reason: SkipReason::Identifier,
            }],
            real_rows: 10,
            synthetic_rows: 12,
        }
    }

    #[test]
    fn worst_columns_come_lowest_first_with_ties_in_schema_order() {
        let report = report();
        let worst: Vec<&str> = report
            .worst_columns(3)
            .iter()
            .map(|c| c.column.as_str())
            .collect();
        assert_eq!(worst, vec!["b", "d", "c"]);
        assert_eq!(report.worst_columns(10).len(), 4);
        assert!(report.worst_columns(0).is_empty());
    }

    #[test]
    fn json_round_trips_with_sdmetrics_names() {
        let report = report();
        let json = report.to_json_pretty();
        assert!(json.contains("\"KSComplement\""), "{json}");
        assert!(json.contains("\"CorrelationSimilarity\""), "{json}");
        assert!(json.contains("\"BoundaryAdherence\""), "{json}");
        assert!(json.contains("\"identifier\""), "{json}");
        let back = QualityReport::from_json(&json).expect("parse");
        assert_eq!(back, report);
    }

    #[test]
    fn mean_of_nothing_is_none() {
        assert_eq!(mean(std::iter::empty()), None);
        assert_eq!(mean([1.0, 0.0].into_iter()), Some(0.5));
    }
}
