//! What the report's plots show: each column's distribution, real against synthetic, and
//! the association between every pair of columns on both sides.

use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::datatypes::DataType;
use mirage_core::{ColumnKind, Table};
use serde::{Deserialize, Serialize};

use crate::association::cramers_v;
use crate::encode::{EncodedColumn, EncodedValues};
use crate::error::Result;
use crate::evaluate::encode_column;
use crate::trends::pearson;

/// One bar of a distribution plot: a bin or a category, with its share on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributionBar {
    /// The bin's lower edge or the category, as text.
    pub label: String,
    /// Share of real rows.
    pub real: f64,
    /// Share of synthetic rows.
    pub synthetic: f64,
}

/// A column's distribution on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDistribution {
    /// The column.
    pub column: String,
    /// Its kind.
    pub kind: ColumnKind,
    /// Bins (numbers: equal width over the real range) or categories (the most frequent
    /// real ones, then `(other)`), then `(null)` when either side has nulls.
    pub bars: Vec<DistributionBar>,
}

/// Association between every pair of columns: Pearson's ρ for two numeric columns,
/// Cramér's V (numbers binned) otherwise; 1 on the diagonal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationMatrices {
    /// The columns, in order.
    pub columns: Vec<String>,
    /// Row-major associations in the real data.
    pub real: Vec<f64>,
    /// Row-major associations in the synthetic data.
    pub synthetic: Vec<f64>,
}

impl AssociationMatrices {
    /// |real − synthetic| for each cell, row-major.
    pub fn difference(&self) -> Vec<f64> {
        self.real
            .iter()
            .zip(&self.synthetic)
            .map(|(r, s)| (r - s).abs())
            .collect()
    }
}

/// The columns both tables share and the report scores (no keys, no free text).
fn scored_columns(real: &Table, synthetic: &Table) -> Result<Vec<EncodedColumn>> {
    real.schema()
        .columns
        .iter()
        .filter(|c| !matches!(c.kind, ColumnKind::Identifier | ColumnKind::Text))
        .filter_map(|c| synthetic.schema().column(&c.name).map(|s| (c, s)))
        .map(|(c, s)| encode_column(c, s, real, synthetic))
        .collect()
}

/// Distributions of every scored column: `bins` equal-width bins for numbers, the `top`
/// most frequent real categories for labels.
pub fn distributions(
    real: &Table,
    synthetic: &Table,
    bins: usize,
    top: usize,
) -> Result<Vec<ColumnDistribution>> {
    let columns = scored_columns(real, synthetic)?;
    columns
        .iter()
        .map(|column| {
            let bars = match &column.values {
                EncodedValues::Numeric(numeric) => {
                    numeric_bars(&numeric.real, &numeric.synthetic, &column.kind, bins)
                }
                EncodedValues::Discrete(_) => {
                    let real_labels = labels(real, &column.name)?;
                    let synthetic_labels = labels(synthetic, &column.name)?;
                    category_bars(&real_labels, &synthetic_labels, top)
                }
            };
            Ok(ColumnDistribution {
                column: column.name.clone(),
                kind: column.kind.clone(),
                bars,
            })
        })
        .collect()
}

/// The column's cells as text (`None` for null).
fn labels(table: &Table, column: &str) -> Result<Vec<Option<String>>> {
    let array = table.column_by_name(column)?;
    let text = arrow::compute::cast(array.as_ref(), &DataType::Utf8)
        .map_err(mirage_core::CoreError::Arrow)?;
    Ok(text
        .as_string_opt::<i32>()
        .map(|strings| strings.iter().map(|v| v.map(str::to_string)).collect())
        .unwrap_or_default())
}

fn share(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

fn numeric_label(kind: &ColumnKind, value: f64) -> String {
    match kind {
        ColumnKind::Datetime { .. } => chrono::DateTime::from_timestamp_millis(value as i64)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| format!("{value}")),
        _ if value.abs() >= 1e5 || value.fract() == 0.0 => format!("{value:.0}"),
        _ => format!("{value:.2}"),
    }
}

fn numeric_bars(
    real: &[f64],
    synthetic: &[f64],
    kind: &ColumnKind,
    bins: usize,
) -> Vec<DistributionBar> {
    let finite = |v: &&f64| !v.is_nan();
    let (lo, hi) = real
        .iter()
        .filter(finite)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let bins = bins.max(1);
    let mut real_counts = vec![0usize; bins + 1];
    let mut synthetic_counts = vec![0usize; bins + 1];
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let bin = |v: f64| -> usize {
        if v.is_nan() {
            bins
        } else if !lo.is_finite() {
            0
        } else {
            (((v.clamp(lo, hi.max(lo)) - lo) / width) as usize).min(bins - 1)
        }
    };
    real.iter().for_each(|&v| real_counts[bin(v)] += 1);
    synthetic
        .iter()
        .for_each(|&v| synthetic_counts[bin(v)] += 1);
    let mut bars: Vec<DistributionBar> = (0..bins)
        .map(|b| DistributionBar {
            label: numeric_label(
                kind,
                if lo.is_finite() {
                    lo + width * b as f64
                } else {
                    0.0
                },
            ),
            real: share(real_counts[b], real.len()),
            synthetic: share(synthetic_counts[b], synthetic.len()),
        })
        .collect();
    if real_counts[bins] + synthetic_counts[bins] > 0 {
        bars.push(DistributionBar {
            label: "(null)".into(),
            real: share(real_counts[bins], real.len()),
            synthetic: share(synthetic_counts[bins], synthetic.len()),
        });
    }
    bars
}

fn count_labels(values: &[Option<String>]) -> HashMap<Option<&str>, usize> {
    let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
    values
        .iter()
        .for_each(|v| *counts.entry(v.as_deref()).or_default() += 1);
    counts
}

fn category_bars(
    real: &[Option<String>],
    synthetic: &[Option<String>],
    top: usize,
) -> Vec<DistributionBar> {
    let (real_counts, synthetic_counts) = (count_labels(real), count_labels(synthetic));
    let mut categories: Vec<(&str, usize)> = real_counts
        .iter()
        .filter_map(|(k, v)| k.map(|k| (k, *v)))
        .collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    categories.truncate(top.max(1));
    let mut bars: Vec<DistributionBar> = categories
        .iter()
        .map(|(label, n)| DistributionBar {
            label: (*label).to_string(),
            real: share(*n, real.len()),
            synthetic: share(
                synthetic_counts.get(&Some(*label)).copied().unwrap_or(0),
                synthetic.len(),
            ),
        })
        .collect();
    let shown_real: f64 = bars.iter().map(|b| b.real).sum();
    let shown_synthetic: f64 = bars.iter().map(|b| b.synthetic).sum();
    let null_real = share(real_counts.get(&None).copied().unwrap_or(0), real.len());
    let null_synthetic = share(
        synthetic_counts.get(&None).copied().unwrap_or(0),
        synthetic.len(),
    );
    let other_real = (1.0 - shown_real - null_real).max(0.0);
    let other_synthetic = (1.0 - shown_synthetic - null_synthetic).max(0.0);
    if other_real + other_synthetic > 1e-12 {
        bars.push(DistributionBar {
            label: "(other)".into(),
            real: other_real,
            synthetic: other_synthetic,
        });
    }
    if null_real + null_synthetic > 0.0 {
        bars.push(DistributionBar {
            label: "(null)".into(),
            real: null_real,
            synthetic: null_synthetic,
        });
    }
    bars
}

/// Codes for Cramér's V: discrete codes as they are, numbers cut into `bins` bins over the
/// real range.
fn codes(column: &EncodedColumn, bins: usize) -> (Vec<u32>, Vec<u32>) {
    match &column.values {
        EncodedValues::Discrete(d) => (d.real.clone(), d.synthetic.clone()),
        EncodedValues::Numeric(n) => {
            let binning = n.binning(bins);
            (
                n.real.iter().map(|&v| binning.code(v)).collect(),
                n.synthetic.iter().map(|&v| binning.code(v)).collect(),
            )
        }
    }
}

/// Association matrices of the scored columns (on at most `max_rows` leading rows of each
/// table, which keeps the cost bounded; the rows are in the tables' own order).
pub fn associations(
    real: &Table,
    synthetic: &Table,
    bins: usize,
    max_rows: usize,
) -> Result<AssociationMatrices> {
    let columns = scored_columns(real, synthetic)?;
    let n = columns.len();
    let coded: Vec<(Vec<u32>, Vec<u32>)> = columns.iter().map(|c| codes(c, bins)).collect();
    let mut matrices = AssociationMatrices {
        columns: columns.iter().map(|c| c.name.clone()).collect(),
        real: vec![0.0; n * n],
        synthetic: vec![0.0; n * n],
    };
    let cut = |v: &[u32]| v[..v.len().min(max_rows)].to_vec();
    for i in 0..n {
        matrices.real[i * n + i] = 1.0;
        matrices.synthetic[i * n + i] = 1.0;
        for j in (i + 1)..n {
            let (real, synthetic) = match (&columns[i].values, &columns[j].values) {
                (EncodedValues::Numeric(a), EncodedValues::Numeric(b)) => (
                    pearson(
                        &a.real[..a.real.len().min(max_rows)],
                        &b.real[..b.real.len().min(max_rows)],
                    ),
                    pearson(
                        &a.synthetic[..a.synthetic.len().min(max_rows)],
                        &b.synthetic[..b.synthetic.len().min(max_rows)],
                    ),
                ),
                _ => (
                    cramers_v(&cut(&coded[i].0), &cut(&coded[j].0)),
                    cramers_v(&cut(&coded[i].1), &cut(&coded[j].1)),
                ),
            };
            for (matrix, value) in [
                (&mut matrices.real, real),
                (&mut matrices.synthetic, synthetic),
            ] {
                let v = value.unwrap_or(0.0);
                matrix[i * n + j] = v;
                matrix[j * n + i] = v;
            }
        }
    }
    Ok(matrices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_bars_share_rows_and_put_nulls_last() {
        let bars = numeric_bars(
            &[0.0, 1.0, 2.0, f64::NAN],
            &[0.0, 0.0, 5.0, 2.0],
            &ColumnKind::Float,
            2,
        );
        // Bins [0, 1) and [1, 2]; the synthetic 5 is clipped into the last bin.
        assert_eq!(bars.len(), 3);
        assert_eq!((bars[0].real, bars[0].synthetic), (0.25, 0.5));
        assert_eq!((bars[1].real, bars[1].synthetic), (0.5, 0.5));
        assert_eq!(bars[2].label, "(null)");
        assert_eq!((bars[2].real, bars[2].synthetic), (0.25, 0.0));
    }

    #[test]
    fn category_bars_keep_the_top_real_categories() {
        let s = |v: &str| Some(v.to_string());
        let real = vec![s("a"), s("a"), s("b"), s("c"), None];
        let synthetic = vec![s("a"), s("c"), s("c"), s("z"), s("b")];
        let bars = category_bars(&real, &synthetic, 2);
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, vec!["a", "b", "(other)", "(null)"]);
        assert_eq!((bars[0].real, bars[0].synthetic), (0.4, 0.2));
        assert!((bars[2].real - 0.2).abs() < 1e-12 && (bars[2].synthetic - 0.6).abs() < 1e-12);
        assert_eq!((bars[3].real, bars[3].synthetic), (0.2, 0.0));
    }
}
