//! Feature values → small bin numbers, fitted on the training rows.
//!
//! Bin 0 holds missing values; bins `1..` hold values in ascending order, cut at quantiles
//! so that each bin holds about as many training rows (a value shared by many rows gets a
//! bin of its own). With few distinct values each value is its own bin. A categorical
//! feature is first mapped to the rank of its category (by smoothed mean target when the
//! model gives one, else by frequency, i.e. by code), then binned like a number: splits are
//! thresholds on that order, and a category the training rows never showed is missing.

use crate::utility::features::{FeatureKind, FeatureMatrix};

/// Rows a category's mean target is pulled toward the global mean with (additive smoothing).
const CATEGORY_SMOOTHING: f64 = 10.0;

/// How one feature's values become bins.
#[derive(Debug, Clone)]
pub(crate) struct FeatureBins {
    /// Upper bounds of the value bins but the last: a value `v` goes to bin
    /// `1 + #{t : t < v}`.
    thresholds: Vec<f64>,
    /// For a categorical feature, the rank of each category code; codes past the end (the
    /// unseen code) are missing.
    category_rank: Option<Vec<f64>>,
}

impl FeatureBins {
    /// Fits the bins of one feature on its training values. `target`, when given, orders
    /// categories by their smoothed mean target.
    pub fn fit(
        values: &[f64],
        kind: FeatureKind,
        target: Option<&[f64]>,
        max_bins: usize,
    ) -> FeatureBins {
        let category_rank = match kind {
            FeatureKind::Numeric => None,
            FeatureKind::Categorical { categories } => {
                Some(category_ranks(values, categories, target))
            }
        };
        let mut bins = FeatureBins {
            thresholds: Vec::new(),
            category_rank,
        };
        let mut present: Vec<f64> = values
            .iter()
            .map(|&v| bins.transform(v))
            .filter(|v| !v.is_nan())
            .collect();
        present.sort_by(f64::total_cmp);
        bins.thresholds = quantile_thresholds(&present, max_bins);
        bins
    }

    /// Bins in use, the missing bin included.
    pub fn count(&self) -> usize {
        self.thresholds.len() + 2
    }

    /// The bin of one value.
    pub fn bin(&self, value: f64) -> u8 {
        let value = self.transform(value);
        if value.is_nan() {
            return 0;
        }
        // At most 255 value bins, so the bin fits a byte.
        (1 + self.thresholds.partition_point(|&t| t < value)) as u8
    }

    /// The value that is binned: the category rank for a categorical feature.
    fn transform(&self, value: f64) -> f64 {
        match &self.category_rank {
            None => value,
            Some(ranks) => {
                if value.is_nan() || value < 0.0 {
                    return f64::NAN;
                }
                ranks.get(value as usize).copied().unwrap_or(f64::NAN)
            }
        }
    }
}

/// The rank of every category code: by smoothed mean target, or by code.
fn category_ranks(values: &[f64], categories: usize, target: Option<&[f64]>) -> Vec<f64> {
    let Some(target) = target else {
        return (0..categories).map(|c| c as f64).collect();
    };
    let mut sums = vec![0.0; categories];
    let mut counts = vec![0.0; categories];
    let mut total = 0.0;
    for (&code, &y) in values.iter().zip(target) {
        if code >= 0.0 && (code as usize) < categories {
            sums[code as usize] += y;
            counts[code as usize] += 1.0;
            total += y;
        }
    }
    let prior = total / values.len().max(1) as f64;
    let means: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, n)| (s + CATEGORY_SMOOTHING * prior) / (n + CATEGORY_SMOOTHING))
        .collect();
    let mut order: Vec<usize> = (0..categories).collect();
    order.sort_by(|&a, &b| means[a].total_cmp(&means[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; categories];
    for (rank, &code) in order.iter().enumerate() {
        ranks[code] = rank as f64;
    }
    ranks
}

/// Cuts sorted values into at most `max_bins` bins of about equal counts. Each threshold
/// lies halfway between two neighbouring distinct values.
fn quantile_thresholds(sorted: &[f64], max_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let midpoint = |i: usize| distinct[i].0 + (distinct[i + 1].0 - distinct[i].0) / 2.0;
    if distinct.len() <= max_bins {
        return (0..distinct.len().saturating_sub(1))
            .map(midpoint)
            .collect();
    }
    let mut thresholds = Vec::with_capacity(max_bins - 1);
    let mut remaining_rows = sorted.len();
    let mut remaining_bins = max_bins;
    let mut in_bin = 0;
    for (i, &(_, count)) in distinct[..distinct.len() - 1].iter().enumerate() {
        in_bin += count;
        // Re-aim after every cut so that a heavy value does not starve later bins.
        let target = remaining_rows.div_ceil(remaining_bins);
        if in_bin >= target {
            thresholds.push(midpoint(i));
            remaining_rows -= in_bin;
            remaining_bins -= 1;
            in_bin = 0;
            if remaining_bins == 1 {
                break;
            }
        }
    }
    thresholds
}

/// Binned features, column by column.
#[derive(Debug, Clone)]
pub(crate) struct BinnedMatrix {
    /// `columns[feature][row]`.
    pub columns: Vec<Vec<u8>>,
    /// Where each feature's bins start in a flat histogram; the last entry is the total.
    pub offsets: Vec<usize>,
}

impl BinnedMatrix {
    /// Bins every column of `matrix` with its fitted bins.
    pub fn new(matrix: &FeatureMatrix, bins: &[FeatureBins]) -> BinnedMatrix {
        let columns = matrix
            .columns
            .iter()
            .zip(bins)
            .map(|(column, bins)| column.values.iter().map(|&v| bins.bin(v)).collect())
            .collect();
        let mut offsets = Vec::with_capacity(bins.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for b in bins {
            total += b.count();
            offsets.push(total);
        }
        BinnedMatrix { columns, offsets }
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.columns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each_and_nan_bin_zero() {
        let bins = FeatureBins::fit(
            &[3.0, 1.0, 2.0, 1.0, f64::NAN],
            FeatureKind::Numeric,
            None,
            8,
        );
        assert_eq!(bins.count(), 4);
        let binned: Vec<u8> = [1.0, 2.0, 3.0, f64::NAN, 0.0, 9.0, 1.6]
            .into_iter()
            .map(|v| bins.bin(v))
            .collect();
        assert_eq!(binned, vec![1, 2, 3, 0, 1, 3, 2]);
    }

    #[test]
    fn quantile_bins_give_a_heavy_value_its_own_bin() {
        // 90 zeros and 1..=10: four bins put the zeros alone, the rest in three groups.
        let mut values = vec![0.0; 90];
        values.extend((1..=10).map(f64::from));
        let bins = FeatureBins::fit(&values, FeatureKind::Numeric, None, 4);
        assert_eq!(bins.bin(0.0), 1);
        assert_eq!(bins.bin(1.0), 2);
        assert!(bins.count() <= 6);
        assert!(bins.bin(10.0) > bins.bin(1.0));
    }

    #[test]
    fn categories_rank_by_mean_target_and_unseen_is_missing() {
        // Code 0 has target mean 1, code 1 mean 0: code 1 ranks first.
        let codes = vec![0.0; 30]
            .into_iter()
            .chain(vec![1.0; 30])
            .collect::<Vec<_>>();
        let target = vec![1.0; 30]
            .into_iter()
            .chain(vec![0.0; 30])
            .collect::<Vec<_>>();
        let kind = FeatureKind::Categorical { categories: 2 };
        let bins = FeatureBins::fit(&codes, kind, Some(&target), 8);
        assert!(bins.bin(1.0) < bins.bin(0.0));
        assert_eq!(bins.bin(2.0), 0, "the reserved unseen code is missing");
    }
}
