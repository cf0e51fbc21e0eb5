//! The basic mechanisms that read data: Gaussian noisy counts, threshold partition
//! selection, and exponential-mechanism quantiles.
//!
//! Each function returns its output only; the caller charges the matching event to a
//! [`crate::PrivacyTracker`] (the tracker's `dp_*` helpers do both at once). Neighbouring
//! tables differ by one added or removed row, so a histogram in which every row counts
//! once has L2 sensitivity 1.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::error::{PrivacyError, Result};

fn invalid(field: &'static str, message: String) -> PrivacyError {
    PrivacyError::InvalidParameter { field, message }
}

/// The standard deviation of Gaussian noise that makes a query of this L2 sensitivity
/// ρ-zCDP: σ = Δ/√(2ρ) (Bun & Steinke, 2016, Proposition 1.6).
pub fn gaussian_sigma(rho: f64, l2_sensitivity: f64) -> Result<f64> {
    if !(rho > 0.0 && rho.is_finite()) {
        return Err(invalid("rho", format!("{rho} is not a positive number")));
    }
    if !(l2_sensitivity > 0.0 && l2_sensitivity.is_finite()) {
        return Err(invalid(
            "sensitivity",
            format!("{l2_sensitivity} is not a positive number"),
        ));
    }
    Ok(l2_sensitivity / (2.0 * rho).sqrt())
}

/// The zCDP cost ρ = Δ²/(2σ²) of Gaussian noise σ on a query of L2 sensitivity Δ.
pub fn gaussian_rho(sigma: f64, l2_sensitivity: f64) -> f64 {
    l2_sensitivity * l2_sensitivity / (2.0 * sigma * sigma)
}

/// Adds N(0, σ²) to every count.
pub fn noisy_counts(counts: &[f64], sigma: f64, rng: &mut impl Rng) -> Result<Vec<f64>> {
    let normal = Normal::new(0.0, sigma)
        .map_err(|e| invalid("sigma", format!("{sigma} is not a valid deviation: {e}")))?;
    Ok(counts.iter().map(|&c| c + normal.sample(rng)).collect())
}

/// Standard normal upper tail P[Z ≥ x].
fn normal_tail(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// The threshold τ for Gaussian partition selection: a key present in one neighbour only
/// (true count 1) is released with probability P[1 + N(0, σ²) ≥ τ] = `delta`.
pub fn partition_threshold(sigma: f64, delta: f64) -> Result<f64> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(invalid("delta", format!("{delta} is not in (0, 1)")));
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(invalid(
            "sigma",
            format!("{sigma} is not a positive number"),
        ));
    }
    // Bisection on the monotone tail for z with P[Z ≥ z] = delta.
    let (mut low, mut high) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if normal_tail(mid) > delta {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(1.0 + sigma * high)
}

/// Gaussian partition selection: the keys whose noisy count reaches `threshold`, with
/// their noisy counts (in input order). Charged as a Gaussian of sensitivity 1 plus the
/// δ of [`partition_threshold`].
pub fn select_partitions<K: Clone>(
    counts: &[(K, f64)],
    sigma: f64,
    threshold: f64,
    rng: &mut impl Rng,
) -> Result<Vec<(K, f64)>> {
    let values: Vec<f64> = counts.iter().map(|(_, c)| *c).collect();
    let noisy = noisy_counts(&values, sigma, rng)?;
    Ok(counts
        .iter()
        .zip(noisy)
        .filter(|(_, n)| *n >= threshold)
        .map(|((k, _), n)| (k.clone(), n))
        .collect())
}

/// The zCDP cost of an ε-DP exponential mechanism: it is ε-bounded-range, hence
/// ε²/8-zCDP (Cesar & Rogers, 2021).
pub fn exponential_rho(epsilon: f64) -> f64 {
    epsilon * epsilon / 8.0
}

/// Index drawn with probability ∝ exp(score) by the Gumbel-max trick (stable for any
/// magnitude of scores). `None` when no score is finite.
pub fn gumbel_argmax(log_weights: &[f64], rng: &mut impl Rng) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &w) in log_weights.iter().enumerate() {
        if !w.is_finite() {
            continue;
        }
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let g = w - (-u.ln()).ln();
        if best.is_none_or(|(_, b)| g > b) {
            best = Some((i, g));
        }
    }
    best.map(|(i, _)| i)
}

/// Checks the arguments of the DP quantile mechanisms and returns the ε of each of the
/// k quantiles, √(8ρ/k) (`None` when none is asked for).
fn quantile_epsilon(lower: f64, upper: f64, quantiles: &[f64], rho: f64) -> Result<Option<f64>> {
    if !(lower.is_finite() && upper.is_finite() && lower < upper) {
        return Err(invalid(
            "bounds",
            format!("[{lower}, {upper}] is not a finite interval"),
        ));
    }
    if !(rho > 0.0 && rho.is_finite()) {
        return Err(invalid("rho", format!("{rho} is not a positive number")));
    }
    if let Some(p) = quantiles.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(invalid("quantile", format!("{p} is not in [0, 1]")));
    }
    if quantiles.is_empty() {
        return Ok(None);
    }
    Ok(Some((8.0 * rho / quantiles.len() as f64).sqrt()))
}

/// Differentially private quantiles by the exponential mechanism (Smith, 2011): values
/// are clamped to `[lower, upper]`, and quantile p picks the gap between consecutive
/// sorted values with probability ∝ length · exp(−ε|rank − p·n|/2), then a point
/// uniformly inside it. Each quantile is ε-DP with ε = √(8ρ/k) for k quantiles, so
/// the whole call is ρ-zCDP. The result is sorted (post-processing).
pub fn dp_quantiles(
    values: &[f64],
    lower: f64,
    upper: f64,
    quantiles: &[f64],
    rho: f64,
    rng: &mut impl Rng,
) -> Result<Vec<f64>> {
    let Some(epsilon) = quantile_epsilon(lower, upper, quantiles, rho)? else {
        return Ok(Vec::new());
    };
    let mut sorted: Vec<f64> = values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| v.clamp(lower, upper))
        .collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    // Gap i lies between points i−1 and i of [lower, sorted…, upper]; a point in it has
    // i values below it.
    let mut edges = Vec::with_capacity(n + 2);
    edges.push(lower);
    edges.extend_from_slice(&sorted);
    edges.push(upper);
    let mut out = Vec::with_capacity(quantiles.len());
    let mut log_weights = vec![0.0f64; n + 1];
    for &p in quantiles {
        let target = p * n as f64;
        for (i, w) in log_weights.iter_mut().enumerate() {
            let length = edges[i + 1] - edges[i];
            *w = if length > 0.0 {
                length.ln() - epsilon * (i as f64 - target).abs() / 2.0
            } else {
                f64::NEG_INFINITY
            };
        }
        let gap = gumbel_argmax(&log_weights, rng).unwrap_or(0);
        let (a, b) = (edges[gap], edges[gap + 1]);
        out.push(a + (b - a) * rng.random::<f64>());
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// DP quantiles over the grid of multiples of `quantum` in `[lower, upper]` (integers,
/// datetimes at a granularity, floats at a fine resolution). Unlike [`dp_quantiles`],
/// point masses are found: each distinct value is a candidate whose utility is the
/// distance from p·n to its whole rank range, and each gap between distinct values
/// weighs as many candidates as grid points lie strictly inside it. Utilities change by
/// at most 1 when a row is added or removed, so each quantile is ε-DP with ε = √(8ρ/k)
/// and the call is ρ-zCDP. The result is sorted and on the grid.
pub fn dp_quantiles_discrete(
    values: &[f64],
    lower: f64,
    upper: f64,
    quantum: f64,
    quantiles: &[f64],
    rho: f64,
    rng: &mut impl Rng,
) -> Result<Vec<f64>> {
    let Some(epsilon) = quantile_epsilon(lower, upper, quantiles, rho)? else {
        return Ok(Vec::new());
    };
    if !(quantum > 0.0 && quantum.is_finite()) {
        return Err(invalid(
            "quantum",
            format!("{quantum} is not a positive number"),
        ));
    }
    // The grid is the multiples of the quantum (whole days stay whole days).
    let (lower, upper) = {
        let (a, b) = (
            (lower / quantum).ceil() * quantum,
            (upper / quantum).floor() * quantum,
        );
        if a < b { (a, b) } else { (lower, upper) }
    };
    let snap = |x: f64| -> f64 {
        let k = ((x.clamp(lower, upper) - lower) / quantum).round();
        (lower + k * quantum).min(upper)
    };
    let mut sorted: Vec<f64> = values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| snap(v))
        .collect();
    sorted.sort_by(f64::total_cmp);
    // Distinct values with the number of values strictly below them and their count.
    let mut distinct: Vec<(f64, f64, f64)> = Vec::new();
    for (i, &v) in sorted.iter().enumerate() {
        match distinct.last_mut() {
            Some(last) if last.0 == v => last.2 += 1.0,
            _ => distinct.push((v, i as f64, 1.0)),
        }
    }
    // Candidates: (log weight base, utility-rank range, low, high) where a gap is the
    // open interval (low, high) holding `points` grid points, a value is [v, v].
    struct Candidate {
        log_points: f64,
        rank_low: f64,
        rank_high: f64,
        low: f64,
        high: f64,
    }
    let grid_points_between = |a: f64, b: f64| -> f64 {
        // Grid points strictly inside (a, b), both on the grid (or the bounds).
        (((b - a) / quantum).round() - 1.0).max(0.0)
    };
    let mut candidates = Vec::with_capacity(2 * distinct.len() + 1);
    let mut previous = lower;
    let mut below = 0.0;
    let mut first = true;
    for &(v, rank, count) in &distinct {
        let inside = if first && v > lower {
            // The lower bound itself is a grid point too.
            grid_points_between(previous, v) + 1.0
        } else {
            grid_points_between(previous, v)
        };
        if inside > 0.0 {
            candidates.push(Candidate {
                log_points: inside.ln(),
                rank_low: below,
                rank_high: below,
                low: previous,
                high: v,
            });
        }
        candidates.push(Candidate {
            log_points: 0.0,
            rank_low: rank,
            rank_high: rank + count,
            low: v,
            high: v,
        });
        below = rank + count;
        previous = v;
        first = false;
    }
    let tail = if distinct.is_empty() {
        grid_points_between(lower, upper) + 2.0
    } else if previous < upper {
        grid_points_between(previous, upper) + 1.0
    } else {
        0.0
    };
    if tail > 0.0 {
        candidates.push(Candidate {
            log_points: tail.ln(),
            rank_low: below,
            rank_high: below,
            low: previous,
            high: upper,
        });
    }
    let n = sorted.len() as f64;
    let mut out = Vec::with_capacity(quantiles.len());
    let mut log_weights = vec![0.0; candidates.len()];
    for &p in quantiles {
        let target = p * n;
        for (w, c) in log_weights.iter_mut().zip(&candidates) {
            let distance = if target < c.rank_low {
                c.rank_low - target
            } else if target > c.rank_high {
                target - c.rank_high
            } else {
                0.0
            };
            *w = c.log_points - epsilon * distance / 2.0;
        }
        let Some(pick) = gumbel_argmax(&log_weights, rng) else {
            return Err(invalid("quantile", "no candidate".to_string()));
        };
        let c = &candidates[pick];
        let value = if c.low == c.high {
            c.low
        } else {
            // A uniform grid point inside the gap (the bounds count where they are
            // themselves candidates).
            let start = if c.low == lower && distinct.first().is_none_or(|d| d.0 > lower) {
                lower
            } else {
                c.low + quantum
            };
            let points = c.log_points.exp().round().max(1.0);
            let k = (rng.random::<f64>() * points).floor().min(points - 1.0);
            snap(start + k * quantum)
        };
        out.push(value);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sigma_and_rho_are_inverse() {
        let sigma = gaussian_sigma(0.5, 1.0).expect("sigma");
        assert!((sigma - 1.0).abs() < 1e-12);
        assert!((gaussian_rho(sigma, 1.0) - 0.5).abs() < 1e-12);
        assert!(gaussian_sigma(0.0, 1.0).is_err());
        assert!(gaussian_sigma(1.0, -1.0).is_err());
    }

    #[test]
    fn threshold_releases_a_singleton_with_probability_delta() {
        let tau = partition_threshold(2.0, 1e-6).expect("tau");
        // P[N(0, 4) ≥ τ − 1] = 1e-6 ⇔ (τ − 1)/2 = 4.7534.
        assert!(((tau - 1.0) / 2.0 - 4.753_424).abs() < 1e-4, "{tau}");
        assert!(partition_threshold(2.0, 0.0).is_err());
    }

    #[test]
    fn partitions_with_large_counts_survive() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let counts = vec![("a", 1000.0), ("b", 1.0), ("c", 500.0)];
        let kept = select_partitions(&counts, 1.0, 20.0, &mut rng).expect("select");
        let keys: Vec<&str> = kept.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["a", "c"]);
    }

    #[test]
    fn quantiles_are_close_at_large_budget_and_inside_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let values: Vec<f64> = (0..10_000).map(f64::from).collect();
        let q = dp_quantiles(&values, 0.0, 10_000.0, &[0.01, 0.5, 0.99], 1.0, &mut rng)
            .expect("quantiles");
        assert!((q[0] - 100.0).abs() < 30.0, "{q:?}");
        assert!((q[1] - 5000.0).abs() < 30.0, "{q:?}");
        assert!((q[2] - 9900.0).abs() < 30.0, "{q:?}");
        let q = dp_quantiles(&values, -5.0, 5.0, &[0.5], 1e-6, &mut rng).expect("tiny");
        assert!((-5.0..=5.0).contains(&q[0]));
        assert!(dp_quantiles(&values, 1.0, 1.0, &[0.5], 1.0, &mut rng).is_err());
        assert!(dp_quantiles(&values, 0.0, 1.0, &[1.5], 1.0, &mut rng).is_err());
    }

    #[test]
    fn discrete_quantiles_find_point_masses() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // 90% zeros, the rest spread over 1..=1000: the median is exactly 0.
        let mut values = vec![0.0; 9_000];
        values.extend((1..=1000).map(f64::from));
        let q = dp_quantiles_discrete(
            &values,
            0.0,
            100_000.0,
            1.0,
            &[0.01, 0.5, 0.95],
            1.0,
            &mut rng,
        )
        .expect("quantiles");
        assert_eq!(q[0], 0.0);
        assert_eq!(q[1], 0.0);
        assert!((q[2] - 500.0).abs() < 30.0, "{q:?}");
        // Integers only.
        assert!(q.iter().all(|v| v.fract() == 0.0));
        let q = dp_quantiles_discrete(&[], -2.0, 2.0, 0.5, &[0.5], 0.1, &mut rng).expect("empty");
        assert!((-2.0..=2.0).contains(&q[0]) && (q[0] * 2.0).fract() == 0.0);
        assert!(dp_quantiles_discrete(&values, 0.0, 1.0, 0.0, &[0.5], 1.0, &mut rng).is_err());
    }

    #[test]
    fn gumbel_argmax_follows_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let weights = [0.0f64.ln(), 1.0f64.ln(), 3.0f64.ln()];
        let mut hits = [0usize; 3];
        for _ in 0..20_000 {
            hits[gumbel_argmax(&weights, &mut rng).expect("some")] += 1;
        }
        assert_eq!(hits[0], 0);
        let share = hits[2] as f64 / 20_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
        assert_eq!(gumbel_argmax(&[f64::NEG_INFINITY], &mut rng), None);
    }
}
