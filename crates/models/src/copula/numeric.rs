//! The marginal of a numeric or datetime column: a null rate, a distribution for the
//! non-null values, the observed bounds and the rounding quantum.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::config::{GaussianCopulaConfig, MarginalChoice};
use super::family::{Family, best_parametric, empirical};

/// How a numeric column is modelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericMarginal {
    /// Share of nulls; nulls occupy `u ∈ [0, null_rate)` of the copula's uniform scale.
    pub null_rate: f64,
    /// Smallest observed value.
    pub min: f64,
    /// Largest observed value.
    pub max: f64,
    /// Generated values are rounded to multiples of this (1 for integers, 10⁻ᵈ for floats
    /// with d decimals, a day or second for datetimes at that granularity).
    pub quantum: Option<f64>,
    /// Distribution of the non-null values.
    pub family: Family,
    /// KS statistic of `family` against the training values.
    pub fit_ks: f64,
}

/// The finest decimal quantum that every value is a multiple of, up to 6 decimals.
pub(crate) fn decimal_quantum(values: &[f64]) -> Option<f64> {
    (0..=6).find_map(|d| {
        let scale = 10f64.powi(d);
        let fits = values.iter().all(|x| {
            let scaled = x * scale;
            (scaled - scaled.round()).abs() <= 1e-9 * scaled.abs().max(1.0)
        });
        fits.then_some(1.0 / scale)
    })
}

/// The coarsest of day, second and millisecond that every timestamp (ms) is a multiple of.
pub(crate) fn datetime_quantum(values: &[f64]) -> f64 {
    [86_400_000.0, 3_600_000.0, 60_000.0, 1_000.0]
        .into_iter()
        .find(|q| values.iter().all(|x| x.rem_euclid(*q) == 0.0))
        .unwrap_or(1.0)
}

/// The kind of numbers a column holds, which decides rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// Whole numbers.
    Integer,
    /// Real numbers.
    Float,
    /// Milliseconds since the epoch.
    Datetime,
}

impl NumericMarginal {
    /// Fits the marginal. `values` holds one entry per row. Returns the marginal, each
    /// row's position on the uniform scale of the non-null values (NaN for nulls,
    /// randomised within ties), and — when the column has nulls — each row's position on
    /// a second uniform scale whose bottom `null_rate` means null, so that missingness has
    /// its own dimension in the copula and can correlate with other columns.
    pub fn fit(
        values: &[Option<f64>],
        kind: NumberKind,
        config: &GaussianCopulaConfig,
        rng: &mut impl Rng,
    ) -> Option<(Self, Vec<f64>, Option<Vec<f64>>)> {
        let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let null_rate = (values.len() - n) as f64 / values.len() as f64;
        let (min, max) = (sorted[0], sorted[n - 1]);
        let quantum = match kind {
            NumberKind::Integer => Some(1.0),
            NumberKind::Float => decimal_quantum(&sorted),
            NumberKind::Datetime => Some(datetime_quantum(&sorted)),
        };
        let empirical_family = || empirical(&sorted, config.quantile_points.min(n.max(2)));
        let (family, fit_ks) = match (config.marginals, best_parametric(&sorted)) {
            (MarginalChoice::Empirical, _) | (_, None) => (empirical_family(), 0.0),
            (MarginalChoice::Parametric, Some((family, d))) => (family, d),
            (MarginalChoice::Auto, Some((family, d))) if d <= config.parametric_tolerance => {
                (family, d)
            }
            (MarginalChoice::Auto, Some(_)) => (empirical_family(), 0.0),
        };
        let empirical_ranks = matches!(family, Family::Empirical { .. });
        let marginal = Self {
            null_rate,
            min,
            max,
            quantum,
            family,
            fit_ks,
        };
        // Probability integral transform. Empirical marginals use the data's own ranks,
        // drawn uniformly inside each tie run so that heavy ties (e.g. 90 % zeros) do not
        // collapse onto one normal score.
        let uniforms = values
            .iter()
            .map(|v| match v {
                None => f64::NAN,
                Some(x) if empirical_ranks => {
                    let below = sorted.partition_point(|s| s < x);
                    let through = sorted.partition_point(|s| s <= x);
                    (below as f64 + rng.random::<f64>() * (through - below) as f64) / n as f64
                }
                Some(x) => marginal.family.cdf(*x),
            })
            .collect();
        let nulls = (null_rate > 0.0).then(|| {
            values
                .iter()
                .map(|v| match v {
                    None => rng.random::<f64>() * null_rate,
                    Some(_) => null_rate + rng.random::<f64>() * (1.0 - null_rate),
                })
                .collect()
        });
        Some((marginal, uniforms, nulls))
    }

    /// Whether the column has a null dimension in the copula.
    pub fn has_nulls(&self) -> bool {
        self.null_rate > 0.0
    }

    /// The value at position `u` of the values' uniform scale, or null when the null
    /// dimension's position `null_u` falls in the bottom `null_rate`.
    pub fn value_at(&self, u: f64, null_u: Option<f64>, enforce_bounds: bool) -> Option<f64> {
        if null_u.is_some_and(|n| n < self.null_rate) {
            return None;
        }
        let mut x = self.family.quantile(u);
        if let Some(q) = self.quantum {
            x = round_to_quantum(x, q);
        }
        if enforce_bounds || !x.is_finite() {
            x = x.clamp(self.min, self.max);
        }
        Some(x)
    }
}
/// `x` rounded to a multiple of `q`. Sub-unit quanta (10⁻ᵈ) divide by their reciprocal so
/// that 2.03 stays 2.03 rather than 2.0300000000000002.
pub(crate) fn round_to_quantum(x: f64, q: f64) -> f64 {
    if q < 1.0 {
        let scale = (1.0 / q).round();
        (x * scale).round() / scale
    } else {
        (x / q).round() * q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rounding_keeps_the_shortest_decimal_form() {
        assert_eq!(round_to_quantum(2.030_000_4, 0.01).to_string(), "2.03");
        assert_eq!(round_to_quantum(0.1 + 0.2, 0.1).to_string(), "0.3");
        assert_eq!(round_to_quantum(86_400_123.0, 86_400_000.0), 86_400_000.0);
    }

    #[test]
    fn quantum_detection() {
        assert_eq!(decimal_quantum(&[1.0, 2.0]), Some(1.0));
        assert_eq!(decimal_quantum(&[1.5, 2.25]), Some(0.01));
        assert_eq!(decimal_quantum(&[std::f64::consts::PI]), None);
        assert_eq!(datetime_quantum(&[0.0, 86_400_000.0 * 3.0]), 86_400_000.0);
        assert_eq!(datetime_quantum(&[1_000.0, 86_400_000.0]), 1_000.0);
    }

    #[test]
    fn nulls_have_their_own_dimension_and_values_stay_in_bounds() {
        let values = vec![None, Some(1.0), Some(2.0), Some(3.0)];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let config = GaussianCopulaConfig {
            marginals: MarginalChoice::Empirical,
            ..GaussianCopulaConfig::default()
        };
        let (marginal, u, nulls) =
            NumericMarginal::fit(&values, NumberKind::Integer, &config, &mut rng).expect("fits");
        let nulls = nulls.expect("has a null dimension");
        assert_eq!(marginal.null_rate, 0.25);
        assert!(u[0].is_nan());
        assert!(u[1] < 1.0 / 3.0 && u[3] >= 2.0 / 3.0);
        assert!(nulls[0] < 0.25 && nulls[1..].iter().all(|n| *n >= 0.25));
        assert_eq!(marginal.value_at(0.5, Some(0.1), true), None);
        assert_eq!(marginal.value_at(0.0, Some(0.5), true), Some(1.0));
        assert_eq!(marginal.value_at(1.0, None, true), Some(3.0));
        let mid = marginal.value_at(0.62, None, true).expect("value");
        assert_eq!(mid, mid.round(), "integers stay integers");
    }
}
