//! Column Shapes: how closely each synthetic column's marginal distribution follows the real
//! one (KSComplement for numbers, TVComplement for categories).

use mirage_core::ColumnKind;
use serde::{Deserialize, Serialize};

use crate::encode::{EncodedColumn, EncodedValues};
use crate::report::mean;

/// Which metric scored a column's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShapeMetric {
    /// `1 − D`, `D` the two-sample Kolmogorov–Smirnov statistic.
    #[serde(rename = "KSComplement")]
    KsComplement,
    /// `1 − TVD`, the total variation distance between the category frequencies.
    #[serde(rename = "TVComplement")]
    TvComplement,
}

/// The shape score of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnShapeScore {
    /// The column.
    pub column: String,
    /// Its kind in the real schema.
    pub kind: ColumnKind,
    /// The metric that scored it.
    pub metric: ShapeMetric,
    /// The score in `[0, 1]`; 1 is a perfect match.
    pub score: f64,
}

/// The Column Shapes property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnShapes {
    /// Mean of the column scores.
    pub score: f64,
    /// One score per scored column, in the real schema's order.
    pub columns: Vec<ColumnShapeScore>,
}

/// Scores every encoded column. With no columns the score is 1 (nothing differs); the caller
/// refuses that case before.
pub(crate) fn column_shapes(columns: &[EncodedColumn]) -> ColumnShapes {
    let columns: Vec<ColumnShapeScore> = columns
        .iter()
        .map(|column| {
            let (metric, score) = match &column.values {
                EncodedValues::Numeric(numeric) => (
                    ShapeMetric::KsComplement,
                    ks_complement(&numeric.real, &numeric.synthetic),
                ),
                EncodedValues::Discrete(discrete) => (
                    ShapeMetric::TvComplement,
                    tv_complement(&discrete.real, &discrete.synthetic, discrete.cardinality),
                ),
            };
            ColumnShapeScore {
                column: column.name.clone(),
                kind: column.kind.clone(),
                metric,
                score,
            }
        })
        .collect();
    ColumnShapes {
        score: mean(columns.iter().map(|c| c.score)).unwrap_or(1.0),
        columns,
    }
}

/// KSComplement = `1 − D` over the non-null (non-`NaN`) values, where
/// `D = sup_x |F_real(x) − F_synth(x)|` is the two-sample Kolmogorov–Smirnov statistic.
///
/// When one side has no values the score is 0, when both have none it is 1.
pub(crate) fn ks_complement(real: &[f64], synthetic: &[f64]) -> f64 {
    let mut real: Vec<f64> = real.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut synthetic: Vec<f64> = synthetic.iter().copied().filter(|v| !v.is_nan()).collect();
    match (real.is_empty(), synthetic.is_empty()) {
        (true, true) => return 1.0,
        (true, false) | (false, true) => return 0.0,
        (false, false) => {}
    }
    real.sort_unstable_by(f64::total_cmp);
    synthetic.sort_unstable_by(f64::total_cmp);
    1.0 - ks_statistic_sorted(&real, &synthetic)
}

/// The exact KS statistic of two sorted, non-empty samples without `NaN`.
///
/// Both empirical CDFs only jump at sample values, so the supremum is reached at one of them.
/// The walk visits each distinct value once and steps past *all* copies of it on both sides
/// before comparing, so ties between or within samples are evaluated at `F(x)`, not midway.
pub(crate) fn ks_statistic_sorted(real: &[f64], synthetic: &[f64]) -> f64 {
    debug_assert!(!real.is_empty() && !synthetic.is_empty());
    let (n_real, n_synthetic) = (real.len() as f64, synthetic.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut statistic: f64 = 0.0;
    while i < real.len() && j < synthetic.len() {
        let x = real[i].min(synthetic[j]);
        while i < real.len() && real[i] <= x {
            i += 1;
        }
        while j < synthetic.len() && synthetic[j] <= x {
            j += 1;
        }
        statistic = statistic.max((i as f64 / n_real - j as f64 / n_synthetic).abs());
    }
    // Once one side is exhausted its CDF is 1 and the other only climbs towards 1, so the gap
    // can only shrink: the loop has seen the supremum.
    statistic
}

/// TVComplement = `1 − TVD`, `TVD = ½ Σ_c |p_real(c) − p_synth(c)|` over the union of
/// categories (null being one of them).
///
/// When one side has no rows the score is 0, when both have none it is 1.
pub(crate) fn tv_complement(real: &[u32], synthetic: &[u32], cardinality: usize) -> f64 {
    let real_counts = counts(real, cardinality);
    let synthetic_counts = counts(synthetic, cardinality);
    1.0 - total_variation(&real_counts, real.len(), &synthetic_counts, synthetic.len())
}

/// How often each code occurs.
fn counts(codes: &[u32], cardinality: usize) -> Vec<u64> {
    let mut counts = vec![0u64; cardinality];
    for &code in codes {
        if let Some(count) = counts.get_mut(code as usize) {
            *count += 1;
        }
    }
    counts
}

/// `½ Σ_c |real_c/n_real − synthetic_c/n_synthetic|` over aligned count vectors; 1 when exactly
/// one side is empty, 0 when both are.
pub(crate) fn total_variation(
    real: &[u64],
    n_real: usize,
    synthetic: &[u64],
    n_synthetic: usize,
) -> f64 {
    debug_assert_eq!(real.len(), synthetic.len());
    match (n_real, n_synthetic) {
        (0, 0) => return 0.0,
        (0, _) | (_, 0) => return 1.0,
        _ => {}
    }
    let (n_real, n_synthetic) = (n_real as f64, n_synthetic as f64);
    let sum: f64 = real
        .iter()
        .zip(synthetic)
        .map(|(&r, &s)| (r as f64 / n_real - s as f64 / n_synthetic).abs())
        .sum();
    (sum / 2.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn ks_of_shifted_samples_is_one_half() {
        // F_real − F_synth peaks at x = 2: 2/4 − 0 = 0.5.
        let score = ks_complement(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]);
        assert!((score - 0.5).abs() < EPS, "{score}");
    }

    #[test]
    fn ks_handles_ties_within_and_across_samples() {
        // real  [1, 1, 2, 2]: F = 0.5 at 1, 1 at 2.
        // synth [1, 2, 2, 2]: F = 0.25 at 1, 1 at 2.
        // D = 0.25 (at x = 1). A walk that stepped over one tied copy at a time would see
        // 0.5 − 0 or 0.5 − 0.25 at intermediate steps and report more.
        let score = ks_complement(&[2.0, 1.0, 2.0, 1.0], &[2.0, 2.0, 1.0, 2.0]);
        assert!((score - 0.75).abs() < EPS, "{score}");
        // Identical samples with ties: D = 0.
        let score = ks_complement(&[5.0, 5.0, 7.0], &[7.0, 5.0, 5.0]);
        assert!((score - 1.0).abs() < EPS, "{score}");
    }

    #[test]
    fn ks_with_unequal_sizes() {
        // real [0, 10], synth [5]: at 0 F_real = 0.5, F_synth = 0 → D = 0.5.
        let score = ks_complement(&[0.0, 10.0], &[5.0]);
        assert!((score - 0.5).abs() < EPS, "{score}");
    }

    #[test]
    fn ks_ignores_nulls_and_scores_empty_sides() {
        let score = ks_complement(&[1.0, f64::NAN, 2.0], &[f64::NAN, 2.0, 1.0]);
        assert!((score - 1.0).abs() < EPS, "{score}");
        assert_eq!(ks_complement(&[1.0], &[f64::NAN]), 0.0);
        assert_eq!(ks_complement(&[], &[2.0]), 0.0);
        assert_eq!(ks_complement(&[f64::NAN], &[]), 1.0);
    }

    #[test]
    fn disjoint_samples_score_zero() {
        assert_eq!(ks_complement(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert_eq!(tv_complement(&[1, 1], &[2, 2], 3), 0.0);
    }

    #[test]
    fn tvd_by_hand() {
        // real a a b b, synth a a a b: ½(|0.5 − 0.75| + |0.5 − 0.25|) = 0.25.
        let score = tv_complement(&[1, 1, 2, 2], &[1, 1, 1, 2], 3);
        assert!((score - 0.75).abs() < EPS, "{score}");
    }

    #[test]
    fn tvd_counts_null_as_a_category() {
        // real a null, synth a a: ½(|0.5 − 1| + |0.5 − 0|) = 0.5.
        let score = tv_complement(&[1, 0], &[1, 1], 2);
        assert!((score - 0.5).abs() < EPS, "{score}");
    }
}
