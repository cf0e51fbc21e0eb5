//! A privacy-loss-distribution (PRV) accountant for the Poisson-subsampled Gaussian and
//! pure ε-DP mechanisms.
//!
//! The privacy loss of one step is a random variable `Y = log(P(X)/Q(X))`, `X ∼ P`, and
//! the loss of a composition is the sum of the steps' losses; `δ(ε) = E[(1 − e^{ε−S})₊]`
//! (Koskela et al. 2020; Gopi, Lee & Wutschitz 2021). With μ0 = N(0, σ²), μ1 = N(1, σ²)
//! and M = (1 − q)μ0 + qμ1, the two directions of "add or remove one record" are
//! (P, Q) = (M, μ0) and (μ0, M); both are composed and the larger ε is reported.
//!
//! Each step's loss is discretised on a grid `x_j = j·h`, `|j| ≤ n/2`: the mass of the
//! bin `(x_j − h/2, x_j + h/2]`, from the closed-form CDF, goes to `x_j`, and the whole
//! grid is shifted so that the mean over the grid equals the true mean. The rounding
//! errors `D_i = Y_i − Ỹ_i` then have mean zero and range `h`, and Hoeffding's inequality
//! gives `P(Σ D_i ≥ t) ≤ exp(−2t²/(K h²))` for K steps: the discretised composition is
//! within `t` of the true one except with probability η (Gopi et al., §5). Bins are
//! evaluated only where the step's loss has mass: the tail above them is put at +∞
//! (counted in δ), the tail below is rounded up to the lowest bin evaluated.
//! Steps compose by one FFT per distinct event, a power in the frequency domain and one
//! inverse FFT; mass that the circular convolution wraps round is bounded with the RDP
//! moment bound `P(|S| ≥ u) ≤ min_α exp((α − 1)(R(α) − u))` (for the sampled Gaussian,
//! the RDP of (μ0, M) is at most that of (M, μ0): Mironov, Talwar & Zhang 2019).
//!
//! A pure ε-DP mechanism is dominated by randomized response (Kairouz, Oh & Viswanath
//! 2015; Zhu, Dong & Wang 2022): its loss is +ε with probability e^ε/(1 + e^ε) and −ε
//! with probability 1/(1 + e^ε), in either direction. Both points are rounded *up* to the
//! grid (a point above the grid's top counts at +∞), which can only raise δ(ε) for every
//! ε; the rounding, at most `u < h` a mechanism, is deterministic, so it widens only the
//! lower bound, by `Σ u`. The mesh is chosen so that `t + (number of pure mechanisms)·h`
//! meets the error aimed at; where all pure mechanisms share one ε, it is coarsened a
//! little to make ε a multiple of h, and `u` is nil (but for floating-point noise, ≤ 1e-9·h
//! a mechanism, which is added to the upper bound). Their RDP, for the tail and wrap
//! bounds, is `min(ε, αε²/2)` (Bun & Steinke 2016), the same in both directions.
//!
//! The reported bounds are `upper = ε̃(δ − e_up) + t` and `lower = ε̃(δ + e_low) − t − Σ u`,
//! with ε̃ the discretised curve and `e_up`, `e_low` the sums of η, the wrapped mass and
//! the rounded-up tail mass. Floating-point rounding of the FFT (about 1e-12 in δ) is not
//! included.

use serde::Serialize;

use crate::error::{PrivacyError, Result};
use crate::rdp::{default_orders, subsampled_gaussian_rdp};

/// The discretisation error in ε that [`PrvAccountant::new`] aims at.
pub const DEFAULT_EPS_ERROR: f64 = 0.01;

/// The share of δ spent on the probability that the discretisation error exceeds its
/// bound (η = δ/1000).
const DELTA_ERROR_FRACTION: f64 = 1e-3;

/// Grid sizes are powers of two within these bounds; a finer grid than the largest one
/// would need widens the reported bounds instead.
const MIN_GRID: usize = 1 << 10;
const MAX_GRID: usize = 1 << 22;

/// ε of a composition at one δ: the estimate from the discretised distribution and
/// bounds that hold up to floating-point rounding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrvEpsilon {
    /// The estimate.
    pub epsilon: f64,
    /// A lower bound on the true ε.
    pub lower: f64,
    /// An upper bound on the true ε; report this one.
    pub upper: f64,
}

/// Mechanisms of one kind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    /// Poisson-subsampled Gaussian steps.
    Gaussian { q: f64, sigma: f64, steps: u64 },
    /// Pure ε-DP mechanisms.
    Pure { epsilon: f64, count: u64 },
}

impl Event {
    /// How many mechanisms of this kind.
    fn count(&self) -> u64 {
        match *self {
            Event::Gaussian { steps, .. } => steps,
            Event::Pure { count, .. } => count,
        }
    }
}

/// The RDP of one pure ε-DP mechanism at order α: `min(ε, αε²/2)` (Bun & Steinke 2016,
/// Proposition 1.4), as [`crate::rdp::RdpAccountant::add_pure`] counts it.
fn pure_rdp(epsilon: f64, alpha: f64) -> f64 {
    epsilon.min(alpha * epsilon * epsilon / 2.0)
}

/// `e^ε/(1 + e^ε)` and `1/(1 + e^ε)`: the probabilities of the losses +ε and −ε of
/// randomized response.
fn randomized_response(epsilon: f64) -> (f64, f64) {
    (1.0 / (1.0 + (-epsilon).exp()), 1.0 / (1.0 + epsilon.exp()))
}

/// A composition of Poisson-subsampled Gaussian steps and pure ε-DP mechanisms, converted
/// to (ε, δ) by numerical composition of the privacy loss distributions.
#[derive(Debug, Clone, PartialEq)]
pub struct PrvAccountant {
    eps_error: f64,
    events: Vec<Event>,
}

impl Default for PrvAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl PrvAccountant {
    /// No spend yet; the grid aims at an error of [`DEFAULT_EPS_ERROR`] in ε.
    pub fn new() -> Self {
        Self {
            eps_error: DEFAULT_EPS_ERROR,
            events: Vec::new(),
        }
    }

    /// No spend yet; the grid is chosen so that the bounds lie within about `eps_error`
    /// of the estimate (wider only if that would need more than 2²² grid points).
    pub fn with_eps_error(eps_error: f64) -> Result<Self> {
        if !(eps_error > 0.0 && eps_error.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "eps_error",
                message: format!("{eps_error} is not a positive number"),
            });
        }
        Ok(Self {
            eps_error,
            events: Vec::new(),
        })
    }

    /// Adds `steps` steps with sampling rate `q` (0 < q ≤ 1) and noise multiplier `sigma`.
    pub fn add_subsampled_gaussian(&mut self, q: f64, sigma: f64, steps: u64) -> Result<()> {
        if !(q > 0.0 && q <= 1.0) {
            return Err(PrivacyError::InvalidParameter {
                field: "sample_rate",
                message: format!("{q} is not within (0, 1]"),
            });
        }
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "noise_multiplier",
                message: format!("{sigma} is not a positive number"),
            });
        }
        if steps == 0 {
            return Ok(());
        }
        self.push(Event::Gaussian { q, sigma, steps });
        Ok(())
    }

    /// Adds `count` Gaussian mechanisms of sensitivity Δ and noise standard deviation
    /// `noise_multiplier`·Δ: `add_subsampled_gaussian(1.0, noise_multiplier, count)`.
    pub fn add_gaussian(&mut self, noise_multiplier: f64, count: u64) -> Result<()> {
        self.add_subsampled_gaussian(1.0, noise_multiplier, count)
    }

    /// Adds `count` pure `epsilon`-DP mechanisms (exponential-mechanism quantiles, a
    /// Laplace count, MST's tree selection), each accounted as its dominating pair,
    /// randomized response. `epsilon` = 0 or `count` = 0 adds nothing.
    pub fn add_pure(&mut self, epsilon: f64, count: u64) -> Result<()> {
        if !(epsilon >= 0.0 && epsilon.is_finite()) {
            return Err(PrivacyError::InvalidParameter {
                field: "epsilon",
                message: format!("{epsilon} is not a non-negative number"),
            });
        }
        if epsilon == 0.0 || count == 0 {
            return Ok(());
        }
        self.push(Event::Pure { epsilon, count });
        Ok(())
    }

    /// Adds `new` to an event of the same kind and parameters, or as a new one.
    fn push(&mut self, new: Event) {
        for event in &mut self.events {
            match (event, new) {
                (
                    Event::Gaussian { q, sigma, steps },
                    Event::Gaussian {
                        q: q2,
                        sigma: sigma2,
                        steps: more,
                    },
                ) if *q == q2 && *sigma == sigma2 => {
                    *steps = steps.saturating_add(more);
                    return;
                }
                (
                    Event::Pure { epsilon, count },
                    Event::Pure {
                        epsilon: epsilon2,
                        count: more,
                    },
                ) if *epsilon == epsilon2 => {
                    *count = count.saturating_add(more);
                    return;
                }
                _ => {}
            }
        }
        self.events.push(new);
    }

    /// ε at `delta` (0 < δ < 1), the larger over the add and remove directions.
    pub fn epsilon(&self, delta: f64) -> Result<PrvEpsilon> {
        if !(delta > 0.0 && delta < 1.0) {
            return Err(PrivacyError::InvalidParameter {
                field: "delta",
                message: format!("{delta} is not within (0, 1)"),
            });
        }
        if self.events.is_empty() {
            return Ok(PrvEpsilon {
                epsilon: 0.0,
                lower: 0.0,
                upper: 0.0,
            });
        }
        let plan = GridPlan::new(&self.events, self.eps_error, delta * DELTA_ERROR_FRACTION)?;
        let mut result = PrvEpsilon {
            epsilon: 0.0,
            lower: 0.0,
            upper: 0.0,
        };
        for direction in [Direction::Remove, Direction::Add] {
            let one = compose(&self.events, &plan, direction).epsilon(delta);
            result.epsilon = result.epsilon.max(one.epsilon);
            result.lower = result.lower.max(one.lower);
            result.upper = result.upper.max(one.upper);
        }
        Ok(result)
    }
}

/// Which neighbour holds the extra record.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    /// P = M (the record may be sampled), Q = μ0.
    Remove,
    /// P = μ0, Q = M.
    Add,
}

/// The grid shared by all events and the error terms that do not depend on the direction.
#[derive(Debug, Clone)]
struct GridPlan {
    /// Points; values `j·h` for `j ∈ [−n/2, n/2)`.
    n: usize,
    h: f64,
    /// The ε error bound of the discretisation, numerical integration slack included.
    t: f64,
    /// `P(Σ D_i ≥ t)` (Hoeffding).
    eta: f64,
    /// RDP orders and the composition's RDP there, for tail bounds.
    orders: Vec<f64>,
    rdp: Vec<f64>,
    /// A step's mass beyond the bins evaluated, on either side, is at most this.
    tail_cut: f64,
}

impl GridPlan {
    fn new(events: &[Event], eps_error: f64, eta: f64) -> Result<Self> {
        // Gaussian steps are discretised around their mean (errors within ±t by
        // Hoeffding), pure mechanisms rounded up (at most h each).
        let (mut steps, mut pure) = (0.0, 0.0);
        let orders = default_orders();
        let mut rdp = vec![0.0; orders.len()];
        for event in events {
            let k = event.count() as f64;
            match *event {
                Event::Gaussian { q, sigma, .. } => {
                    steps += k;
                    let step = subsampled_gaussian_rdp(q, sigma, &orders)?;
                    for (total, r) in rdp.iter_mut().zip(step) {
                        *total += r * k;
                    }
                }
                Event::Pure { epsilon, .. } => {
                    pure += k;
                    for (total, &alpha) in rdp.iter_mut().zip(&orders) {
                        *total += pure_rdp(epsilon, alpha) * k;
                    }
                }
            }
        }
        // The u at which the tail bound reaches η.
        let log_eta = eta.ln();
        let tail_at_eta = orders
            .iter()
            .zip(&rdp)
            .map(|(&a, &r)| r - log_eta / (a - 1.0))
            .fold(f64::INFINITY, f64::min)
            .max(0.0);
        let hoeffding = (steps * (-log_eta) / 2.0).sqrt();
        // Both error terms together, t + (rounding of the pure mechanisms), are h times this.
        let h_target = eps_error / (hoeffding + pure);
        let mut half_width = tail_at_eta + eps_error + 1.0;
        // Single steps must rarely fall off the grid: widen until the steps' tails beyond
        // it total at most η/10.
        for _ in 0..64 {
            let off: f64 = events
                .iter()
                .map(|e| {
                    let off_grid = match *e {
                        Event::Gaussian { q, sigma, .. } => [Direction::Remove, Direction::Add]
                            .map(|d| {
                                let loss = LossDistribution::new(q, sigma, d);
                                loss.cdf(-half_width).0 + loss.cdf(half_width).1
                            })
                            .into_iter()
                            .fold(0.0, f64::max),
                        Event::Pure { epsilon, .. } if epsilon >= half_width => 1.0,
                        Event::Pure { .. } => 0.0,
                    };
                    off_grid * e.count() as f64
                })
                .sum();
            if off <= eta / 10.0 {
                break;
            }
            half_width *= 1.25;
        }
        // On the largest grid h, and with it t, outgrow the target; widen the grid until
        // the tail beyond it, less t and the rounding, is within η again.
        // Where all pure mechanisms share one ε, the mesh is coarsened a little to make ε a
        // multiple of it: the rounding up is then nil.
        let mut pure_epsilons = events.iter().filter_map(|e| match *e {
            Event::Pure { epsilon, .. } => Some(epsilon),
            Event::Gaussian { .. } => None,
        });
        let aligned = match (pure_epsilons.next(), pure_epsilons.next()) {
            (Some(epsilon), None) => Some(epsilon),
            _ => None,
        };
        let (mut n, mut h, mut t) = (MIN_GRID, 0.0, 0.0);
        for _ in 0..16 {
            let wanted = (2.0 * half_width / h_target).ceil();
            n = if wanted >= MAX_GRID as f64 {
                MAX_GRID
            } else {
                (wanted as usize)
                    .next_power_of_two()
                    .clamp(MIN_GRID, MAX_GRID)
            };
            h = 2.0 * half_width / n as f64;
            if let Some(epsilon) = aligned {
                let multiple = (epsilon / h).floor();
                if multiple >= 1.0 {
                    h = epsilon / multiple;
                }
            }
            t = h * hoeffding;
            let rounding = h * pure;
            let grid_half_width = n as f64 * h / 2.0;
            if log_tail(&orders, &rdp, grid_half_width - t - rounding - h) <= log_eta {
                break;
            }
            half_width = (tail_at_eta + t + rounding + 2.0 * h).max(half_width * 1.1);
        }
        Ok(Self {
            n,
            h,
            t,
            eta,
            orders,
            rdp,
            tail_cut: eta / (100.0 * steps.max(1.0)),
        })
    }
}

/// `log P(|S| ≥ u) ≤ min_α (α − 1)(R(α) − u)` for the composed loss S in either direction,
/// at most 0.
fn log_tail(orders: &[f64], rdp: &[f64], u: f64) -> f64 {
    orders
        .iter()
        .zip(rdp)
        .map(|(&a, &r)| (a - 1.0) * (r - u))
        .fold(0.0, f64::min)
}

/// `Φ(z)` and `1 − Φ(z)`, the smaller of the two accurate to full relative precision.
fn normal_cdf_pair(z: f64) -> (f64, f64) {
    if z < 0.0 {
        let lower = 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
        (lower, 1.0 - lower)
    } else {
        let upper = 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
        (1.0 - upper, upper)
    }
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The loss of one step in one direction: `Y = ±g(X)` with
/// `g(x) = log(1 − q + q·exp((2x − 1)/(2σ²)))`, increasing in x.
#[derive(Debug, Clone, Copy)]
struct LossDistribution {
    q: f64,
    sigma: f64,
    direction: Direction,
}

impl LossDistribution {
    fn new(q: f64, sigma: f64, direction: Direction) -> Self {
        Self {
            q,
            sigma,
            direction,
        }
    }

    /// `g(x)`.
    fn g(&self, x: f64) -> f64 {
        let a = (2.0 * x - 1.0) / (2.0 * self.sigma * self.sigma);
        if self.q == 1.0 {
            return a;
        }
        if a > 30.0 {
            a + self.q.ln() + ((1.0 - self.q) / self.q * (-a).exp()).ln_1p()
        } else {
            (self.q * a.exp_m1()).ln_1p()
        }
    }

    /// `g⁻¹(y)`; −∞ for `y ≤ log(1 − q)`.
    fn g_inverse(&self, y: f64) -> f64 {
        let s2 = self.sigma * self.sigma;
        let log_ratio = if y > 30.0 {
            y - self.q.ln() + ((self.q - 1.0) * (-y).exp()).ln_1p()
        } else {
            let ratio = y.exp_m1() / self.q;
            if ratio <= -1.0 {
                return f64::NEG_INFINITY;
            }
            ratio.ln_1p()
        };
        s2 * log_ratio + 0.5
    }

    /// Density of X.
    fn density(&self, x: f64) -> f64 {
        let s = self.sigma;
        match self.direction {
            Direction::Remove => {
                ((1.0 - self.q) * normal_pdf(x / s) + self.q * normal_pdf((x - 1.0) / s)) / s
            }
            Direction::Add => normal_pdf(x / s) / s,
        }
    }

    /// `P(X ≤ x)` and `P(X > x)`.
    fn x_cdf(&self, x: f64) -> (f64, f64) {
        let s = self.sigma;
        match self.direction {
            Direction::Remove => {
                let (f0, s0) = normal_cdf_pair(x / s);
                let (f1, s1) = normal_cdf_pair((x - 1.0) / s);
                (
                    (1.0 - self.q) * f0 + self.q * f1,
                    (1.0 - self.q) * s0 + self.q * s1,
                )
            }
            Direction::Add => normal_cdf_pair(x / s),
        }
    }

    /// `P(Y ≤ y)` and `P(Y > y)`.
    fn cdf(&self, y: f64) -> (f64, f64) {
        match self.direction {
            Direction::Remove => self.x_cdf(self.g_inverse(y)),
            Direction::Add => {
                // Y ≤ y ⟺ g(X) ≥ −y.
                let (below, above) = self.x_cdf(self.g_inverse(-y));
                (above, below)
            }
        }
    }

    /// `E[Y; lo < Y ≤ hi]` by Simpson's rule in x, and an estimate of its error.
    fn partial_mean(&self, lo: f64, hi: f64) -> (f64, f64) {
        let sign = match self.direction {
            Direction::Remove => 1.0,
            Direction::Add => -1.0,
        };
        let (mut a, mut b) = match self.direction {
            Direction::Remove => (self.g_inverse(lo), self.g_inverse(hi)),
            Direction::Add => (self.g_inverse(-hi), self.g_inverse(-lo)),
        };
        // X has (almost) no mass beyond 40σ of its means.
        a = a.max(-40.0 * self.sigma);
        b = b.min(1.0 + 40.0 * self.sigma);
        if b <= a {
            return (0.0, 0.0);
        }
        let integrand = |x: f64| {
            let density = self.density(x);
            if density > 0.0 {
                sign * self.g(x) * density
            } else {
                0.0
            }
        };
        let simpson = |intervals: usize| -> f64 {
            let step = (b - a) / intervals as f64;
            let mut sum = integrand(a) + integrand(b);
            for i in 1..intervals {
                let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
                sum += weight * integrand(a + step * i as f64);
            }
            sum * step / 3.0
        };
        let fine = simpson(1 << 14);
        let coarse = simpson(1 << 13);
        (fine, (fine - coarse).abs())
    }
}

/// One step's discretised loss on the plan's grid.
struct DiscreteStep {
    /// Mass at `j·h + shift`, stored at index `j mod n`.
    pmf: Vec<f64>,
    shift: f64,
    /// Mass above the grid (loss +∞).
    infinite: f64,
    /// Mass below the grid, rounded up to its lowest point.
    rounded_up: f64,
    /// Error bound of the mean used for the shift.
    mean_error: f64,
    /// How far a point on the grid may lie above the loss it stands for (pure
    /// mechanisms, rounded up; 0 for the mean-preserving Gaussian steps).
    rounding: f64,
    /// How far it may lie below (floating-point noise of the pure mechanisms' rounding).
    lowering: f64,
}

fn discretise(loss: &LossDistribution, plan: &GridPlan) -> DiscreteStep {
    let (n, h) = (plan.n, plan.h);
    let half = (n / 2) as f64;
    let edge = |m: usize| (m as f64 - half - 0.5) * h;
    // Only the edges between which all but `tail_cut` of the mass lies on either side are
    // evaluated; the rest is rounded up to the first bin or put at +∞.
    let first = last_edge_at_most(n, |m| loss.cdf(edge(m)).0 <= plan.tail_cut).unwrap_or(0);
    let last = last_edge_at_most(n, |m| loss.cdf(edge(m)).1 > plan.tail_cut)
        .map_or(0, |m| m + 1)
        .clamp(first, n);
    let cdfs: Vec<(f64, f64)> = (first..=last).map(|m| loss.cdf(edge(m))).collect();
    let mut pmf = vec![0.0; n];
    let mut body_mass = 0.0;
    let mut body_mean = 0.0;
    for (offset, pair) in cdfs.windows(2).enumerate() {
        let ((f_lo, s_lo), (f_hi, s_hi)) = (pair[0], pair[1]);
        let mass = if s_lo < 0.5 { s_lo - s_hi } else { f_hi - f_lo }.max(0.0);
        let m = first + offset;
        pmf[(m + n / 2) % n] = mass;
        body_mass += mass;
        body_mean += mass * (m as f64 - half) * h;
    }
    let rounded_up = cdfs[0].0;
    let infinite = cdfs[cdfs.len() - 1].1;
    let (true_mean, mean_error) = loss.partial_mean(edge(first), edge(last));
    debug_assert!(true_mean.is_finite(), "mean of the loss: {true_mean}");
    let shift = if body_mass > 0.0 {
        ((true_mean - body_mean) / body_mass).clamp(-h / 2.0, h / 2.0)
    } else {
        0.0
    };
    // The lowest bin evaluated, or the grid's lowest point if none is.
    pmf[(first.min(n - 1) + n / 2) % n] += rounded_up;
    DiscreteStep {
        pmf,
        shift,
        infinite,
        rounded_up,
        mean_error: mean_error / body_mass.max(f64::MIN_POSITIVE),
        rounding: 0.0,
        lowering: 0.0,
    }
}

/// Randomized response's loss, ±`epsilon`, each point rounded up to the grid: a point
/// above the grid goes to +∞, one below it to the grid's lowest point.
fn discretise_pure(epsilon: f64, plan: &GridPlan) -> DiscreteStep {
    let (n, h) = (plan.n, plan.h);
    let half = (n / 2) as f64;
    let (p_plus, p_minus) = randomized_response(epsilon);
    let mut pmf = vec![0.0; n];
    let (mut infinite, mut rounded_up) = (0.0, 0.0);
    let (mut rounding, mut lowering) = (0.0f64, 0.0f64);
    for (loss, mass) in [(epsilon, p_plus), (-epsilon, p_minus)] {
        // A loss that is a multiple of h but for floating-point noise goes to that point;
        // the lowering, ≤ 1e-9·h, is added to the upper bound.
        let ratio = loss / h;
        let mut j = ratio.ceil();
        if j - ratio > 1.0 - 1e-9 {
            j -= 1.0;
        }
        if j > half - 1.0 {
            infinite += mass;
            continue;
        }
        if j < -half {
            rounded_up += mass;
        } else {
            rounding = rounding.max(j * h - loss);
            lowering = lowering.max(loss - j * h);
        }
        // Stored at `j mod n`, as `discretise` does; `j + n/2` lies in [0, n).
        let index = (j.max(-half) + half) as usize;
        pmf[(index + n / 2) % n] += mass;
    }
    DiscreteStep {
        pmf,
        shift: 0.0,
        infinite,
        rounded_up,
        mean_error: 0.0,
        rounding,
        lowering,
    }
}

/// The last `m` in `0..=n` with `holds(m)`, for a predicate that holds up to some point
/// and not after it.
fn last_edge_at_most(n: usize, holds: impl Fn(usize) -> bool) -> Option<usize> {
    if !holds(0) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if holds(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// The composed, discretised loss of one direction with its error terms.
#[derive(Debug)]
struct Composed {
    /// Mass at `x0 + i·h`, ascending.
    pmf: Vec<f64>,
    x0: f64,
    h: f64,
    infinite: f64,
    /// ε error bound above the true loss, and below it (where the pure mechanisms'
    /// rounding up adds to it).
    t: f64,
    t_lower: f64,
    /// Added to δ for the upper bound, and for the lower.
    delta_error_upper: f64,
    delta_error_lower: f64,
}

fn compose(events: &[Event], plan: &GridPlan, direction: Direction) -> Composed {
    let n = plan.n;
    let mut spectrum = vec![fft::Complex::new(1.0, 0.0); n];
    let (mut offset, mut log_finite, mut rounded_up, mut mean_slack) = (0.0, 0.0, 0.0, 0.0);
    let (mut rounding, mut lowering) = (0.0, 0.0);
    let twiddles = fft::twiddles(n);
    for event in events {
        let step = match *event {
            Event::Gaussian { q, sigma, .. } => {
                discretise(&LossDistribution::new(q, sigma, direction), plan)
            }
            // Randomized response's loss is the same in both directions.
            Event::Pure { epsilon, .. } => discretise_pure(epsilon, plan),
        };
        let k = event.count() as f64;
        offset += k * step.shift;
        log_finite += k * (-step.infinite).ln_1p();
        rounded_up += k * step.rounded_up;
        mean_slack += k * step.mean_error;
        rounding += k * step.rounding;
        lowering += k * step.lowering;
        let mut one: Vec<fft::Complex> = step
            .pmf
            .iter()
            .map(|&p| fft::Complex::new(p, 0.0))
            .collect();
        fft::transform(&mut one, &twiddles, false);
        for (total, z) in spectrum.iter_mut().zip(&one) {
            *total = *total * z.pow(event.count());
        }
    }
    fft::transform(&mut spectrum, &twiddles, true);
    let half = n / 2;
    let scale = 1.0 / n as f64;
    let pmf: Vec<f64> = (0..n)
        .map(|i| (spectrum[(i + half) % n].re * scale).max(0.0))
        .collect();
    let infinite = (-log_finite.exp_m1()).max(0.0);
    let rounded_up = rounded_up.min(1.0);
    // The circular grid wraps at `offset ± n/2·h`; S̃ gets there only if S comes within t
    // (t plus the pure mechanisms' rounding, at the top) of it (else Hoeffding fails, η)
    // or a step was rounded up from below the grid.
    let reach = half as f64 * plan.h - offset.abs() - plan.t - rounding - plan.h;
    let wrapped = log_tail(&plan.orders, &plan.rdp, reach).exp() + plan.eta;
    let shared = plan.eta + wrapped + rounded_up;
    Composed {
        pmf,
        x0: offset - half as f64 * plan.h,
        h: plan.h,
        infinite,
        t: plan.t + mean_slack + lowering,
        t_lower: plan.t + mean_slack + rounding,
        delta_error_upper: shared,
        delta_error_lower: shared + infinite,
    }
}

impl Composed {
    fn epsilon(&self, delta: f64) -> PrvEpsilon {
        let curve = DeltaCurve::new(self);
        let upper_delta = delta - self.delta_error_upper;
        let upper = if upper_delta > 0.0 {
            curve.epsilon(upper_delta) + self.t
        } else {
            f64::INFINITY
        };
        let lower_delta = delta + self.delta_error_lower;
        let lower = if lower_delta < 1.0 {
            (curve.epsilon(lower_delta) - self.t_lower).max(0.0)
        } else {
            0.0
        };
        PrvEpsilon {
            epsilon: curve.epsilon(delta),
            lower,
            upper,
        }
    }
}

/// `δ(ε) = P(S = ∞) + Σ_i p_i (1 − e^{ε − x_i})₊` of a discrete loss, through suffix sums.
struct DeltaCurve<'a> {
    composed: &'a Composed,
    /// `A_j = Σ_{i ≥ j} p_i`.
    mass_above: Vec<f64>,
    /// `B_j = Σ_{i ≥ j} p_i e^{−(x_i − x_j)}`.
    weighted_above: Vec<f64>,
}

impl<'a> DeltaCurve<'a> {
    fn new(composed: &'a Composed) -> Self {
        let n = composed.pmf.len();
        let decay = (-composed.h).exp();
        let mut mass_above = vec![0.0; n + 1];
        let mut weighted_above = vec![0.0; n + 1];
        for j in (0..n).rev() {
            mass_above[j] = mass_above[j + 1] + composed.pmf[j];
            weighted_above[j] = composed.pmf[j] + decay * weighted_above[j + 1];
        }
        Self {
            composed,
            mass_above,
            weighted_above,
        }
    }

    fn x(&self, j: usize) -> f64 {
        self.composed.x0 + j as f64 * self.composed.h
    }

    /// δ at the grid point `x_j`.
    fn delta_at_point(&self, j: usize) -> f64 {
        let decay = (-self.composed.h).exp();
        self.composed.infinite + self.mass_above[j + 1] - decay * self.weighted_above[j + 1]
    }

    /// The smallest ε ≥ 0 with δ(ε) ≤ `delta`.
    fn epsilon(&self, delta: f64) -> f64 {
        let infinite = self.composed.infinite;
        if infinite >= delta {
            return f64::INFINITY;
        }
        let n = self.composed.pmf.len();
        // δ(x_j) decreases in j and δ(x_{n−1}) = P(∞) < delta: find the first j with
        // δ(x_j) ≤ delta; ε lies in [x_{j−1}, x_j] (below x_0 when j = 0).
        let (mut lo, mut hi) = (0usize, n - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.delta_at_point(mid) <= delta {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let j = lo;
        // For ε ∈ [x_{j−1}, x_j]: δ(ε) = P(∞) + A_j − e^{ε − x_j} B_j.
        let weighted = self.weighted_above[j];
        let epsilon = if weighted > 0.0 {
            let excess = infinite + self.mass_above[j] - delta;
            if excess > 0.0 {
                self.x(j) + (excess / weighted).ln()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            self.x(j)
        };
        epsilon.max(0.0)
    }
}

/// The exact ε at `delta` of the Gaussian mechanism with sensitivity 1 and noise `sigma`
/// (Balle & Wang 2018, Theorem 8): the smallest ε with
/// `Φ(1/2σ − εσ) − e^ε Φ(−1/2σ − εσ) ≤ δ`.
pub fn gaussian_epsilon(sigma: f64, delta: f64) -> Result<f64> {
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(PrivacyError::InvalidParameter {
            field: "noise_multiplier",
            message: format!("{sigma} is not a positive number"),
        });
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::InvalidParameter {
            field: "delta",
            message: format!("{delta} is not within (0, 1)"),
        });
    }
    let delta_of = |eps: f64| {
        let a = normal_cdf_pair(0.5 / sigma - eps * sigma).0;
        let b = normal_cdf_pair(-0.5 / sigma - eps * sigma).0;
        a - (eps + b.ln()).exp()
    };
    if delta_of(0.0) <= delta {
        return Ok(0.0);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while delta_of(hi) > delta {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if delta_of(mid) > delta {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi {
            break;
        }
    }
    Ok(hi)
}

/// A radix-2 complex FFT, enough for composing loss distributions.
mod fft {
    /// A complex number.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(super) struct Complex {
        pub(super) re: f64,
        pub(super) im: f64,
    }

    impl Complex {
        pub(super) fn new(re: f64, im: f64) -> Self {
            Self { re, im }
        }

        /// `self^k` by repeated squaring.
        pub(super) fn pow(self, mut k: u64) -> Self {
            let mut result = Complex::new(1.0, 0.0);
            let mut base = self;
            while k > 0 {
                if k & 1 == 1 {
                    result = result * base;
                }
                k >>= 1;
                if k > 0 {
                    base = base * base;
                }
            }
            result
        }
    }

    impl std::ops::Mul for Complex {
        type Output = Complex;
        fn mul(self, o: Complex) -> Complex {
            Complex::new(
                self.re * o.re - self.im * o.im,
                self.re * o.im + self.im * o.re,
            )
        }
    }

    /// `exp(−2πik/n)` for `k < n/2`.
    pub(super) fn twiddles(n: usize) -> Vec<Complex> {
        (0..n / 2)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex::new(angle.cos(), angle.sin())
            })
            .collect()
    }

    /// In-place FFT of a power-of-two length (unscaled; `inverse` conjugates the
    /// twiddles).
    pub(super) fn transform(data: &mut [Complex], twiddles: &[Complex], inverse: bool) {
        let n = data.len();
        debug_assert!(n.is_power_of_two() && twiddles.len() == n / 2);
        let bits = n.trailing_zeros();
        if bits == 0 {
            return;
        }
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if j > i {
                data.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let stride = n / len;
            let half = len / 2;
            for block in data.chunks_exact_mut(len) {
                let (left, right) = block.split_at_mut(half);
                for (k, (a, b)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
                    let mut w = twiddles[k * stride];
                    if inverse {
                        w.im = -w.im;
                    }
                    let t = *b * w;
                    *b = Complex::new(a.re - t.re, a.im - t.im);
                    *a = Complex::new(a.re + t.re, a.im + t.im);
                }
            }
            len *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdp::RdpAccountant;

    fn prv(q: f64, sigma: f64, steps: u64, delta: f64, eps_error: f64) -> PrvEpsilon {
        let mut accountant = PrvAccountant::with_eps_error(eps_error).expect("accountant");
        accountant
            .add_subsampled_gaussian(q, sigma, steps)
            .expect("event");
        accountant.epsilon(delta).expect("epsilon")
    }

    #[test]
    fn fft_convolves_like_the_direct_sum() {
        let n = 16;
        let a: Vec<f64> = (0..n)
            .map(|i| if i < 5 { (i + 1) as f64 } else { 0.0 })
            .collect();
        let b: Vec<f64> = (0..n)
            .map(|i| if i < 4 { (2 * i + 1) as f64 } else { 0.0 })
            .collect();
        let tw = fft::twiddles(n);
        let mut fa: Vec<_> = a.iter().map(|&x| fft::Complex::new(x, 0.0)).collect();
        let mut fb: Vec<_> = b.iter().map(|&x| fft::Complex::new(x, 0.0)).collect();
        fft::transform(&mut fa, &tw, false);
        fft::transform(&mut fb, &tw, false);
        let mut product: Vec<_> = fa.iter().zip(&fb).map(|(x, y)| *x * *y).collect();
        fft::transform(&mut product, &tw, true);
        for k in 0..n {
            let direct: f64 = (0..=k).map(|i| a[i] * b[k - i]).sum();
            assert!((product[k].re / n as f64 - direct).abs() < 1e-9, "{k}");
        }
    }

    #[test]
    fn opacus_dp_sgd_figure() {
        // Opacus's PRV accountant test: q = 0.04, σ = 1.5, 2250 steps, δ = 1e-5 → 6.77.
        let result = prv(0.04, 1.5, 2250, 1e-5, 0.05);
        assert!((result.epsilon - 6.77).abs() <= 0.05, "{result:?}");
        assert!(result.upper >= result.epsilon && result.lower <= result.epsilon);
        assert!(result.upper - result.lower < 0.15, "{result:?}");
    }

    #[test]
    fn few_small_steps_are_far_tighter_than_rdp() {
        let result = prv(0.001, 0.8, 100, 1e-6, 0.01);
        assert!((result.epsilon - 0.27).abs() <= 0.03, "{result:?}");
        assert!(result.upper >= result.epsilon && result.lower <= result.epsilon);
        let mut rdp = RdpAccountant::default();
        rdp.add_subsampled_gaussian(0.001, 0.8, 100).expect("rdp");
        let (eps, _) = rdp.epsilon(1e-6).expect("rdp epsilon");
        assert!((eps - 1.37).abs() <= 0.02, "{eps}");
    }

    #[test]
    fn full_batches_match_the_analytic_gaussian() {
        // Ten steps at σ = 2 are one Gaussian step at σ = 2/√10.
        let exact = gaussian_epsilon(2.0 / 10f64.sqrt(), 1e-5).expect("exact");
        let result = prv(1.0, 2.0, 10, 1e-5, 0.01);
        assert!(
            (result.epsilon - exact).abs() < 2e-3,
            "{result:?} vs {exact}"
        );
        assert!(
            result.lower <= exact && exact <= result.upper,
            "{result:?} vs {exact}"
        );
        // Balle & Wang's own figure: σ = 1 … (ε = 1, δ ≈ 0.127).
        let eps = gaussian_epsilon(1.0, 0.12693673750664397).expect("exact");
        assert!((eps - 1.0).abs() < 1e-6, "{eps}");
    }

    #[test]
    fn heterogeneous_composition_does_not_depend_on_order() {
        let mut first = PrvAccountant::with_eps_error(0.05).expect("accountant");
        first.add_subsampled_gaussian(0.01, 1.0, 300).expect("a");
        first.add_subsampled_gaussian(0.05, 2.0, 200).expect("b");
        let mut second = PrvAccountant::with_eps_error(0.05).expect("accountant");
        second.add_subsampled_gaussian(0.05, 2.0, 200).expect("b");
        second.add_subsampled_gaussian(0.01, 1.0, 300).expect("a");
        let (a, b) = (
            first.epsilon(1e-5).expect("a"),
            second.epsilon(1e-5).expect("b"),
        );
        assert!((a.epsilon - b.epsilon).abs() < 1e-9, "{a:?} {b:?}");
        // More than either part alone, less than RDP says.
        let alone = prv(0.05, 2.0, 200, 1e-5, 0.05);
        assert!(a.epsilon > alone.epsilon + 0.05, "{a:?} {alone:?}");
        let mut rdp = RdpAccountant::default();
        rdp.add_subsampled_gaussian(0.01, 1.0, 300).expect("rdp");
        rdp.add_subsampled_gaussian(0.05, 2.0, 200).expect("rdp");
        assert!(a.upper < rdp.epsilon(1e-5).expect("rdp").0, "{a:?}");
        // Splitting an event into two of the same kind changes nothing.
        let mut split = PrvAccountant::with_eps_error(0.05).expect("accountant");
        split.add_subsampled_gaussian(0.05, 2.0, 120).expect("b");
        split.add_subsampled_gaussian(0.01, 1.0, 300).expect("a");
        split.add_subsampled_gaussian(0.05, 2.0, 80).expect("b");
        assert_eq!(split.epsilon(1e-5).expect("split"), a);
    }

    /// δ(ε') of a composition of randomized responses, `k` at each `ε` of `groups`: k-fold
    /// randomized response at ε has loss (k − 2i)ε with probability
    /// C(k, i)·e^{(k−i)ε}/(1 + e^ε)^k; the groups' losses add.
    fn randomized_response_delta(groups: &[(f64, u64)], eps_prime: f64) -> f64 {
        let mut atoms = vec![(0.0, 1.0)];
        for &(epsilon, k) in groups {
            let (p, r) = randomized_response(epsilon);
            let mut binomial = 1.0;
            let mut next = Vec::new();
            for i in 0..=k {
                if i > 0 {
                    binomial *= (k - i + 1) as f64 / i as f64;
                }
                let probability = binomial * p.powi((k - i) as i32) * r.powi(i as i32);
                let loss = (k as f64 - 2.0 * i as f64) * epsilon;
                next.extend(atoms.iter().map(|&(l, q)| (l + loss, q * probability)));
            }
            atoms = next;
        }
        atoms
            .iter()
            .map(|&(loss, probability)| probability * (-(eps_prime - loss).exp_m1()).max(0.0))
            .sum()
    }

    /// The exact ε' at δ of the composition, by bisection.
    fn randomized_response_epsilon(groups: &[(f64, u64)], delta: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, groups.iter().map(|&(e, k)| e * k as f64).sum());
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if randomized_response_delta(groups, mid) > delta {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    fn pure(epsilon: f64, count: u64, delta: f64) -> PrvEpsilon {
        let mut accountant = PrvAccountant::new();
        accountant.add_pure(epsilon, count).expect("pure");
        accountant.epsilon(delta).expect("epsilon")
    }

    #[test]
    fn one_pure_event_is_randomized_response() {
        for delta in [0.1, 1e-2, 1e-3] {
            // (e − e^ε')/(1 + e) = δ.
            let e = 1f64.exp();
            let exact = (e - delta * (1.0 + e)).ln();
            assert!((exact - randomized_response_epsilon(&[(1.0, 1)], delta)).abs() < 1e-12);
            let result = pure(1.0, 1, delta);
            eprintln!("ε = 1, δ = {delta}: exact {exact}, {result:?}");
            assert!(
                result.lower <= exact && exact <= result.upper,
                "{delta}: {result:?} vs {exact}"
            );
            assert!(
                (result.epsilon - exact).abs() <= DEFAULT_EPS_ERROR,
                "{delta}: {result:?} vs {exact}"
            );
            assert!(
                result.upper - result.lower <= 2.0 * DEFAULT_EPS_ERROR,
                "{result:?}"
            );
        }
        // As δ → 0, ε' → ε, and not beyond it by more than the discretisation.
        for epsilon in [0.3, 1.0, 4.0] {
            let result = pure(epsilon, 1, 1e-12);
            eprintln!("ε = {epsilon}, δ = 1e-12: {result:?}");
            let exact = randomized_response_epsilon(&[(epsilon, 1)], 1e-12);
            assert!(epsilon - exact < 1e-10, "{exact}");
            assert!(
                result.lower <= exact && exact <= result.upper,
                "{result:?} vs {exact}"
            );
            assert!(result.upper <= epsilon + DEFAULT_EPS_ERROR, "{result:?}");
            assert!(epsilon - result.lower <= DEFAULT_EPS_ERROR, "{result:?}");
        }
    }

    #[test]
    fn pure_composition_matches_the_optimal_composition() {
        // Ten 0.1-DP mechanisms (Kairouz et al. 2015: k-fold randomized response is
        // the worst case).
        let exact = randomized_response_epsilon(&[(0.1, 10)], 1e-5);
        let result = pure(0.1, 10, 1e-5);
        eprintln!("10 × 0.1-DP, δ = 1e-5: exact {exact}, {result:?}");
        assert!(
            result.lower <= exact && exact <= result.upper,
            "{result:?} vs {exact}"
        );
        assert!(
            (result.epsilon - exact).abs() <= DEFAULT_EPS_ERROR,
            "{result:?}"
        );
        assert!(result.upper < 1.0, "below basic composition: {result:?}");
        // Many small mechanisms: far below kε.
        let exact = randomized_response_epsilon(&[(0.05, 200)], 1e-6);
        let result = pure(0.05, 200, 1e-6);
        eprintln!("200 × 0.05-DP, δ = 1e-6: exact {exact}, {result:?}");
        assert!(
            result.lower <= exact && exact <= result.upper,
            "{result:?} vs {exact}"
        );
        assert!(
            result.upper - result.lower <= 2.5 * DEFAULT_EPS_ERROR,
            "{result:?}"
        );
        // Adding in parts changes nothing.
        let mut split = PrvAccountant::new();
        split.add_pure(0.05, 120).expect("a");
        split.add_pure(0.05, 80).expect("b");
        assert_eq!(split.epsilon(1e-6).expect("split"), result);
    }

    #[test]
    fn mixed_pure_events_are_rounded_up() {
        // Two values of ε share no mesh: both are rounded up, and the lower bound pays.
        let groups = [(0.1, 6), (0.07, 9)];
        let mut accountant = PrvAccountant::new();
        for (epsilon, count) in groups {
            accountant.add_pure(epsilon, count).expect("pure");
        }
        for delta in [1e-2, 1e-5] {
            let exact = randomized_response_epsilon(&groups, delta);
            let result = accountant.epsilon(delta).expect("epsilon");
            eprintln!("6 × 0.1 + 9 × 0.07, δ = {delta}: exact {exact}, {result:?}");
            assert!(
                result.lower <= exact && exact <= result.upper,
                "{result:?} vs {exact}"
            );
            assert!(result.epsilon >= exact - 1e-9, "{result:?} vs {exact}");
            assert!(
                result.upper - result.lower <= 2.0 * DEFAULT_EPS_ERROR,
                "{result:?}"
            );
        }
        // An ε below the mesh still bounds: ε' ≤ ε, rounded up to at most h.
        let tiny = pure(0.001, 1, 1e-5);
        let exact = randomized_response_epsilon(&[(0.001, 1)], 1e-5);
        assert!(
            tiny.lower <= exact && exact <= tiny.upper,
            "{tiny:?} vs {exact}"
        );
        assert!(tiny.upper <= DEFAULT_EPS_ERROR, "{tiny:?}");
    }

    #[test]
    fn gaussian_and_pure_events_compose() {
        let delta = 1e-5;
        let mut both = PrvAccountant::new();
        both.add_gaussian(4.0, 8).expect("gaussian");
        both.add_pure(0.3, 5).expect("pure");
        let both = both.epsilon(delta).expect("both");
        let mut gaussian = PrvAccountant::new();
        gaussian.add_gaussian(4.0, 8).expect("gaussian");
        let gaussian = gaussian.epsilon(delta).expect("gaussian");
        let alone = pure(0.3, 5, delta);
        let mut rdp = RdpAccountant::default();
        rdp.add_subsampled_gaussian(1.0, 4.0, 8).expect("rdp");
        for _ in 0..5 {
            rdp.add_pure(0.3).expect("rdp");
        }
        let (rdp, _) = rdp.epsilon(delta).expect("rdp epsilon");
        eprintln!("both {both:?}, gaussian {gaussian:?}, pure {alone:?}, rdp {rdp}");
        assert!(both.upper < rdp, "{both:?} vs {rdp}");
        assert!(
            both.epsilon > gaussian.epsilon.max(alone.epsilon),
            "{both:?} {gaussian:?} {alone:?}"
        );
        assert!(both.lower <= both.epsilon && both.epsilon <= both.upper);
        // Eight Gaussian steps at σ = 4 are one at σ = √2.
        let exact = gaussian_epsilon(2f64.sqrt(), delta).expect("exact");
        assert!(
            gaussian.lower <= exact && exact <= gaussian.upper,
            "{gaussian:?} vs {exact}"
        );
        let mut subsampled = PrvAccountant::new();
        subsampled
            .add_subsampled_gaussian(1.0, 4.0, 8)
            .expect("gaussian");
        assert_eq!(subsampled.epsilon(delta).expect("same"), gaussian);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        let mut accountant = PrvAccountant::new();
        for (q, sigma, field) in [
            (0.0, 1.0, "sample_rate"),
            (1.5, 1.0, "sample_rate"),
            (f64::NAN, 1.0, "sample_rate"),
            (0.1, 0.0, "noise_multiplier"),
            (0.1, f64::INFINITY, "noise_multiplier"),
        ] {
            match accountant.add_subsampled_gaussian(q, sigma, 10) {
                Err(PrivacyError::InvalidParameter { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{q} {sigma}: {other:?}"),
            }
        }
        for delta in [0.0, 1.0, f64::NAN, -1e-5] {
            assert!(accountant.epsilon(delta).is_err(), "{delta}");
        }
        for epsilon in [-1.0, f64::NAN, f64::INFINITY] {
            match accountant.add_pure(epsilon, 1) {
                Err(PrivacyError::InvalidParameter { field, .. }) => assert_eq!(field, "epsilon"),
                other => panic!("{epsilon}: {other:?}"),
            }
        }
        match accountant.add_gaussian(0.0, 1) {
            Err(PrivacyError::InvalidParameter { field, .. }) => {
                assert_eq!(field, "noise_multiplier")
            }
            other => panic!("{other:?}"),
        }
        // Nothing spent: ε = 0, no mechanisms, zero-noise-free no-ops.
        accountant.add_pure(0.0, 5).expect("ε = 0");
        accountant.add_pure(1.0, 0).expect("count = 0");
        accountant.add_gaussian(1.0, 0).expect("count = 0");
        assert!(accountant.events.is_empty());
        assert!(PrvAccountant::with_eps_error(0.0).is_err());
        assert!(gaussian_epsilon(0.0, 1e-5).is_err());
        assert_eq!(
            accountant.epsilon(1e-5).expect("empty"),
            PrvEpsilon {
                epsilon: 0.0,
                lower: 0.0,
                upper: 0.0
            }
        );
    }
}
