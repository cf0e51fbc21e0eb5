//! Statistics of a sorted sample of numbers: moments, quantiles, an equal-width histogram,
//! and counts of repeated values.

use mirage_core::HistogramBin;

/// The probabilities at which quantiles are reported.
pub const QUANTILE_PROBABILITIES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/// Moments and shape of a set of numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericSummary {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (`n - 1` in the denominator); `None` below two values.
    pub std: Option<f64>,
    /// `(probability, value)` at [`QUANTILE_PROBABILITIES`].
    pub quantiles: Vec<(f64, f64)>,
    /// Equal-width histogram over `[min, max]`.
    pub histogram: Vec<HistogramBin>,
}

/// The summary of `sorted` (ascending, no NaN); `None` when it is empty.
pub fn summarize(sorted: &[f64], bins: usize) -> Option<NumericSummary> {
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let std = (sorted.len() > 1).then(|| {
        let squares: f64 = sorted.iter().map(|v| (v - mean) * (v - mean)).sum();
        (squares / (n - 1.0)).sqrt()
    });
    let quantiles = QUANTILE_PROBABILITIES
        .iter()
        .map(|&p| (p, quantile(sorted, p)))
        .collect();
    Some(NumericSummary {
        min,
        max,
        mean,
        std,
        quantiles,
        histogram: histogram(sorted, min, max, bins.max(1)),
    })
}

/// The `p` quantile of ascending `sorted`, interpolating linearly between the two nearest
/// ranks (NumPy's default, Hyndman and Fan's type 7).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lower = position.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let fraction = position - lower as f64;
    sorted[lower] + fraction * (sorted[upper] - sorted[lower])
}

/// `bins` equal-width bins over `[min, max]`, each `[lower, upper)` but the last closed.
/// A constant sample gets one bin.
fn histogram(values: &[f64], min: f64, max: f64, bins: usize) -> Vec<HistogramBin> {
    if max <= min {
        return vec![HistogramBin {
            lower: min,
            upper: max,
            count: values.len() as u64,
        }];
    }
    let width = (max - min) / bins as f64;
    let mut counts = vec![0u64; bins];
    for &value in values {
        let index = (((value - min) / width) as usize).min(bins - 1);
        counts[index] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| HistogramBin {
            lower: min + width * i as f64,
            upper: if i + 1 == bins {
                max
            } else {
                min + width * (i + 1) as f64
            },
            count,
        })
        .collect()
}

/// Runs of equal values in sorted data, as `(value, count)`.
pub fn runs<T: PartialEq + Copy>(sorted: &[T]) -> Vec<(T, u64)> {
    let mut out: Vec<(T, u64)> = Vec::new();
    for &value in sorted {
        match out.last_mut() {
            Some((last, count)) if *last == value => *count += 1,
            _ => out.push((value, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&values, 0.5), 2.5);
        assert_eq!(quantile(&values, 0.25), 1.75);
        assert_eq!(quantile(&values, 0.0), 1.0);
        assert_eq!(quantile(&values, 1.0), 4.0);
    }

    #[test]
    fn the_last_bin_holds_the_maximum() {
        let summary = summarize(&[0.0, 1.0, 2.0, 3.0, 4.0], 4).expect("values");
        let counts: Vec<u64> = summary.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![1, 1, 1, 2]);
        assert_eq!(summary.histogram[3].upper, 4.0);
    }

    #[test]
    fn constant_samples_get_one_bin_and_zero_spread() {
        let summary = summarize(&[5.0, 5.0], 10).expect("values");
        assert_eq!(summary.histogram.len(), 1);
        assert_eq!(summary.std, Some(0.0));
        assert_eq!(summarize(&[5.0], 10).expect("one").std, None);
    }

    #[test]
    fn runs_count_repeats() {
        assert_eq!(runs(&[1, 1, 2, 3, 3, 3]), vec![(1, 2), (2, 1), (3, 3)]);
    }
}
