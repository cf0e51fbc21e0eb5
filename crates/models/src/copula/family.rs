//! Univariate distributions for numeric marginals: parametric families and the empirical
//! quantile function, with selection by the Kolmogorov–Smirnov statistic.

use serde::{Deserialize, Serialize};

use crate::stats::normal;

/// A continuous distribution on the real line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Family {
    /// N(mean, std²).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (> 0).
        std: f64,
    },
    /// exp(N(mu, sigma²)), for positive data.
    LogNormal {
        /// Mean of the log.
        mu: f64,
        /// Std of the log (> 0).
        sigma: f64,
    },
    /// U(low, high).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (> low).
        high: f64,
    },
    /// loc + Exp(rate).
    Exponential {
        /// Shift.
        loc: f64,
        /// Rate (> 0).
        rate: f64,
    },
    /// Linear interpolation between quantiles at evenly spaced probabilities 0, 1/(k−1), …, 1.
    Empirical {
        /// The quantiles, non-decreasing.
        quantiles: Vec<f64>,
    },
}

impl Family {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Normal { .. } => "normal",
            Family::LogNormal { .. } => "lognormal",
            Family::Uniform { .. } => "uniform",
            Family::Exponential { .. } => "exponential",
            Family::Empirical { .. } => "empirical",
        }
    }

    /// The CDF at `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Family::Normal { mean, std } => normal::cdf((x - mean) / std),
            Family::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    normal::cdf((x.ln() - mu) / sigma)
                }
            }
            Family::Uniform { low, high } => ((x - low) / (high - low)).clamp(0.0, 1.0),
            Family::Exponential { loc, rate } => {
                if x <= *loc {
                    0.0
                } else {
                    1.0 - (-(x - loc) * rate).exp()
                }
            }
            Family::Empirical { quantiles } => empirical_cdf(quantiles, x),
        }
    }

    /// The CDF at `x`, except that a value repeated across several empirical quantiles (a
    /// point mass, such as the zeros of a mostly-zero column) maps to the middle of its
    /// flat run rather than its top. Normal scores of such values then sit where the
    /// quantile function gives the value back on both sides, so a small error on the score
    /// scale does not turn the point mass into nearby values.
    pub fn cdf_midpoint(&self, x: f64) -> f64 {
        match self {
            Family::Empirical { quantiles } => {
                let first = quantiles.partition_point(|&q| q < x);
                let end = quantiles.partition_point(|&q| q <= x);
                let last = quantiles.len().saturating_sub(1);
                if end > first + 1 && last > 0 {
                    ((first + end - 1) as f64 / 2.0) / last as f64
                } else {
                    self.cdf(x)
                }
            }
            other => other.cdf(x),
        }
    }

    /// The quantile function at `p` in [0, 1].
    pub fn quantile(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        match self {
            Family::Normal { mean, std } => mean + std * normal::quantile(p),
            Family::LogNormal { mu, sigma } => (mu + sigma * normal::quantile(p)).exp(),
            Family::Uniform { low, high } => low + p * (high - low),
            Family::Exponential { loc, rate } => loc - (1.0 - p).ln() / rate,
            Family::Empirical { quantiles } => {
                let last = quantiles.len().saturating_sub(1);
                let position = p * last as f64;
                let below = (position.floor() as usize).min(last);
                let above = (below + 1).min(last);
                let t = position - below as f64;
                quantiles[below] + t * (quantiles[above] - quantiles[below])
            }
        }
    }
}

fn empirical_cdf(quantiles: &[f64], x: f64) -> f64 {
    let last = quantiles.len().saturating_sub(1);
    if last == 0 || x < quantiles[0] {
        return if quantiles.first().is_some_and(|&q| x >= q) {
            1.0
        } else {
            0.0
        };
    }
    if x >= quantiles[last] {
        return 1.0;
    }
    let above = quantiles.partition_point(|&q| q <= x);
    let below = above - 1;
    let span = quantiles[above] - quantiles[below];
    let t = if span > 0.0 {
        (x - quantiles[below]) / span
    } else {
        0.0
    };
    (below as f64 + t) / last as f64
}

/// Quantiles of sorted `values` at `points` evenly spaced probabilities (R's type 7).
pub fn empirical(sorted: &[f64], points: usize) -> Family {
    let n = sorted.len();
    let quantiles = (0..points)
        .map(|k| {
            let h = (n - 1) as f64 * k as f64 / (points - 1) as f64;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        })
        .collect();
    Family::Empirical { quantiles }
}

/// Kolmogorov–Smirnov statistic of sorted data against a CDF:
/// `max_i max(i/n − F(x_i), F(x_i) − (i−1)/n)`, evaluated at the last of each tie run.
pub fn ks_statistic(sorted: &[f64], family: &Family) -> f64 {
    let n = sorted.len() as f64;
    let mut worst: f64 = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let f = family.cdf(sorted[i]);
        worst = worst.max((j + 1) as f64 / n - f).max(f - i as f64 / n);
        i = j + 1;
    }
    worst
}

/// The parametric families that can describe this data (moment / likelihood estimates).
pub fn parametric_candidates(sorted: &[f64]) -> Vec<Family> {
    let n = sorted.len() as f64;
    if sorted.len() < 2 {
        return Vec::new();
    }
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let mean = sorted.iter().sum::<f64>() / n;
    let var = sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let mut out = Vec::new();
    if var > 0.0 {
        out.push(Family::Normal {
            mean,
            std: var.sqrt(),
        });
        out.push(Family::Uniform {
            low: min,
            high: max,
        });
        if mean > min {
            out.push(Family::Exponential {
                loc: min,
                rate: 1.0 / (mean - min),
            });
        }
    }
    if min > 0.0 {
        let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
        let mu = logs.iter().sum::<f64>() / n;
        let s2 = logs.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0);
        if s2 > 0.0 {
            out.push(Family::LogNormal {
                mu,
                sigma: s2.sqrt(),
            });
        }
    }
    out
}

/// The best parametric family by KS statistic, with its statistic.
pub fn best_parametric(sorted: &[f64]) -> Option<(Family, f64)> {
    parametric_candidates(sorted)
        .into_iter()
        .map(|f| {
            let d = ks_statistic(sorted, &f);
            (f, d)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_mass_maps_to_the_middle_of_its_run() {
        let mut values = vec![0.0; 90];
        values.extend((1..=10).map(f64::from));
        let family = empirical(&values, 101);
        let mid = family.cdf_midpoint(0.0);
        assert!((0.40..0.50).contains(&mid), "{mid}");
        // Both sides of the midpoint decode to the point mass.
        assert_eq!(family.quantile(mid - 0.1), 0.0);
        assert_eq!(family.quantile(mid + 0.1), 0.0);
        // Values off the point mass keep the ordinary CDF.
        assert_eq!(family.cdf_midpoint(5.5), family.cdf(5.5));
    }

    #[test]
    fn empirical_quantiles_interpolate_and_invert() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
        let family = empirical(&sorted, 5);
        assert_eq!(family.quantile(0.0), 1.0);
        assert_eq!(family.quantile(1.0), 5.0);
        assert!((family.quantile(0.5) - 3.0).abs() < 1e-12);
        assert!((family.quantile(0.125) - 1.5).abs() < 1e-12);
        assert!((family.cdf(1.5) - 0.125).abs() < 1e-12);
        assert_eq!(family.cdf(0.0), 0.0);
        assert_eq!(family.cdf(9.0), 1.0);
    }

    #[test]
    fn ties_stay_exact_in_the_quantile_function() {
        let mut sorted = vec![0.0; 90];
        sorted.extend((1..=10).map(f64::from));
        let family = empirical(&sorted, 101);
        assert_eq!(family.quantile(0.5), 0.0);
        assert_eq!(family.quantile(0.89), 0.0);
        assert!(family.quantile(0.99) > 0.0);
    }

    #[test]
    fn ks_statistic_of_uniform_grid_against_uniform() {
        // Data at 0.25 and 0.75 against U(0, 1): D = max(0.5 - 0.25, 0.25 - 0) = 0.25.
        let d = ks_statistic(
            &[0.25, 0.75],
            &Family::Uniform {
                low: 0.0,
                high: 1.0,
            },
        );
        assert!((d - 0.25).abs() < 1e-12);
    }

    #[test]
    fn normal_data_selects_the_normal_family() {
        let mut sorted: Vec<f64> = (1..2000)
            .map(|i| 10.0 + 2.0 * normal::quantile(i as f64 / 2000.0))
            .collect();
        sorted.sort_by(f64::total_cmp);
        let (family, d) = best_parametric(&sorted).expect("fits");
        assert_eq!(family.name(), "normal");
        assert!(d < 0.01, "{d}");
    }
}
