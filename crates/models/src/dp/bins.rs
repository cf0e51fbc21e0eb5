//! Numeric tokens from a DP quantile grid.
//!
//! Each distinct grid value is an exact token (a point mass such as a capital gain of 0
//! shows up as a repeated quantile), and each gap between consecutive distinct values
//! that can hold a value of the column's quantum is an interval token, decoded uniformly
//! and rounded to the quantum. Values outside [P1, P99] are capped to the ends.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::ColumnStats;

/// A numeric column's tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericBins {
    /// Distinct grid values, sorted.
    values: Vec<f64>,
    /// Token of each value.
    exact: Vec<u32>,
    /// Token of the gap after each value (`None`: nothing fits in it).
    gaps: Vec<Option<u32>>,
    /// What each token is: `(low, high)`, equal for exact tokens.
    tokens: Vec<(f64, f64)>,
    /// Values are multiples of this.
    quantum: Option<f64>,
}

fn round_to(x: f64, quantum: Option<f64>) -> f64 {
    match quantum {
        Some(q) if q > 0.0 => (x / q).round() * q,
        _ => x,
    }
}

impl NumericBins {
    /// The bins of numeric statistics; `None` for discrete ones or an empty grid.
    pub fn from_stats(stats: &ColumnStats) -> Option<Self> {
        let ColumnStats::Numeric {
            quantiles, quantum, ..
        } = stats
        else {
            return None;
        };
        Self::from_grid(quantiles, *quantum)
    }

    /// The bins of a quantile grid whose values are multiples of `quantum`; `None` for
    /// an empty grid.
    pub fn from_grid(quantiles: &[f64], quantum: Option<f64>) -> Option<Self> {
        let mut values: Vec<f64> = quantiles
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| round_to(v, quantum))
            .collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        if values.is_empty() {
            return None;
        }
        let mut tokens = Vec::with_capacity(2 * values.len());
        let mut gaps = Vec::with_capacity(values.len());
        let mut exact = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            exact.push(tokens.len() as u32);
            tokens.push((v, v));
            let room = values.get(i + 1).and_then(|&next| match quantum {
                Some(q) if q > 0.0 => {
                    let first = (v / q).floor() * q + q;
                    (first < next - q * 1e-6).then_some((v, next))
                }
                _ => (next > v).then_some((v, next)),
            });
            gaps.push(room.map(|(a, b)| {
                tokens.push((a, b));
                (tokens.len() - 1) as u32
            }));
        }
        Some(Self {
            values,
            exact,
            gaps,
            tokens,
            quantum,
        })
    }

    /// Tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens (never, for bins built by [`Self::from_stats`]).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Lowest and highest value generated.
    pub fn range(&self) -> (f64, f64) {
        (
            self.values.first().copied().unwrap_or(0.0),
            self.values.last().copied().unwrap_or(0.0),
        )
    }

    /// Each token's `(low, high)`, by token: equal for an exact token; the ends of the
    /// gap for an interval token ([`Self::interval`] gives the values it decodes to).
    pub fn tokens(&self) -> &[(f64, f64)] {
        &self.tokens
    }

    /// Token `token`'s `(low, high)` (see [`Self::tokens`]); `None` past the last token.
    pub fn token_range(&self, token: u32) -> Option<(f64, f64)> {
        self.tokens.get(token as usize).copied()
    }

    /// The least and greatest value [`Self::decode`] gives for the gap `(low, high)`:
    /// the multiples of the quantum strictly inside it (the first one when none is),
    /// or the ends themselves without a quantum.
    pub fn interval(&self, low: f64, high: f64) -> (f64, f64) {
        match self.quantum {
            Some(q) if q > 0.0 => {
                let first = (low / q).floor() * q + q;
                let last = (high / q).ceil() * q - q;
                (first, last.max(first))
            }
            _ => (low, high),
        }
    }

    fn exact_token(&self, index: usize) -> u32 {
        self.exact[index]
    }

    /// The token of `x` (capped to the grid's range).
    pub fn encode(&self, x: f64) -> u32 {
        let (low, high) = self.range();
        let x = round_to(x.clamp(low, high), self.quantum);
        let tolerance = self.quantum.map_or(1e-9 * x.abs().max(1.0), |q| q * 0.5);
        // The last value ≤ x.
        let index = self.values.partition_point(|&v| v <= x + tolerance * 1e-3);
        let index = index.saturating_sub(1);
        let v = self.values[index];
        if (x - v).abs() <= tolerance {
            return self.exact_token(index);
        }
        if let Some(next) = self.values.get(index + 1)
            && (next - x).abs() <= tolerance
        {
            return self.exact_token(index + 1);
        }
        match self.gaps[index] {
            Some(token) => token,
            None => self.exact_token(index),
        }
    }

    /// A value of `token`: the exact value, or uniform in the interval rounded to the
    /// quantum (kept strictly inside when the quantum allows).
    pub fn decode(&self, token: u32, rng: &mut impl Rng) -> f64 {
        let Some(&(low, high)) = self.tokens.get(token as usize) else {
            return self.range().0;
        };
        if low == high {
            return low;
        }
        let x = low + (high - low) * rng.random::<f64>();
        match self.quantum {
            Some(q) if q > 0.0 => {
                let (first, last) = self.interval(low, high);
                round_to(x, Some(q)).clamp(first, last)
            }
            _ => x,
        }
    }

    /// The CDF at x by linear interpolation of the grid (grid point i at
    /// (i + ½)/(m + 1)), for normal scores.
    pub fn cdf(&self, x: f64) -> f64 {
        let m = self.values.len();
        let position = |i: f64| (i + 0.5) / m as f64;
        let (low, high) = self.range();
        if m == 1 || x <= low {
            return position(0.0).min(0.5);
        }
        if x >= high {
            return position((m - 1) as f64);
        }
        let i = self.values.partition_point(|&v| v <= x) - 1;
        let (a, b) = (self.values[i], self.values[i + 1]);
        let t = if b > a { (x - a) / (b - a) } else { 0.0 };
        position(i as f64 + t)
    }

    /// The inverse of [`Self::cdf`], rounded to the quantum.
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        let m = self.values.len();
        if m == 1 {
            return self.values[0];
        }
        let position = (u * m as f64 - 0.5).clamp(0.0, (m - 1) as f64);
        let i = (position.floor() as usize).min(m - 2);
        let t = position - i as f64;
        let x = self.values[i] + t * (self.values[i + 1] - self.values[i]);
        round_to(x, self.quantum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn numeric(quantiles: Vec<f64>, quantum: Option<f64>) -> ColumnStats {
        ColumnStats::Numeric {
            quantiles,
            count: 100.0,
            null_count: 0.0,
            quantum,
        }
    }

    #[test]
    fn point_masses_get_exact_tokens_and_gaps_intervals() {
        let bins = NumericBins::from_stats(&numeric(
            vec![0.0, 0.0, 0.0, 0.0, 7.0, 8.0, 100.0],
            Some(1.0),
        ))
        .expect("bins");
        // 0, (0,7), 7, 8, (8,100), 100 — nothing fits between 7 and 8.
        assert_eq!(bins.len(), 6);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for x in [0.0, 3.0, 7.0, 8.0, 50.0, 100.0, -5.0, 500.0] {
            let token = bins.encode(x);
            let back = bins.decode(token, &mut rng);
            let capped = x.clamp(0.0, 100.0);
            if [0.0, 7.0, 8.0, 100.0].contains(&capped) {
                assert_eq!(back, capped, "{x}");
            } else {
                assert!(
                    back > 0.0 && back < 100.0 && back.fract() == 0.0,
                    "{x} {back}"
                );
            }
        }
        assert_eq!(bins.encode(3.0), bins.encode(6.0));
        assert_ne!(bins.encode(3.0), bins.encode(9.0));
    }

    #[test]
    fn cdf_and_inverse_agree() {
        let bins = NumericBins::from_stats(&numeric(vec![1.0, 2.0, 4.0, 8.0], None)).expect("bins");
        for x in [1.5, 3.0, 5.0, 7.5] {
            let u = bins.cdf(x);
            assert!((bins.inverse_cdf(u) - x).abs() < 1e-9, "{x}");
        }
        assert!(bins.cdf(0.0) <= bins.cdf(1.0) && bins.cdf(9.0) >= bins.cdf(8.0));
        assert!(
            NumericBins::from_stats(&ColumnStats::Discrete {
                categories: vec![],
                counts: vec![],
                other: true,
                null_count: 0.0
            })
            .is_none()
        );
    }
}
