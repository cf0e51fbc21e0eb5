//! Column Pair Trends: whether the synthetic data keeps how columns move together
//! (CorrelationSimilarity for two numeric columns, ContingencySimilarity otherwise).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::association::{ASSOCIATION_THRESHOLD, CORRELATION_THRESHOLD, cramers_v};
use crate::encode::{EncodedColumn, EncodedValues};
use crate::report::mean;
use crate::shapes::total_variation;

/// Which metric scored a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PairMetric {
    /// `1 − |ρ_real − ρ_synth| / 2` with Pearson's ρ.
    CorrelationSimilarity,
    /// `1 − TVD` between the normalised 2-D contingency tables.
    ContingencySimilarity,
}

/// The trend score of one pair of columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairTrendScore {
    /// The first column (earlier in the real schema).
    pub column_a: String,
    /// The second column.
    pub column_b: String,
    /// The metric that scored the pair.
    pub metric: PairMetric,
    /// The score in `[0, 1]`; 1 is a perfect match.
    pub score: f64,
    /// Pearson's ρ in the real data, for pairs scored by correlation.
    pub real_correlation: Option<f64>,
    /// Pearson's ρ in the synthetic data, for pairs scored by correlation.
    pub synthetic_correlation: Option<f64>,
    /// Cramér's V in the real data, for pairs scored by contingency.
    #[serde(default)]
    pub real_association: Option<f64>,
}

impl PairTrendScore {
    /// Whether the real data shows a trend here: |ρ_real| > 0.5 for a correlation pair,
    /// Cramér's V > 0.3 for a contingency pair (SDMetrics' thresholds).
    pub fn is_associated(&self) -> bool {
        match self.metric {
            PairMetric::CorrelationSimilarity => self
                .real_correlation
                .is_some_and(|r| r.abs() > CORRELATION_THRESHOLD),
            PairMetric::ContingencySimilarity => self
                .real_association
                .is_some_and(|v| v > ASSOCIATION_THRESHOLD),
        }
    }
}

/// The Column Pair Trends property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnPairTrends {
    /// Mean of the pair scores; 1 when there are no pairs.
    pub score: f64,
    /// Mean over the associated pairs only (see [`PairTrendScore::is_associated`]), as
    /// SDMetrics ≥ 0.17 averages this property; `None` when no pair is associated.
    #[serde(default)]
    pub associated_score: Option<f64>,
    /// One score per pair of scored columns, in the real schema's order.
    pub pairs: Vec<PairTrendScore>,
}

/// One column as the pair metrics see it: the rows kept after subsampling, discrete codes
/// (bin codes for numbers) and, for numbers, the values themselves.
#[derive(Debug, Clone)]
pub(crate) struct TrendColumn<'a> {
    name: &'a str,
    real_codes: Vec<u32>,
    synthetic_codes: Vec<u32>,
    cardinality: usize,
    numeric: Option<(Vec<f64>, Vec<f64>)>,
}

impl<'a> TrendColumn<'a> {
    /// The rows `real_rows` / `synthetic_rows` of a column (all rows when `None`), numbers cut
    /// into `bins` bins over the real range (see [`Binning`](crate::encode::Binning)).
    pub fn new(
        column: &'a EncodedColumn,
        real_rows: Option<&[usize]>,
        synthetic_rows: Option<&[usize]>,
        bins: usize,
    ) -> Self {
        match &column.values {
            EncodedValues::Numeric(numeric) => {
                let binning = numeric.binning(bins);
                let real = gather(&numeric.real, real_rows);
                let synthetic = gather(&numeric.synthetic, synthetic_rows);
                Self {
                    name: &column.name,
                    real_codes: real.iter().map(|&v| binning.code(v)).collect(),
                    synthetic_codes: synthetic.iter().map(|&v| binning.code(v)).collect(),
                    cardinality: binning.cardinality(),
                    numeric: Some((real, synthetic)),
                }
            }
            EncodedValues::Discrete(discrete) => Self {
                name: &column.name,
                real_codes: gather(&discrete.real, real_rows),
                synthetic_codes: gather(&discrete.synthetic, synthetic_rows),
                cardinality: discrete.cardinality,
                numeric: None,
            },
        }
    }
}

/// The chosen rows of `values`, or all of them.
fn gather<T: Copy>(values: &[T], rows: Option<&[usize]>) -> Vec<T> {
    match rows {
        None => values.to_vec(),
        Some(rows) => rows
            .iter()
            .filter_map(|&row| values.get(row).copied())
            .collect(),
    }
}

/// Scores every pair `(i, j)`, `i < j`, spread over the available cores.
pub(crate) fn column_pair_trends(columns: &[TrendColumn<'_>]) -> ColumnPairTrends {
    let pairs: Vec<(usize, usize)> = (0..columns.len())
        .flat_map(|i| (i + 1..columns.len()).map(move |j| (i, j)))
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(pairs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let scored: Mutex<Vec<(usize, PairTrendScore)>> = Mutex::new(Vec::with_capacity(pairs.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(i, j)) = pairs.get(index) else {
                        break;
                    };
                    local.push((index, score_pair(&columns[i], &columns[j])));
                }
                // A poisoned lock only means another worker panicked; its panic resurfaces
                // when the scope joins, so keep what this worker has.
                let mut scored = scored.lock().unwrap_or_else(|p| p.into_inner());
                scored.extend(local);
            });
        }
    });
    let mut scored = scored.into_inner().unwrap_or_else(|p| p.into_inner());
    scored.sort_unstable_by_key(|(index, _)| *index);
    let pairs: Vec<PairTrendScore> = scored.into_iter().map(|(_, score)| score).collect();
    ColumnPairTrends {
        score: mean(pairs.iter().map(|p| p.score)).unwrap_or(1.0),
        associated_score: mean(pairs.iter().filter(|p| p.is_associated()).map(|p| p.score)),
        pairs,
    }
}

/// CorrelationSimilarity when both columns are numeric and both correlations exist, else
/// ContingencySimilarity.
fn score_pair(a: &TrendColumn<'_>, b: &TrendColumn<'_>) -> PairTrendScore {
    if let (Some((a_real, a_synthetic)), Some((b_real, b_synthetic))) = (&a.numeric, &b.numeric)
        && let (Some(real), Some(synthetic)) =
            (pearson(a_real, b_real), pearson(a_synthetic, b_synthetic))
    {
        return PairTrendScore {
            column_a: a.name.to_string(),
            column_b: b.name.to_string(),
            metric: PairMetric::CorrelationSimilarity,
            score: correlation_similarity(real, synthetic),
            real_correlation: Some(real),
            synthetic_correlation: Some(synthetic),
            real_association: None,
        };
    }
    PairTrendScore {
        column_a: a.name.to_string(),
        column_b: b.name.to_string(),
        metric: PairMetric::ContingencySimilarity,
        score: contingency_similarity(a, b),
        real_correlation: None,
        synthetic_correlation: None,
        real_association: cramers_v(&a.real_codes, &b.real_codes),
    }
}

/// CorrelationSimilarity = `1 − |ρ_real − ρ_synth| / 2`.
pub(crate) fn correlation_similarity(real: f64, synthetic: f64) -> f64 {
    (1.0 - (real - synthetic).abs() / 2.0).clamp(0.0, 1.0)
}

/// Pearson's `ρ = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²)` over the rows where both values
/// are non-null; `None` when fewer than two such rows remain or either column is constant on
/// them (ρ is undefined).
pub(crate) fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let rows = || {
        x.iter()
            .zip(y)
            .filter(|(a, b)| !a.is_nan() && !b.is_nan())
            .map(|(&a, &b)| (a, b))
    };
    let (first_x, first_y) = rows().next()?;
    let (mut n, mut sum_x, mut sum_y) = (0usize, 0.0, 0.0);
    let (mut varies_x, mut varies_y) = (false, false);
    for (a, b) in rows() {
        n += 1;
        sum_x += a;
        sum_y += b;
        // Tested exactly rather than through the variance, whose rounding is never zero
        // for a constant like 0.1.
        varies_x |= a != first_x;
        varies_y |= b != first_y;
    }
    if n < 2 || !varies_x || !varies_y {
        return None;
    }
    let (mean_x, mean_y) = (sum_x / n as f64, sum_y / n as f64);
    let (mut covariance, mut variance_x, mut variance_y) = (0.0, 0.0, 0.0);
    for (a, b) in rows() {
        let (dx, dy) = (a - mean_x, b - mean_y);
        covariance += dx * dy;
        variance_x += dx * dx;
        variance_y += dy * dy;
    }
    let rho = covariance / (variance_x * variance_y).sqrt();
    rho.is_finite().then(|| rho.clamp(-1.0, 1.0))
}

/// Contingency tables small enough to count in a dense array rather than a hash map.
const DENSE_CELLS: usize = 1 << 20;

/// ContingencySimilarity = `1 − ½ Σ_(a,b) |p_real(a,b) − p_synth(a,b)|` over the union of
/// cells of the two normalised contingency tables; nulls and bins are codes like any other.
pub(crate) fn contingency_similarity(a: &TrendColumn<'_>, b: &TrendColumn<'_>) -> f64 {
    let width = b.cardinality as u64;
    let cell = |x: u32, y: u32| u64::from(x) * width + u64::from(y);
    let real_cells = a
        .real_codes
        .iter()
        .zip(&b.real_codes)
        .map(|(&x, &y)| cell(x, y));
    let synthetic_cells = a
        .synthetic_codes
        .iter()
        .zip(&b.synthetic_codes)
        .map(|(&x, &y)| cell(x, y));
    let n_real = a.real_codes.len().min(b.real_codes.len());
    let n_synthetic = a.synthetic_codes.len().min(b.synthetic_codes.len());
    let cells = a.cardinality.saturating_mul(b.cardinality);
    let distance = if cells <= DENSE_CELLS.max(n_real + n_synthetic) {
        let mut real = vec![0u64; cells];
        let mut synthetic = vec![0u64; cells];
        count_into(&mut real, real_cells);
        count_into(&mut synthetic, synthetic_cells);
        total_variation(&real, n_real, &synthetic, n_synthetic)
    } else {
        let mut table: HashMap<u64, (u64, u64)> = HashMap::new();
        for key in real_cells {
            table.entry(key).or_default().0 += 1;
        }
        for key in synthetic_cells {
            table.entry(key).or_default().1 += 1;
        }
        let (real, synthetic): (Vec<u64>, Vec<u64>) = table.into_values().unzip();
        total_variation(&real, n_real, &synthetic, n_synthetic)
    };
    1.0 - distance
}

/// Counts each cell into a dense table.
fn count_into(counts: &mut [u64], cells: impl Iterator<Item = u64>) {
    for key in cells {
        if let Some(count) = usize::try_from(key).ok().and_then(|k| counts.get_mut(k)) {
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{DiscreteColumn, NumericColumn};
    use mirage_core::ColumnKind;

    const EPS: f64 = 1e-12;

    fn numeric(name: &str, real: Vec<f64>, synthetic: Vec<f64>) -> EncodedColumn {
        EncodedColumn {
            name: name.into(),
            kind: ColumnKind::Float,
            values: EncodedValues::Numeric(NumericColumn::new(real, synthetic)),
        }
    }

    fn discrete(
        name: &str,
        real: Vec<u32>,
        synthetic: Vec<u32>,
        cardinality: usize,
    ) -> EncodedColumn {
        EncodedColumn {
            name: name.into(),
            kind: ColumnKind::Categorical,
            values: EncodedValues::Discrete(DiscreteColumn {
                real,
                synthetic,
                cardinality,
                real_distinct: cardinality - 1,
                real_has_null: false,
            }),
        }
    }

    #[test]
    fn pearson_by_hand() {
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // x = 1 2 3, y = 1 3 2: cov = 1, var_x = 2, var_y = 2 → ρ = 0.5.
        let rho = pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).expect("defined");
        assert!((rho - 0.5).abs() < EPS, "{rho}");
        // The null row is dropped from both columns.
        assert_eq!(
            pearson(&[1.0, f64::NAN, 2.0, 3.0], &[2.0, 100.0, 4.0, 6.0]),
            Some(1.0)
        );
        assert_eq!(pearson(&[0.1, 0.1, 0.1], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
    }

    #[test]
    fn opposite_correlations_score_zero() {
        let x = numeric("x", vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.0]);
        let y = numeric("y", vec![1.0, 2.0, 3.0], vec![3.0, 2.0, 1.0]);
        let columns = [
            TrendColumn::new(&x, None, None, 10),
            TrendColumn::new(&y, None, None, 10),
        ];
        let trends = column_pair_trends(&columns);
        let pair = &trends.pairs[0];
        assert_eq!(pair.metric, PairMetric::CorrelationSimilarity);
        assert_eq!(pair.real_correlation, Some(1.0));
        assert_eq!(pair.synthetic_correlation, Some(-1.0));
        assert!(pair.score.abs() < EPS, "{}", pair.score);
    }

    #[test]
    fn a_constant_numeric_column_falls_back_to_contingency() {
        let x = numeric("x", vec![1.0, 1.0, 1.0], vec![1.0, 1.0, 1.0]);
        let y = numeric("y", vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.0]);
        let columns = [
            TrendColumn::new(&x, None, None, 10),
            TrendColumn::new(&y, None, None, 10),
        ];
        let pair = &column_pair_trends(&columns).pairs[0];
        assert_eq!(pair.metric, PairMetric::ContingencySimilarity);
        assert_eq!(pair.real_correlation, None);
        assert!((pair.score - 1.0).abs() < EPS, "{}", pair.score);
    }

    #[test]
    fn contingency_with_binning_by_hand() {
        // Real x in [0, 10] with 2 bins: [0, 5) → 1, [5, 10] → 2 (10 itself in the last bin).
        // Synthetic 12 clips to 10 → bin 2; -4 clips to 0 → bin 1.
        // real  (x, c): (0, a) (4, a) (10, b) (6, b)  → cells (1,a) (1,a) (2,b) (2,b)
        // synth (x, c): (12, b) (-4, a) (10, a) (5, b) → cells (2,b) (1,a) (2,a) (2,b)
        // p_real:  (1,a) 0.5, (2,b) 0.5
        // p_synth: (1,a) 0.25, (2,a) 0.25, (2,b) 0.5
        // TVD = ½(0.25 + 0.25 + 0) = 0.25 → 0.75.
        let x = numeric("x", vec![0.0, 4.0, 10.0, 6.0], vec![12.0, -4.0, 10.0, 5.0]);
        let c = discrete("c", vec![1, 1, 2, 2], vec![2, 1, 1, 2], 3);
        let columns = [
            TrendColumn::new(&x, None, None, 2),
            TrendColumn::new(&c, None, None, 2),
        ];
        let pair = &column_pair_trends(&columns).pairs[0];
        assert_eq!(pair.metric, PairMetric::ContingencySimilarity);
        assert!((pair.score - 0.75).abs() < EPS, "{}", pair.score);
    }

    #[test]
    fn contingency_counts_nulls_as_cells() {
        // real (a, null) (b, x), synth (a, x) (b, x): cells differ in one of two rows.
        let a = discrete("a", vec![1, 2], vec![1, 2], 3);
        let b = discrete("b", vec![0, 1], vec![1, 1], 2);
        let columns = [
            TrendColumn::new(&a, None, None, 10),
            TrendColumn::new(&b, None, None, 10),
        ];
        let score = contingency_similarity(&columns[0], &columns[1]);
        assert!((score - 0.5).abs() < EPS, "{score}");
    }

    #[test]
    fn sparse_tables_match_dense_ones() {
        // Cardinalities large enough to take the hash-map path.
        let big = 2_000;
        let rows: Vec<u32> = (0..50).map(|i| (i * 37) % big).collect();
        let shifted: Vec<u32> = rows.iter().map(|&r| (r + 1) % big).collect();
        let a = discrete("a", rows.clone(), rows.clone(), big as usize);
        let b = discrete("b", rows.clone(), shifted, big as usize);
        let columns = [
            TrendColumn::new(&a, None, None, 10),
            TrendColumn::new(&b, None, None, 10),
        ];
        // Every real cell is (r, r), every synthetic one (r, r + 1): disjoint.
        assert_eq!(contingency_similarity(&columns[0], &columns[1]), 0.0);
        let same = discrete("b", rows.clone(), rows, big as usize);
        let columns = [
            TrendColumn::new(&a, None, None, 10),
            TrendColumn::new(&same, None, None, 10),
        ];
        assert!((contingency_similarity(&columns[0], &columns[1]) - 1.0).abs() < EPS);
    }

    #[test]
    fn subsampled_rows_are_gathered() {
        let x = numeric("x", vec![1.0, 2.0, 3.0, 4.0], vec![4.0, 3.0, 2.0, 1.0]);
        let column = TrendColumn::new(&x, Some(&[0, 3]), Some(&[1]), 10);
        assert_eq!(column.numeric, Some((vec![1.0, 4.0], vec![3.0])));
        assert_eq!(column.real_codes, vec![1, 10]);
    }
}
