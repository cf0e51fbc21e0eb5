//! The Wilson score interval of a binomial proportion.

/// The standard normal quantile of a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `successes` out of `trials` at normal quantile `z`
/// (use [`Z_95`] for 95 %). Unlike `p ± z·√(p(1−p)/n)` it stays inside `[0, 1]` and does not
/// collapse to a point at 0 or `n` successes. No trials give `[0, 1]`.
pub fn wilson_interval(successes: usize, trials: usize, z: f64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_of_ten_at_95_percent() {
        // Published value (e.g. Newcombe 1998, method 3): 8/10 → [0.4902, 0.9433].
        let (low, high) = wilson_interval(8, 10, Z_95);
        assert!((low - 0.4902).abs() < 5e-5, "{low}");
        assert!((high - 0.9433).abs() < 5e-5, "{high}");
    }

    #[test]
    fn extremes_stay_in_the_unit_interval() {
        let (low, high) = wilson_interval(0, 20, Z_95);
        assert_eq!(low, 0.0);
        // z² / (n + z²) for zero successes.
        assert!((high - Z_95 * Z_95 / (20.0 + Z_95 * Z_95)).abs() < 1e-12);
        let (low, high) = wilson_interval(20, 20, Z_95);
        assert!((low - 20.0 / (20.0 + Z_95 * Z_95)).abs() < 1e-12);
        assert_eq!(high, 1.0);
        assert_eq!(wilson_interval(0, 0, Z_95), (0.0, 1.0));
    }
}
