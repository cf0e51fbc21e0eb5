//! Extreme-value capping: values below P1 or above P99 are clamped to them, so a single
//! extreme row cannot stretch what a model learns (or reproduce itself in the output).
//!
//! With DP the percentiles come from [`dp_quantiles`], which needs a finite range. The
//! range is the declared bounds when there are some, otherwise [`dp_range`]: a Gaussian
//! noisy histogram over fixed signed power-of-two bins. The bins are fixed in advance
//! and every value falls in exactly one, so the histogram has L2 sensitivity 1 and needs
//! no partition selection. Without declared bounds ρ is split evenly between the range
//! and the two percentiles.

use rand::Rng;

use super::{Protection, check_rho, exact_quantile, in_column, invalid, mark_plain};
use crate::error::{PrivacyError, Result};
use crate::mechanism::{dp_quantiles, gaussian_sigma, noisy_counts, partition_threshold};
use crate::public::PublicColumn;
use crate::tracker::{Mechanism, PrivacyTracker};

/// The lower percentile of [`Caps::fit`].
pub const LOWER_PERCENTILE: f64 = 0.01;

/// The upper percentile of [`Caps::fit`].
pub const UPPER_PERCENTILE: f64 = 0.99;

/// Positive bins of [`dp_range`] are [2^k, 2^(k+1)) for k in 0..`RANGE_OCTAVES`
/// (mirrored for negatives); |values| ≥ 2^64 fall in the outermost bin.
pub const RANGE_OCTAVES: usize = 64;

/// The chance that [`dp_range`] stretches to a bin that holds no value at all.
pub const RANGE_FALSE_BIN_PROBABILITY: f64 = 1e-3;

/// Bins: 0..OCTAVES are negative (most negative first), OCTAVES is [−1, 1), then the
/// positive ones.
const BINS: usize = 2 * RANGE_OCTAVES + 1;

/// The bin of a value (NaN has none).
fn bin_of(value: f64) -> Option<usize> {
    let top = (RANGE_OCTAVES - 1) as f64;
    if value.is_nan() {
        None
    } else if (-1.0..1.0).contains(&value) {
        Some(RANGE_OCTAVES)
    } else if value >= 1.0 {
        // [2^k, 2^(k+1)).
        let k = value.log2().floor().clamp(0.0, top) as usize;
        Some(RANGE_OCTAVES + 1 + k)
    } else {
        // [−2^(k+1), −2^k): 2^k < |value| ≤ 2^(k+1).
        let k = ((-value).log2().ceil() - 1.0).clamp(0.0, top) as usize;
        Some(RANGE_OCTAVES - 1 - k)
    }
}

/// The [lower, upper] edges of a bin.
fn bin_edges(bin: usize) -> (f64, f64) {
    if bin < RANGE_OCTAVES {
        let k = (RANGE_OCTAVES - 1 - bin) as i32;
        (-(2f64.powi(k + 1)), -(2f64.powi(k)))
    } else if bin == RANGE_OCTAVES {
        (-1.0, 1.0)
    } else {
        let k = (bin - RANGE_OCTAVES - 1) as i32;
        (2f64.powi(k), 2f64.powi(k + 1))
    }
}

/// Equal bins of the second, narrowing stage of [`dp_range`].
const FINE_BINS: usize = 32;

/// The first and last cleared bins, if any.
type Extent = Option<(usize, usize)>;

/// The first and last bins whose noisy count (deviation `sigma`) clears the threshold
/// that lets a bin holding one value through with probability
/// [`RANGE_FALSE_BIN_PROBABILITY`] / bins; `None` when none does.
fn cleared_extent(histogram: &[f64], sigma: f64, rng: &mut impl Rng) -> Result<(Extent, Vec<f64>)> {
    let threshold =
        partition_threshold(sigma, RANGE_FALSE_BIN_PROBABILITY / histogram.len() as f64)?;
    let noisy = noisy_counts(histogram, sigma, rng)?;
    let cleared = |n: &f64| *n >= threshold;
    let extent = noisy
        .iter()
        .position(cleared)
        .zip(noisy.iter().rposition(cleared));
    Ok((extent, noisy))
}

/// A ρ-zCDP range that holds the bulk of `values`, from two Gaussian histograms of ρ/2
/// each (a value is in one bin of each, so each has sensitivity 1):
/// 1. the fixed signed log₂ bins (see [`RANGE_OCTAVES`]): from the lower edge of the
///    lowest bin to the upper edge of the highest bin whose noisy count clears the
///    threshold (a bin that holds a single value gets through with probability
///    [`RANGE_FALSE_BIN_PROBABILITY`] / bins, so a lone outlier rarely widens the range);
///    when no bin clears it, the bin with the largest noisy count;
/// 2. 32 equal bins across that range, narrowed the same way (dates sit in one log₂ bin
///    that spans decades); kept as is when no fine bin clears.
///
/// The caller charges `Mechanism::Gaussian { sigma: gaussian_sigma(rho, 1), sensitivity: 1 }`
/// (or `Mechanism::Zcdp { rho }`): two halves of ρ compose to ρ. NaNs are skipped; an
/// empty input still gives a range (of noise).
pub fn dp_range(values: &[f64], rho: f64, rng: &mut impl Rng) -> Result<(f64, f64)> {
    let sigma = gaussian_sigma(rho / 2.0, 1.0)?;
    let mut histogram = vec![0.0f64; BINS];
    for bin in values.iter().filter_map(|&v| bin_of(v)) {
        histogram[bin] += 1.0;
    }
    let (extent, noisy) = cleared_extent(&histogram, sigma, rng)?;
    let (low, high) = extent.unwrap_or_else(|| {
        let best = noisy
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(RANGE_OCTAVES, |(i, _)| i);
        (best, best)
    });
    let (low, high) = (bin_edges(low).0, bin_edges(high).1);
    let width = (high - low) / FINE_BINS as f64;
    let mut fine = vec![0.0f64; FINE_BINS];
    for &v in values {
        if v >= low && v < high {
            fine[(((v - low) / width) as usize).min(FINE_BINS - 1)] += 1.0;
        }
    }
    let (extent, _) = cleared_extent(&fine, sigma, rng)?;
    Ok(match extent {
        Some((a, b)) => (low + a as f64 * width, low + (b + 1) as f64 * width),
        None => (low, high),
    })
}

/// The caps of one numeric column: [`Caps::apply`] clamps to [lower, upper].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    lower: f64,
    upper: f64,
}

impl Caps {
    /// Fits [P1, P99] of `column`; see [`Caps::fit_percentiles`].
    pub fn fit(
        column: &str,
        values: &[f64],
        source: Protection<'_>,
        tracker: &mut PrivacyTracker,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        Self::fit_percentiles(
            column,
            values,
            [LOWER_PERCENTILE, UPPER_PERCENTILE],
            source,
            tracker,
            rng,
        )
    }

    /// Fits the caps of `column` at the `[lower, upper]` percentiles (0 ≤ lower < upper
    /// ≤ 1). Non-finite values are left out of the measurement (they are capped like any
    /// other value).
    ///
    /// - [`Protection::Declared`]: the declared bounds, free; `values` is not read.
    /// - [`Protection::Dp`]: DP percentiles inside the declared bounds or, without them,
    ///   inside a [`dp_range`] (ρ split evenly); charged as "range of …" (Gaussian) and
    ///   "extreme-value caps of …" (zCDP).
    /// - [`Protection::Plain`]: exact percentiles; the run is marked not DP.
    ///
    /// Errors name the column: percentiles out of order, no finite values (when the
    /// data is read), ρ not positive, bounds missing or not a finite interval.
    pub fn fit_percentiles(
        column: &str,
        values: &[f64],
        percentiles: [f64; 2],
        source: Protection<'_>,
        tracker: &mut PrivacyTracker,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let [p_low, p_high] = percentiles;
        if !(0.0 <= p_low && p_low < p_high && p_high <= 1.0) {
            return Err(invalid(
                column,
                "percentiles",
                format!("[{p_low}, {p_high}] are not ordered within [0, 1]"),
            ));
        }
        let finite = || -> Result<Vec<f64>> {
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                return Err(invalid(column, "values", "no finite values were given"));
            }
            Ok(finite)
        };
        match source {
            Protection::Declared(declared) => {
                let Some((lower, upper)) = declared_bounds(column, declared)? else {
                    return Err(invalid(
                        column,
                        "bounds",
                        "no bounds are declared; declare them or measure them with DP",
                    ));
                };
                Ok(Self { lower, upper })
            }
            Protection::Dp { rho, declared } => {
                check_rho(column, rho)?;
                let values = finite()?;
                let declared = match declared {
                    Some(declared) => declared_bounds(column, declared)?,
                    None => None,
                };
                let ((lower, upper), rho_quantiles) = match declared {
                    Some(bounds) => (bounds, rho),
                    None => (
                        charged_range(column, column, &values, rho / 2.0, tracker, rng)?,
                        rho / 2.0,
                    ),
                };
                tracker
                    .charge(
                        format!("extreme-value caps of {column}"),
                        Mechanism::Zcdp { rho: rho_quantiles },
                    )
                    .map_err(|e| in_column(column, e))?;
                let caps = dp_quantiles(&values, lower, upper, &percentiles, rho_quantiles, rng)
                    .map_err(|e| in_column(column, e))?;
                Self::from_sorted(column, &caps)
            }
            Protection::Plain => {
                let mut values = finite()?;
                mark_plain(tracker, "extreme-value caps", column);
                values.sort_by(f64::total_cmp);
                Ok(Self {
                    lower: exact_quantile(&values, p_low),
                    upper: exact_quantile(&values, p_high),
                })
            }
        }
    }

    /// The caps from two sorted finite numbers.
    fn from_sorted(column: &str, caps: &[f64]) -> Result<Self> {
        match caps {
            [lower, upper] if lower.is_finite() && upper.is_finite() && lower <= upper => {
                Ok(Self {
                    lower: *lower,
                    upper: *upper,
                })
            }
            _ => Err(invalid(
                column,
                "caps",
                format!("{caps:?} are not two ordered numbers"),
            )),
        }
    }

    /// Clamps `value` to [lower, upper]; NaN stays NaN.
    pub fn apply(&self, value: f64) -> f64 {
        if value < self.lower {
            self.lower
        } else if value > self.upper {
            self.upper
        } else {
            value
        }
    }

    /// The lower cap.
    pub fn lower(&self) -> f64 {
        self.lower
    }

    /// The upper cap.
    pub fn upper(&self) -> f64 {
        self.upper
    }
}

/// The declared bounds of a column, checked to be a finite interval.
fn declared_bounds(column: &str, declared: &PublicColumn) -> Result<Option<(f64, f64)>> {
    match declared.bounds {
        None => Ok(None),
        Some([low, high]) if low.is_finite() && high.is_finite() && low < high => {
            Ok(Some((low, high)))
        }
        Some([low, high]) => Err(invalid(
            column,
            "bounds",
            format!("[{low}, {high}] is not a finite interval"),
        )),
    }
}

/// A [`dp_range`] at `rho`, charged to the tracker as "range of `what`"; errors name
/// `column`.
pub(crate) fn charged_range(
    column: &str,
    what: &str,
    values: &[f64],
    rho: f64,
    tracker: &mut PrivacyTracker,
    rng: &mut impl Rng,
) -> Result<(f64, f64)> {
    let sigma = gaussian_sigma(rho, 1.0).map_err(|e| in_column(column, e))?;
    tracker
        .charge(
            format!("range of {what}"),
            Mechanism::Gaussian {
                sigma,
                sensitivity: 1.0,
            },
        )
        .map_err(|e| in_column(column, e))?;
    dp_range(values, rho, rng).map_err(|e: PrivacyError| in_column(column, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::PrivacyBudget;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, LogNormal, Normal};

    fn tracker() -> PrivacyTracker {
        PrivacyTracker::new(PrivacyBudget::new(20.0, 1e-5).expect("budget"))
    }

    /// 10 000 draws of N(50, 10²) and one huge outlier.
    fn incomes() -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(100);
        let normal = Normal::new(50.0, 10.0).expect("normal");
        let mut values: Vec<f64> = (0..10_000).map(|_| normal.sample(&mut rng)).collect();
        values.push(1e12);
        values
    }

    #[test]
    fn bins_partition_the_line() {
        assert_eq!(bin_of(0.0), Some(RANGE_OCTAVES));
        assert_eq!(bin_of(-1.0), Some(RANGE_OCTAVES));
        assert_eq!(bin_of(f64::NAN), None);
        for value in [1.0, 1.5, 2.0, 3.9, 1e6, -1.5, -2.0, -2.5, -1e6, 0.999, -0.5] {
            let bin = bin_of(value).expect("bin");
            let (low, high) = bin_edges(bin);
            assert!(low <= value && value <= high, "{value} in [{low}, {high}]");
        }
        assert_eq!(bin_of(f64::INFINITY), Some(BINS - 1));
        assert_eq!(bin_of(f64::NEG_INFINITY), Some(0));
        assert_eq!(bin_edges(BINS - 1).1, 2f64.powi(64));
    }

    #[test]
    fn dp_range_covers_the_bulk_and_ignores_a_lone_outlier() {
        let values = incomes();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (low, high) = dp_range(&values, 0.1, &mut rng).expect("range");
        let inside = values.iter().filter(|v| (low..=high).contains(*v)).count();
        // The narrowing stage may trim sparse tails, never the bulk.
        assert!(
            inside as f64 >= 0.99 * values.len() as f64,
            "[{low}, {high}]"
        );
        assert!(low >= 0.0 && high <= 256.0, "[{low}, {high}]");

        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let signed: Vec<f64> = (0..5000).map(|i| f64::from(i) - 2500.0).collect();
        let (low, high) = dp_range(&signed, 0.1, &mut rng).expect("range");
        assert!(
            (-4096.0..=-2300.0).contains(&low) && (2300.0..=4096.0).contains(&high),
            "[{low}, {high}]"
        );

        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let small: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1e4).collect();
        let (low, high) = dp_range(&small, 0.1, &mut rng).expect("range");
        assert!(
            (-1.0..=0.0).contains(&low) && (0.09..=1.0).contains(&high),
            "[{low}, {high}]"
        );
        assert!(dp_range(&small, 0.0, &mut rng).is_err());
        // Noise only, but still a range.
        let (low, high) = dp_range(&[], 0.1, &mut rng).expect("empty");
        assert!(low < high);
    }

    #[test]
    fn dp_caps_are_close_to_the_exact_ones_and_charged() {
        let values = incomes();
        let mut plain = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let exact =
            Caps::fit("income", &values, Protection::Plain, &mut plain, &mut rng).expect("plain");
        // N(50, 10²): P1 ≈ 26.7, P99 ≈ 73.3.
        assert!((exact.lower() - 26.74).abs() < 1.0, "{exact:?}");
        assert!((exact.upper() - 73.26).abs() < 1.0, "{exact:?}");

        let mut tracker = tracker();
        let before = tracker.report().expect("report").epsilon_rdp;
        let caps = Caps::fit(
            "income",
            &values,
            Protection::dp(1.0),
            &mut tracker,
            &mut rng,
        )
        .expect("dp");
        assert!(
            (caps.lower() / exact.lower() - 1.0).abs() < 0.03,
            "{caps:?}"
        );
        assert!(
            (caps.upper() / exact.upper() - 1.0).abs() < 0.03,
            "{caps:?}"
        );
        let report = tracker.report().expect("report");
        assert!(report.differentially_private);
        assert!(report.epsilon_rdp > before);
        let labels: Vec<&str> = report.events.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            labels,
            vec!["range of income", "extreme-value caps of income"]
        );
        // ρ split evenly.
        assert!(matches!(report.events[1].mechanism, Mechanism::Zcdp { rho } if rho == 0.5));

        assert_eq!(caps.apply(1e12), caps.upper());
        assert_eq!(caps.apply(-5.0), caps.lower());
        assert_eq!(caps.apply(50.0), 50.0);
        assert!(caps.apply(f64::NAN).is_nan());
    }

    #[test]
    fn dp_within_declared_bounds_spends_everything_on_the_percentiles() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let lognormal = LogNormal::new(10.0, 1.0).expect("lognormal");
        let values: Vec<f64> = (0..10_000).map(|_| lognormal.sample(&mut rng)).collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let (p1, p99) = (exact_quantile(&sorted, 0.01), exact_quantile(&sorted, 0.99));
        let declared = PublicColumn {
            bounds: Some([0.0, 1e7]),
            ..Default::default()
        };
        let mut tracker = tracker();
        let caps = Caps::fit(
            "salary",
            &values,
            Protection::dp_with(2.0, &declared),
            &mut tracker,
            &mut rng,
        )
        .expect("dp");
        assert!((caps.lower() / p1 - 1.0).abs() < 0.05, "{caps:?} vs {p1}");
        assert!((caps.upper() / p99 - 1.0).abs() < 0.05, "{caps:?} vs {p99}");
        let report = tracker.report().expect("report");
        assert_eq!(report.events.len(), 1);
        assert!(matches!(report.events[0].mechanism, Mechanism::Zcdp { rho } if rho == 2.0));
    }

    #[test]
    fn declared_bounds_are_free_and_plain_is_not_dp() {
        let declared = PublicColumn {
            bounds: Some([17.0, 90.0]),
            ..Default::default()
        };
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let caps = Caps::fit(
            "age",
            &[],
            Protection::Declared(&declared),
            &mut tracker,
            &mut rng,
        )
        .expect("declared");
        assert_eq!((caps.lower(), caps.upper()), (17.0, 90.0));
        assert_eq!(caps.apply(100.0), 90.0);
        let report = tracker.report().expect("report");
        assert!(report.events.is_empty());
        assert!(report.differentially_private);

        let values: Vec<f64> = (0..=100).map(f64::from).collect();
        let caps =
            Caps::fit("age", &values, Protection::Plain, &mut tracker, &mut rng).expect("plain");
        assert_eq!((caps.lower(), caps.upper()), (1.0, 99.0));
        let report = tracker.report().expect("report");
        assert!(!report.differentially_private);
        assert!(
            report.not_dp_reasons[0].contains("age"),
            "{:?}",
            report.not_dp_reasons
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_the_column() {
        let none = PublicColumn::default();
        let inverted = PublicColumn {
            bounds: Some([5.0, 1.0]),
            ..Default::default()
        };
        let values = [1.0, 2.0, 3.0];
        let cases: Vec<(&[f64], [f64; 2], Protection<'_>)> = vec![
            (&values, [0.01, 0.99], Protection::Declared(&none)),
            (&values, [0.01, 0.99], Protection::Declared(&inverted)),
            (&values, [0.01, 0.99], Protection::dp_with(1.0, &inverted)),
            (&values, [0.01, 0.99], Protection::dp(0.0)),
            (&values, [0.01, 0.99], Protection::dp(f64::INFINITY)),
            (&[], [0.01, 0.99], Protection::dp(1.0)),
            (&[f64::NAN], [0.01, 0.99], Protection::Plain),
            (&values, [0.99, 0.01], Protection::Plain),
            (&values, [0.5, 1.5], Protection::Plain),
        ];
        for (values, percentiles, source) in cases {
            let mut tracker = tracker();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let err = Caps::fit_percentiles(
                "income",
                values,
                percentiles,
                source,
                &mut tracker,
                &mut rng,
            )
            .expect_err("refused");
            assert!(err.to_string().contains("\"income\""), "{err}");
            assert!(tracker.events().is_empty());
            assert!(tracker.not_dp_reasons().is_empty());
        }
    }
}
