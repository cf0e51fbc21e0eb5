//! The two forward processes and their reverse steps.
//!
//! Timesteps are indexed `0..T` here (the paper's `1..=T`); `alpha_bar[t]` is
//! ᾱ = ∏_{s ≤ t} (1 − β_s) and ᾱ before step 0 is 1.
//!
//! - Gaussian (numeric dims): `x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε`; the denoiser predicts ε;
//!   the reverse step has mean `(x_t − β_t/√(1 − ᾱ_t)·ε̂)/√α_t` and variance β_t (none at
//!   the last step).
//! - Multinomial (Hoogeboom et al. 2021, each categorical block of K classes):
//!   `q(x_t | x₀) = Cat(ᾱ_t·x₀ + (1 − ᾱ_t)/K)`, and the posterior
//!   `q(x_{t−1} | x_t, x₀) ∝ [α_t·x_t + (1 − α_t)/K] ⊙ [ᾱ_{t−1}·x₀ + (1 − ᾱ_{t−1})/K]`.
//!   The reverse process uses the same posterior with x₀ replaced by the denoiser's
//!   predicted distribution softmax(logits); the loss is the KL between the two
//!   posteriors (at t = 0 the true posterior is x₀ itself and the KL is −log p(x₀)).
//!   The posteriors are products of two-valued factors, so they are computed as
//!   probabilities and the KL's logarithms in closed form (one `exp` and one `ln` per
//!   class), with the t = 0 case through log-softmax.

use super::config::Schedule;

/// β, α = 1 − β and ᾱ per timestep (f64 for the products, read as f32 in the loops).
#[derive(Debug, Clone)]
pub struct NoiseSchedule {
    /// β_t.
    pub beta: Vec<f64>,
    /// α_t = 1 − β_t.
    pub alpha: Vec<f64>,
    /// ᾱ_t.
    pub alpha_bar: Vec<f64>,
}

impl NoiseSchedule {
    /// The schedule of `steps` timesteps.
    pub fn new(kind: Schedule, steps: usize) -> Self {
        let beta: Vec<f64> = match kind {
            Schedule::Cosine => {
                // ᾱ(t) = f(t)/f(0), f(t) = cos²(π/2·(t/T + s)/(1 + s)), s = 0.008;
                // β_t = 1 − ᾱ(t+1)/ᾱ(t), capped at 0.999.
                let s = 0.008;
                let f = |t: f64| {
                    ((t / steps as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..steps)
                    .map(|t| (1.0 - f(t as f64 + 1.0) / f(t as f64)).min(0.999))
                    .collect()
            }
            Schedule::Linear => {
                let scale = 1000.0 / steps as f64;
                let (lo, hi) = (scale * 1e-4, (scale * 0.02).min(0.999));
                (0..steps)
                    .map(|t| lo + (hi - lo) * t as f64 / (steps - 1).max(1) as f64)
                    .collect()
            }
        };
        let alpha: Vec<f64> = beta.iter().map(|b| 1.0 - b).collect();
        let mut alpha_bar = Vec::with_capacity(steps);
        let mut product = 1.0;
        for a in &alpha {
            product *= a;
            alpha_bar.push(product);
        }
        Self {
            beta,
            alpha,
            alpha_bar,
        }
    }

    /// Timesteps T.
    pub fn steps(&self) -> usize {
        self.beta.len()
    }

    /// ᾱ before step `t` (1 at t = 0).
    pub fn alpha_bar_prev(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bar[t - 1] }
    }
}

/// The unnormalised posterior `q(x_{t−1} | x_t, x₀)` of one block of K classes: `x_t` is
/// a class, `x0` the probabilities of x₀ (one-hot for the true posterior, softmax(logits)
/// for the model's). Writes the K weights into `out` and returns their sum.
pub fn posterior(
    schedule: &NoiseSchedule,
    t: usize,
    x_t: usize,
    x0: &[f32],
    out: &mut [f32],
) -> f32 {
    let k = x0.len();
    let alpha = schedule.alpha[t];
    let prev = schedule.alpha_bar_prev(t);
    // Factor from x_t: α_t·x_t + (1 − α_t)/K; factor from x₀: ᾱ_{t−1}·x₀ + (1 − ᾱ_{t−1})/K.
    let a_other = ((1.0 - alpha) / k as f64) as f32;
    let a_own = (alpha + (1.0 - alpha) / k as f64) as f32;
    let c = ((1.0 - prev) / k as f64) as f32;
    let prev = prev as f32;
    let mut total = 0.0;
    for (j, (o, p)) in out.iter_mut().zip(x0).enumerate() {
        let a = if j == x_t { a_own } else { a_other };
        *o = a * (prev * p + c);
        total += *o;
    }
    total
}

/// The multinomial loss of one block and its gradient with respect to the logits.
///
/// `logits` are the denoiser's outputs for x₀; `x0` and `x_t` the true classes. Writes
/// ∂KL/∂logits into `grad` (unscaled) and returns KL(q(·|x_t, x₀) ‖ p(·|x_t, x̂₀)); at
/// t = 0 the true posterior is x₀ itself and the KL is −log p(x₀). `scratch` holds 2·K
/// floats.
///
/// With u_j = ᾱ_{t−1}·π_j + c (π = softmax(logits), c = (1 − ᾱ_{t−1})/K), a_j the x_t
/// factor, p_j = a_j·u_j/Z_p and q_j = a_j·u*_j/Z_q (u* from the one-hot x₀, so
/// Z_q = c + ᾱ_{t−1}·a_{x₀} since Σ a_j = 1):
/// KL = Σ_j q_j·(ln u*_j − ln u_j) + ln Z_p − ln Z_q, and
/// ∂KL/∂logit_m = r_m(p_m − q_m) − π_m·Σ_j r_j(p_j − q_j) with r_m = ᾱ_{t−1}·π_m/u_m.
pub fn multinomial_kl(
    schedule: &NoiseSchedule,
    t: usize,
    x0: usize,
    x_t: usize,
    logits: &[f32],
    grad: &mut [f32],
    scratch: &mut [f32],
) -> f32 {
    let k = logits.len();
    let (pi, rest) = scratch.split_at_mut(k);
    let (w, _) = rest.split_at_mut(k);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (p, l) in pi.iter_mut().zip(logits) {
        *p = (l - max).exp();
        sum += *p;
    }
    let inv = 1.0 / sum;
    pi.iter_mut().for_each(|p| *p *= inv);
    let log_norm = max + sum.ln();
    let alpha = schedule.alpha[t];
    let prev64 = schedule.alpha_bar_prev(t);
    let a_other = ((1.0 - alpha) / k as f64) as f32;
    let a_own = (alpha + (1.0 - alpha) / k as f64) as f32;
    let c = ((1.0 - prev64) / k as f64) as f32;
    let prev = prev64 as f32;
    let exact = c <= 0.0;
    let a = |j: usize| if j == x_t { a_own } else { a_other };
    let z_p = posterior(schedule, t, x_t, pi, w);
    let z_q = c + prev * a(x0);
    let (ln_c, ln_own) = (if exact { 0.0 } else { c.ln() }, (prev + c).ln());
    let mut kl = z_p.ln() - z_q.ln();
    let mut dot = 0.0;
    for j in 0..k {
        let q = a(j) * (if j == x0 { prev + c } else { c }) / z_q;
        let p = w[j] / z_p;
        let u = prev * pi[j] + c;
        if q > 0.0 {
            let ln_u = if exact { logits[j] - log_norm } else { u.ln() };
            kl += q * ((if j == x0 { ln_own } else { ln_c }) - ln_u);
        }
        let r = if exact {
            1.0
        } else {
            (prev * pi[j] / u).min(1.0)
        };
        let g = r * (p - q);
        grad[j] = g;
        dot += g;
    }
    for j in 0..k {
        grad[j] -= pi[j] * dot;
    }
    kl
}

#[cfg(test)]
pub(super) fn posterior_probabilities(
    schedule: &NoiseSchedule,
    t: usize,
    x_t: usize,
    x0: &[f32],
) -> Vec<f32> {
    let mut out = vec![0.0; x0.len()];
    let total = posterior(schedule, t, x_t, x0, &mut out);
    out.iter().map(|v| v / total).collect()
}
