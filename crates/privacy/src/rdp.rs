//! Rényi differential privacy of the Poisson-subsampled Gaussian mechanism.
//!
//! One step of DP-SGD samples each record with probability `q` and adds Gaussian noise
//! of standard deviation `σ` (in units of the clipping norm) to the summed gradients. Its
//! RDP at order α is `log A_α / (α − 1)` with (Mironov, Talwar & Zhang, 2019, §3)
//!
//! `A_α = E_{z∼μ0}[((1 − q) + q·μ1(z)/μ0(z))^α]`, μ0 = N(0, σ²), μ1 = N(1, σ²).
//!
//! For integer α the binomial expansion is a finite sum of positive terms
//! `C(α, k)(1 − q)^{α−k} q^k exp((k² − k)/2σ²)`, summed in log space. For fractional α the
//! expansion is an infinite *signed* series; it splits at `z0 = σ² log(1/q − 1) + ½`
//! into two series whose terms carry Gaussian tail probabilities, summed with their signs
//! until the terms are negligible (summing absolute values instead overstates the RDP by
//! tens of percent near α = 1.5). RDP composes by addition over steps, and converts to
//! (ε, δ) with Balle et al. (2020), Theorem 21:
//! `ε = min_α RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1)`.

use crate::error::{PrivacyError, Result};

/// The default orders: 1 + x/10 for x = 1..99, the integers 12..63, and 128, 256, 512,
/// 1024.
pub fn default_orders() -> Vec<f64> {
    let mut orders: Vec<f64> = (1..100).map(|x| 1.0 + f64::from(x) / 10.0).collect();
    orders.extend((12..64).map(f64::from));
    orders.extend([128.0, 256.0, 512.0, 1024.0]);
    orders
}

/// `log(exp(a) + exp(b))`.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `log(exp(a) − exp(b))` for `a ≥ b`.
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

/// `log erfc(x)`, accurate where `erfc` underflows (its asymptotic series beyond x = 25).
fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        return libm::erfc(x).ln();
    }
    // erfc(x) = exp(−x²)/(x√π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + …)
    let inv = 1.0 / (x * x);
    -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln()
        + (1.0 - 0.5 * inv + 0.75 * inv * inv - 1.875 * inv * inv * inv).ln()
}

/// `log A_α` for integer α ≥ 2.
fn log_a_integer(q: f64, sigma: f64, alpha: u64) -> f64 {
    let mut log_a = f64::NEG_INFINITY;
    let (log_q, log_1q) = (q.ln(), (-q).ln_1p());
    let mut log_binomial = 0.0f64;
    for k in 0..=alpha {
        if k > 0 {
            log_binomial += ((alpha - k + 1) as f64).ln() - (k as f64).ln();
        }
        let kf = k as f64;
        let term = log_binomial
            + kf * log_q
            + (alpha - k) as f64 * log_1q
            + (kf * kf - kf) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
    }
    log_a
}

/// `log A_α` for fractional α > 1 (the signed series of Mironov et al., §3.3).
fn log_a_fractional(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let (log_q, log_1q) = (q.ln(), (-q).ln_1p());
    let root2_sigma = std::f64::consts::SQRT_2 * sigma;
    // The generalised binomial coefficient C(α, i), sign included, in log magnitude.
    let mut log_coef = 0.0f64;
    let mut positive = true;
    let mut i = 0u64;
    loop {
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_coef + fi * log_q + j * log_1q;
        let log_t1 = log_coef + j * log_q + fi * log_1q;
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / root2_sigma);
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / root2_sigma);
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if positive {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if (log_s0.max(log_s1) < -30.0 && i > alpha as u64) || i > 100_000 {
            break;
        }
        // C(α, i + 1) = C(α, i)·(α − i)/(i + 1).
        let factor = (alpha - fi) / (fi + 1.0);
        if factor == 0.0 {
            break;
        }
        if factor < 0.0 {
            positive = !positive;
        }
        log_coef += factor.abs().ln();
        i += 1;
    }
    log_add(log_a0, log_a1)
}

fn check(q: f64, sigma: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&q) {
        return Err(PrivacyError::InvalidParameter {
            field: "sample_rate",
            message: format!("{q} is not within [0, 1]"),
        });
    }
    if !(sigma >= 0.0 && sigma.is_finite()) {
        return Err(PrivacyError::InvalidParameter {
            field: "noise_multiplier",
            message: format!("{sigma} is not a non-negative number"),
        });
    }
    Ok(())
}

/// The RDP at each order of one step of the Poisson-subsampled Gaussian mechanism with
/// sampling rate `q` and noise multiplier `sigma`. Orders must exceed 1.
pub fn subsampled_gaussian_rdp(q: f64, sigma: f64, orders: &[f64]) -> Result<Vec<f64>> {
    check(q, sigma)?;
    orders
        .iter()
        .map(|&alpha| {
            if !(alpha > 1.0 && alpha.is_finite()) {
                return Err(PrivacyError::InvalidParameter {
                    field: "orders",
                    message: format!("order {alpha} must be a finite number above 1"),
                });
            }
            Ok(if q == 0.0 {
                0.0
            } else if sigma == 0.0 {
                f64::INFINITY
            } else if q == 1.0 {
                alpha / (2.0 * sigma * sigma)
            } else if alpha.fract() == 0.0 {
                log_a_integer(q, sigma, alpha as u64) / (alpha - 1.0)
            } else {
                log_a_fractional(q, sigma, alpha) / (alpha - 1.0)
            })
        })
        .collect()
}

/// The smallest ε over the orders for this RDP curve at `delta` (Balle et al., 2020),
/// and the order that gives it.
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> Result<(f64, f64)> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::InvalidParameter {
            field: "delta",
            message: format!("{delta} is not within (0, 1)"),
        });
    }
    let mut best = (f64::INFINITY, f64::NAN);
    for (&alpha, &r) in orders.iter().zip(rdp) {
        let eps = r + ((alpha - 1.0) / alpha).ln() - (delta.ln() + alpha.ln()) / (alpha - 1.0);
        if eps < best.0 {
            best = (eps.max(0.0), alpha);
        }
    }
    Ok(best)
}

/// Composition of subsampled-Gaussian steps over a fixed set of orders.
#[derive(Debug, Clone, PartialEq)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new(default_orders())
    }
}

impl RdpAccountant {
    /// No spend yet, tracked at these orders.
    pub fn new(orders: Vec<f64>) -> Self {
        let rdp = vec![0.0; orders.len()];
        Self { orders, rdp }
    }

    /// Adds `steps` steps with sampling rate `q` and noise multiplier `sigma`.
    pub fn add_subsampled_gaussian(&mut self, q: f64, sigma: f64, steps: u64) -> Result<()> {
        let step = subsampled_gaussian_rdp(q, sigma, &self.orders)?;
        for (total, r) in self.rdp.iter_mut().zip(step) {
            *total += r * steps as f64;
        }
        Ok(())
    }

    /// Adds a ρ-zCDP event (Bun & Steinke, 2016): ρα at every order.
    pub fn add_zcdp(&mut self, rho: f64) -> Result<()> {
        if !(rho >= 0.0 && rho.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "rho",
                message: format!("{rho} is not a non-negative number"),
            });
        }
        for (total, alpha) in self.rdp.iter_mut().zip(&self.orders) {
            *total += rho * alpha;
        }
        Ok(())
    }

    /// Adds a pure ε-DP event (a Laplace count, say): ε-DP is (α, ε)-RDP at every order
    /// and ε²/2-zCDP (Bun & Steinke, 2016, Proposition 1.4), so each order gets the smaller
    /// of ε and αε²/2.
    pub fn add_pure(&mut self, epsilon: f64) -> Result<()> {
        self.add_capped_quadratic(epsilon, 2.0)
    }

    /// Adds an ε-DP exponential mechanism: it is ε-bounded-range, so ε²/8-zCDP (Cesar &
    /// Rogers, 2021), and ε-DP, so each order gets the smaller of ε and αε²/8.
    pub fn add_exponential(&mut self, epsilon: f64) -> Result<()> {
        self.add_capped_quadratic(epsilon, 8.0)
    }

    /// Adds min(ε, αε²/divisor) at every order α: an ε-DP mechanism that is also
    /// ε²/divisor-zCDP.
    fn add_capped_quadratic(&mut self, epsilon: f64, divisor: f64) -> Result<()> {
        if !(epsilon >= 0.0 && epsilon.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "epsilon",
                message: format!("{epsilon} is not a non-negative number"),
            });
        }
        for (total, alpha) in self.rdp.iter_mut().zip(&self.orders) {
            *total += epsilon.min(alpha * epsilon * epsilon / divisor);
        }
        Ok(())
    }

    /// The RDP curve so far.
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    /// The orders tracked.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// (ε, best order) at `delta`.
    pub fn epsilon(&self, delta: f64) -> Result<(f64, f64)> {
        epsilon_from_rdp(&self.orders, &self.rdp, delta)
    }
}

/// The smallest noise multiplier σ (within 1e-6 relative) for which `steps` steps at
/// sampling rate `q` spend at most `target_epsilon` at `delta` on the default orders.
pub fn noise_multiplier_for(target_epsilon: f64, delta: f64, q: f64, steps: u64) -> Result<f64> {
    noise_multiplier_after(&RdpAccountant::default(), target_epsilon, delta, q, steps)
}

/// Like [`noise_multiplier_for`], on top of what `prior` has already spent (the
/// preprocessing of a DP training run, say).
pub fn noise_multiplier_after(
    prior: &RdpAccountant,
    target_epsilon: f64,
    delta: f64,
    q: f64,
    steps: u64,
) -> Result<f64> {
    if !(target_epsilon > 0.0 && target_epsilon.is_finite()) {
        return Err(PrivacyError::InvalidParameter {
            field: "target_epsilon",
            message: format!("{target_epsilon} is not a positive number"),
        });
    }
    if prior.epsilon(delta)?.0 >= target_epsilon {
        return Err(PrivacyError::InvalidParameter {
            field: "target_epsilon",
            message: format!("{target_epsilon} is already spent before training"),
        });
    }
    let spend = |sigma: f64| -> Result<f64> {
        let mut accountant = prior.clone();
        accountant.add_subsampled_gaussian(q, sigma, steps)?;
        Ok(accountant.epsilon(delta)?.0)
    };
    let (mut low, mut high) = (0.0f64, 1.0f64);
    while spend(high)? > target_epsilon {
        low = high;
        high *= 2.0;
        if high > 1e6 {
            return Err(PrivacyError::InvalidParameter {
                field: "target_epsilon",
                message: format!("{target_epsilon} cannot be reached with any noise"),
            });
        }
    }
    while high - low > 1e-6 * high {
        let mid = 0.5 * (low + high);
        if spend(mid)? > target_epsilon {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> (f64, f64) {
        let mut accountant = RdpAccountant::default();
        accountant
            .add_subsampled_gaussian(q, sigma, steps)
            .expect("valid parameters");
        accountant.epsilon(delta).expect("valid delta")
    }

    #[test]
    fn opacus_published_figure() {
        let (eps, _) = epsilon(0.04, 1.5, 2250, 1e-5);
        assert!((eps - 7.3291).abs() < 5e-5, "ε = {eps}");
    }

    #[test]
    fn tensorflow_privacy_published_figures() {
        let (eps, order) = epsilon(150.0 / 60_000.0, 1.3, 6000, 1e-5);
        assert!((eps - 0.7242).abs() < 5e-5, "ε = {eps} at {order}");
        assert_eq!(order, 19.0);
        let (eps, order) = epsilon(0.001, 1.0, 30_000, 1e-7);
        assert!((eps - 1.4155).abs() < 5e-5, "ε = {eps} at {order}");
        assert_eq!(order, 13.0);
    }

    #[test]
    fn integer_orders_match_the_fractional_series_nearby() {
        // The fractional series evaluated just off an integer order agrees with the
        // exact finite sum at that order.
        let exact = subsampled_gaussian_rdp(0.01, 1.1, &[5.0]).expect("rdp")[0];
        let near = subsampled_gaussian_rdp(0.01, 1.1, &[5.0 + 1e-9]).expect("rdp")[0];
        assert!(
            (exact - near).abs() < 1e-7 * exact.abs().max(1e-12),
            "{exact} vs {near}"
        );
    }

    #[test]
    fn edge_cases_and_bad_parameters() {
        assert_eq!(
            subsampled_gaussian_rdp(0.0, 1.0, &[2.0]).expect("q=0"),
            [0.0]
        );
        assert_eq!(
            subsampled_gaussian_rdp(1.0, 2.0, &[3.0]).expect("q=1"),
            [3.0 / 8.0]
        );
        assert!(matches!(
            subsampled_gaussian_rdp(1.5, 1.0, &[2.0]),
            Err(PrivacyError::InvalidParameter {
                field: "sample_rate",
                ..
            })
        ));
        assert!(matches!(
            subsampled_gaussian_rdp(0.1, -1.0, &[2.0]),
            Err(PrivacyError::InvalidParameter {
                field: "noise_multiplier",
                ..
            })
        ));
        assert!(matches!(
            subsampled_gaussian_rdp(0.1, 1.0, &[1.0]),
            Err(PrivacyError::InvalidParameter {
                field: "orders",
                ..
            })
        ));
        assert!(matches!(
            RdpAccountant::default().epsilon(0.0),
            Err(PrivacyError::InvalidParameter { field: "delta", .. })
        ));
    }

    #[test]
    fn zcdp_pure_and_gaussian_events_compose() {
        // The full-batch Gaussian mechanism is 1/(2σ²)-zCDP.
        let mut gaussian = RdpAccountant::default();
        gaussian
            .add_subsampled_gaussian(1.0, 2.0, 3)
            .expect("gaussian");
        let mut zcdp = RdpAccountant::default();
        zcdp.add_zcdp(3.0 / 8.0).expect("zcdp");
        for (a, b) in gaussian.rdp().iter().zip(zcdp.rdp()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let mut pure = RdpAccountant::new(vec![2.0, 100.0]);
        pure.add_pure(0.5).expect("pure");
        assert_eq!(pure.rdp(), [0.25, 0.5]);
        assert!(pure.add_pure(-1.0).is_err() && pure.add_zcdp(f64::NAN).is_err());
    }

    #[test]
    fn the_noise_solver_finds_the_published_sigma() {
        let sigma = noise_multiplier_for(7.3291, 1e-5, 0.04, 2250).expect("solvable");
        assert!((sigma - 1.5).abs() < 1e-3, "σ = {sigma}");
        assert!(noise_multiplier_for(0.0, 1e-5, 0.04, 10).is_err());
    }

    #[test]
    fn spend_grows_with_steps_and_falls_with_noise() {
        let (few, _) = epsilon(0.01, 1.0, 100, 1e-5);
        let (many, _) = epsilon(0.01, 1.0, 1000, 1e-5);
        let (noisy, _) = epsilon(0.01, 2.0, 1000, 1e-5);
        assert!(few < many && noisy < many, "{few} {many} {noisy}");
    }
}
