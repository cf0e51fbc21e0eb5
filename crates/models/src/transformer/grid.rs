//! The CDF of a DP quantile grid, for the normal scores of a DP transformer's numeric
//! columns.
//!
//! The grid holds the quantiles at probabilities `p_i = 0.01 + 0.98·i/k` (P1 to P99),
//! repeats included: a run of equal quantiles is a point mass (a capital gain of 0 in
//! 90 % of rows) and keeps the whole probability range it spans, so that decoding maps a
//! wide band of scores back onto the exact value. Between distinct quantiles the CDF is
//! linear. A run that starts the grid reaches down to probability 0, one that ends it up
//! to 1 (values outside [P1, P99] are capped to the ends).

use serde::{Deserialize, Serialize};

use crate::copula::numeric::round_to_quantum;

/// A monotone CDF through the quantile grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileCdf {
    /// Sorted quantiles (repeats kept).
    values: Vec<f64>,
    /// The probability of each quantile.
    probabilities: Vec<f64>,
    /// Decoded values are rounded to multiples of this.
    quantum: Option<f64>,
}

impl QuantileCdf {
    /// The CDF of DP quantiles at P1..P99 in equal steps; `None` without a finite value.
    pub fn from_quantiles(quantiles: &[f64], quantum: Option<f64>) -> Option<Self> {
        let mut values: Vec<f64> = quantiles
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| match quantum {
                Some(q) if q > 0.0 => round_to_quantum(v, q),
                _ => v,
            })
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let k = (values.len() - 1).max(1) as f64;
        let probabilities = (0..values.len())
            .map(|i| 0.01 + 0.98 * i as f64 / k)
            .collect();
        Some(Self {
            values,
            probabilities,
            quantum,
        })
    }

    /// Smallest and largest value.
    pub fn range(&self) -> (f64, f64) {
        (
            self.values.first().copied().unwrap_or(0.0),
            self.values.last().copied().unwrap_or(0.0),
        )
    }

    /// The probability of the run of quantiles equal to `x` (its middle), or the linear
    /// interpolation between the quantiles around `x` (capped to the range).
    pub fn cdf(&self, x: f64) -> f64 {
        let (low, high) = self.range();
        let x = x.clamp(low, high);
        let last = self.values.len() - 1;
        let tolerance = self.quantum.map_or(0.0, |q| 0.5 * q);
        let first = self.values.partition_point(|&v| v < x - tolerance);
        let end = self.values.partition_point(|&v| v <= x + tolerance);
        if end > first {
            // A run of equal quantiles (one quantile is a run of one).
            let lower = if first == 0 {
                0.0
            } else {
                self.probabilities[first]
            };
            let upper = if end - 1 == last {
                1.0
            } else {
                self.probabilities[end - 1]
            };
            return 0.5 * (lower + upper);
        }
        // values[first - 1] < x < values[first].
        let i = first.saturating_sub(1).min(last.saturating_sub(1));
        let (a, b) = (self.values[i], self.values[i + 1]);
        let t = if b > a { (x - a) / (b - a) } else { 0.5 };
        self.probabilities[i] + t * (self.probabilities[i + 1] - self.probabilities[i])
    }

    /// The inverse of [`Self::cdf`], rounded to the quantum: a run of equal quantiles
    /// takes every probability it spans.
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        let (low, high) = self.range();
        let last = self.values.len() - 1;
        let x = if u <= self.probabilities[0] || last == 0 {
            low
        } else if u >= self.probabilities[last] {
            high
        } else {
            let i = self.probabilities.partition_point(|&p| p <= u) - 1;
            let (p0, p1) = (self.probabilities[i], self.probabilities[i + 1]);
            let t = (u - p0) / (p1 - p0);
            self.values[i] + t * (self.values[i + 1] - self.values[i])
        };
        match self.quantum {
            Some(q) if q > 0.0 => round_to_quantum(x, q).clamp(low, high),
            _ => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_mass_keeps_its_probability_range() {
        // 0 from P1 to P81 (run of 9 of 11 quantiles), then 100 and 200.
        let mut q = vec![0.0; 9];
        q.extend([100.0, 200.0]);
        let cdf = QuantileCdf::from_quantiles(&q, Some(1.0)).expect("grid");
        let u = cdf.cdf(0.0);
        assert!((u - 0.5 * (0.0 + 0.01 + 0.98 * 0.8)).abs() < 1e-12, "{u}");
        for u in [0.0, 0.2, 0.5, 0.78] {
            assert_eq!(cdf.inverse_cdf(u), 0.0);
        }
        assert_eq!(cdf.inverse_cdf(0.999), 200.0);
        let mid = cdf.cdf(150.0);
        assert!((cdf.inverse_cdf(mid) - 150.0).abs() < 1e-9);
        assert!(cdf.cdf(-5.0) == cdf.cdf(0.0) && cdf.cdf(1e9) == cdf.cdf(200.0));
    }

    #[test]
    fn distinct_quantiles_interpolate_both_ways() {
        let q: Vec<f64> = (0..=32).map(|i| f64::from(i) * 3.0).collect();
        let cdf = QuantileCdf::from_quantiles(&q, None).expect("grid");
        for x in [0.5, 10.0, 47.3, 95.9] {
            let back = cdf.inverse_cdf(cdf.cdf(x));
            assert!((back - x).abs() < 1e-9, "{x} → {back}");
        }
        let mut previous = -1.0;
        for x in 0..=96 {
            let u = cdf.cdf(f64::from(x));
            assert!(u > previous, "not increasing at {x}");
            previous = u;
        }
    }
}
