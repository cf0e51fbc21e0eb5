//! A one-dimensional variational Bayesian Gaussian mixture with a Dirichlet-process
//! (stick-breaking) prior on the weights, for mode-specific normalization.
//!
//! Mean-field variational inference as in Blei & Jordan (2006) and Bishop (2006, §10.2),
//! with the conventions of scikit-learn's `BayesianGaussianMixture`: a Normal-Wishart
//! (in one dimension Normal-Gamma) prior on each component's mean and precision, k-means++
//! then Lloyd initialisation of the responsibilities, and coordinate ascent until the
//! evidence lower bound changes by less than 1e-3 per value (at most 100 iterations). The
//! prior is set from the data: the values are standardised first, so the mean prior is the
//! data mean, the precision prior one over the data variance, with one degree of freedom
//! and mean precision one.
//!
//! From a k-means start, plain coordinate ascent leaves a unimodal stretch tiled by several
//! overlapping components (the Dirichlet-process prior removes them only very slowly), so
//! after it converges the fit tries merge moves (Ueda et al. 2000; Hughes & Sudderth 2013):
//! the neighbouring pair whose merged responsibilities score best is merged, refined for at
//! most 30 iterations, and kept once the bound passes the unmerged one; the first merge that
//! does not pay ends the search (300 iterations in all at most). A single normal then comes
//! out as one component, two separated normals as two.
//!
//! Duplicate values are folded into weights, which makes integer and heavily tied columns
//! cheap to fit without changing the result.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Evidence lower bound change (per value) below which fitting stops.
const TOLERANCE: f64 = 1e-3;
/// Most coordinate-ascent iterations before the merge moves.
const MAX_ITERATIONS: usize = 100;
/// Most iterations in all, merge refinements included.
const MAX_MERGE_ITERATIONS: usize = 300;
/// Most iterations refining one merge.
const MERGE_REFINEMENT: usize = 30;
/// Most Lloyd iterations of the k-means initialisation.
const MAX_KMEANS_ITERATIONS: usize = 100;
/// Added to each component's variance (in standardised units) to keep it positive.
const VARIANCE_FLOOR: f64 = 1e-6;

/// The hyperparameters of a fit.
#[derive(Debug, Clone, Copy)]
pub struct MixtureSettings {
    /// Most components.
    pub max_components: usize,
    /// Dirichlet-process concentration.
    pub weight_concentration: f64,
    /// Components with a weight at most this are dropped.
    pub weight_threshold: f64,
}

/// The fitted mixture, restricted to the components that were kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesianGaussianMixture {
    /// Weights of the kept components, renormalised to sum to one.
    pub weights: Vec<f64>,
    /// Component means (posterior means of the mean).
    pub means: Vec<f64>,
    /// Component standard deviations (from the expected precision).
    pub stds: Vec<f64>,
    /// Per component: the log-responsibility terms that do not depend on the value,
    /// `E[ln π] + ½E[ln λ] − 1/(2β)` (up to a shared constant).
    log_offsets: Vec<f64>,
    /// Per component: half the expected precision `½E[λ]`, so the log-responsibility of `x`
    /// is `log_offsets[k] − half_precisions[k]·(x − means[k])²`.
    half_precisions: Vec<f64>,
    /// Variational iterations run.
    pub iterations: usize,
    /// Whether the lower bound converged before the iteration limit.
    pub converged: bool,
}

impl BayesianGaussianMixture {
    /// Fits the mixture on `values` (finite numbers). An empty input gives one standard
    /// normal component, constant input one component at the constant.
    pub fn fit(values: &[f64], settings: &MixtureSettings, rng: &mut ChaCha8Rng) -> Self {
        if values.is_empty() {
            return Self::single(0.0, 1.0);
        }
        let n = values.len() as f64;
        let center = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|x| (x - center).powi(2)).sum::<f64>() / n;
        let scale = variance.sqrt();
        if !(scale.is_finite() && scale > 1e-12 * center.abs().max(1.0)) {
            return Self::single(center, 1e-6 * center.abs().max(1.0));
        }
        let (points, counts) = unique_standardised(values, center, scale);
        let components = settings.max_components.min(points.len()).max(1);
        let labels = kmeans(&points, &counts, components, rng);
        let mut responsibilities = vec![0.0; points.len() * components];
        for (row, &label) in labels.iter().enumerate() {
            responsibilities[row * components + label] = 1.0;
        }
        let data = Data {
            points: &points,
            counts: &counts,
            total: n,
        };
        let mut fit = Posterior::new(
            Variational::new(components, settings.weight_concentration),
            responsibilities,
            &data,
        );
        let mut iterations = 0;
        let mut converged = fit.settle(&data, MAX_ITERATIONS, &mut iterations);
        // Merge moves: try the most promising merge of neighbouring components, refine it
        // and keep it when the bound rises; stop at the first merge that does not pay.
        while converged && fit.state.components() > 1 && iterations < MAX_MERGE_ITERATIONS {
            let Some((keep, drop)) = fit.best_merge(&data) else {
                break;
            };
            let mut merged = fit.merged(keep, drop, &data);
            let budget = MERGE_REFINEMENT.min(MAX_MERGE_ITERATIONS - iterations);
            // Coordinate ascent never lowers the bound: the merge pays as soon as it passes
            // the unmerged bound.
            let mut accepted = merged.bound > fit.bound;
            for _ in 0..budget {
                if accepted {
                    break;
                }
                iterations += 1;
                let change = merged.step(&data);
                accepted = merged.bound > fit.bound;
                if change < TOLERANCE * 1e-2 {
                    break;
                }
            }
            if !accepted {
                break;
            }
            let budget = MAX_MERGE_ITERATIONS.saturating_sub(iterations);
            converged = merged.settle(&data, budget.min(MAX_ITERATIONS), &mut iterations);
            fit = merged;
        }
        fit.state.finish(
            center,
            scale,
            settings.weight_threshold,
            iterations,
            converged,
        )
    }

    /// One standard normal component (the single mode of a DP transformer's normal
    /// scores).
    pub fn standard_normal() -> Self {
        Self::single(0.0, 1.0)
    }

    fn single(mean: f64, std: f64) -> Self {
        Self {
            weights: vec![1.0],
            means: vec![mean],
            stds: vec![std],
            log_offsets: vec![0.0],
            half_precisions: vec![0.5 / (std * std)],
            iterations: 0,
            converged: true,
        }
    }

    /// Number of kept components.
    pub fn components(&self) -> usize {
        self.means.len()
    }

    /// The posterior probability of each kept component for `x`, written to `out`
    /// (length [`Self::components`]).
    pub fn responsibilities(&self, x: f64, out: &mut [f64]) {
        debug_assert_eq!(out.len(), self.components());
        let mut largest = f64::NEG_INFINITY;
        for (k, slot) in out.iter_mut().enumerate() {
            let d = x - self.means[k];
            *slot = self.log_offsets[k] - self.half_precisions[k] * d * d;
            largest = largest.max(*slot);
        }
        let mut total = 0.0;
        for slot in out.iter_mut() {
            *slot = (*slot - largest).exp();
            total += *slot;
        }
        out.iter_mut().for_each(|p| *p /= total);
    }

    /// A component drawn from the posterior of `x` (`scratch` has length
    /// [`Self::components`]).
    pub fn sample_component(&self, x: f64, scratch: &mut [f64], rng: &mut impl Rng) -> usize {
        if scratch.len() == 1 {
            return 0;
        }
        self.responsibilities(x, scratch);
        pick(scratch, rng.random::<f64>())
    }

    /// A component drawn by weight.
    pub fn sample_by_weight(&self, rng: &mut impl Rng) -> usize {
        pick(&self.weights, rng.random::<f64>())
    }
}

/// The index where the running sum of `probabilities` passes `u`.
fn pick(probabilities: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (k, p) in probabilities.iter().enumerate() {
        acc += p;
        if u < acc {
            return k;
        }
    }
    probabilities.len() - 1
}

/// The distinct standardised values, ascending, and how often each occurs.
fn unique_standardised(values: &[f64], center: f64, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut sorted: Vec<f64> = values.iter().map(|x| (x - center) / scale).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut points: Vec<f64> = Vec::new();
    let mut counts: Vec<f64> = Vec::new();
    for z in sorted {
        match points.last() {
            Some(&last) if last == z => *counts.last_mut().expect("same length") += 1.0,
            _ => {
                points.push(z);
                counts.push(1.0);
            }
        }
    }
    (points, counts)
}

/// Weighted k-means++ seeding then Lloyd iterations; the cluster of each point.
fn kmeans(points: &[f64], counts: &[f64], k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut centers: Vec<f64> = Vec::with_capacity(k);
    centers.push(points[draw(counts, rng)]);
    let mut distance: Vec<f64> = points.iter().map(|p| (p - centers[0]).powi(2)).collect();
    while centers.len() < k {
        let weighted: Vec<f64> = distance.iter().zip(counts).map(|(d, c)| d * c).collect();
        if weighted.iter().sum::<f64>() <= 0.0 {
            break;
        }
        let next = points[draw(&weighted, rng)];
        centers.push(next);
        for (d, p) in distance.iter_mut().zip(points) {
            *d = d.min((p - next).powi(2));
        }
    }
    let nearest = |p: f64, centers: &[f64]| {
        let mut best = 0;
        for (j, c) in centers.iter().enumerate() {
            if (p - c).abs() < (p - centers[best]).abs() {
                best = j;
            }
        }
        best
    };
    let mut labels: Vec<usize> = points.iter().map(|&p| nearest(p, &centers)).collect();
    for _ in 0..MAX_KMEANS_ITERATIONS {
        let mut sums = vec![0.0; centers.len()];
        let mut weights = vec![0.0; centers.len()];
        for ((p, c), &label) in points.iter().zip(counts).zip(&labels) {
            sums[label] += p * c;
            weights[label] += c;
        }
        for (j, center) in centers.iter_mut().enumerate() {
            if weights[j] > 0.0 {
                *center = sums[j] / weights[j];
            }
        }
        let mut changed = false;
        for (label, &p) in labels.iter_mut().zip(points) {
            let best = nearest(p, &centers);
            changed |= best != *label;
            *label = best;
        }
        if !changed {
            break;
        }
    }
    labels
}

/// An index drawn with probability proportional to `weights`.
fn draw(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let u = rng.random::<f64>() * total;
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

/// Weighted raw moments of the values under each component's responsibilities.
#[derive(Debug, Clone)]
struct Statistics {
    mass: Vec<f64>,
    sum: Vec<f64>,
    squares: Vec<f64>,
}

impl Statistics {
    fn empty(components: usize) -> Self {
        Self {
            mass: vec![0.0; components],
            sum: vec![0.0; components],
            squares: vec![0.0; components],
        }
    }

    fn of(points: &[f64], counts: &[f64], responsibilities: &[f64], components: usize) -> Self {
        let mut statistics = Self::empty(components);
        for ((&p, &c), slots) in points
            .iter()
            .zip(counts)
            .zip(responsibilities.chunks_exact(components))
        {
            for (j, &r) in slots.iter().enumerate() {
                let w = r * c;
                statistics.mass[j] += w;
                statistics.sum[j] += w * p;
                statistics.squares[j] += w * p * p;
            }
        }
        statistics
    }

    /// The statistics with component `drop` folded into `keep` (and left empty).
    fn merged(&self, keep: usize, drop: usize) -> Self {
        let mut merged = self.clone();
        for moments in [&mut merged.mass, &mut merged.sum, &mut merged.squares] {
            moments[keep] += moments[drop];
            moments[drop] = 0.0;
        }
        merged
    }
}

/// The values being fitted: distinct standardised values and their multiplicities.
struct Data<'a> {
    points: &'a [f64],
    counts: &'a [f64],
    total: f64,
}

/// A variational posterior with its responsibilities and bound.
struct Posterior {
    state: Variational,
    /// Row-major `points × components`.
    responsibilities: Vec<f64>,
    statistics: Statistics,
    /// Entropy of the responsibilities.
    entropy: f64,
    /// The evidence lower bound (up to a constant that does not depend on the number of
    /// components).
    bound: f64,
}

impl Posterior {
    /// The posterior of the given responsibilities (the bound is that of the
    /// responsibilities as they are).
    fn new(mut state: Variational, responsibilities: Vec<f64>, data: &Data<'_>) -> Self {
        let k = state.components();
        let statistics = Statistics::of(data.points, data.counts, &responsibilities, k);
        state.maximise(&statistics);
        let entropy = entropy(data.counts, &responsibilities);
        let bound = entropy + state.bound_terms();
        Self {
            state,
            responsibilities,
            statistics,
            entropy,
            bound,
        }
    }

    /// Coordinate ascent (E-step, M-step) for at most `budget` iterations, counted in
    /// `iterations`, until the bound changes by less than the tolerance per value; returns
    /// whether it converged.
    fn settle(&mut self, data: &Data<'_>, budget: usize, iterations: &mut usize) -> bool {
        for _ in 0..budget {
            *iterations += 1;
            if self.step(data) < TOLERANCE {
                return true;
            }
        }
        false
    }

    /// One E-step and M-step; returns the change of the bound per value.
    fn step(&mut self, data: &Data<'_>) -> f64 {
        let k = self.state.components();
        self.entropy = self
            .state
            .expect(data.points, data.counts, &mut self.responsibilities);
        self.statistics = Statistics::of(data.points, data.counts, &self.responsibilities, k);
        self.state.maximise(&self.statistics);
        let next = self.entropy + self.state.bound_terms();
        let change = (next - self.bound).abs() / data.total;
        self.bound = next;
        change
    }

    /// The pair of components neighbouring in mean whose merge (summed responsibilities,
    /// before any refinement) gives the highest bound: `(keep, drop)`, `keep < drop`.
    fn best_merge(&self, data: &Data<'_>) -> Option<(usize, usize)> {
        let k = self.state.components();
        let mut active: Vec<usize> = (0..k).filter(|&j| self.statistics.mass[j] > 1e-9).collect();
        active.sort_by(|&a, &b| self.state.mean[a].total_cmp(&self.state.mean[b]));
        let mut best: Option<(usize, usize, f64)> = None;
        for pair in active.windows(2) {
            let (keep, drop) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            let mut trial = Variational::new(k, self.state.concentration);
            trial.maximise(&self.statistics.merged(keep, drop));
            let mut entropy_change = 0.0;
            for (slots, &c) in self.responsibilities.chunks_exact(k).zip(data.counts) {
                let (a, b) = (slots[keep], slots[drop]);
                if a > 0.0 && b > 0.0 {
                    entropy_change += c * (a * a.ln() + b * b.ln() - (a + b) * (a + b).ln());
                }
            }
            let candidate = self.entropy + entropy_change + trial.bound_terms();
            if best.is_none_or(|(_, _, bound)| candidate > bound) {
                best = Some((keep, drop, candidate));
            }
        }
        best.map(|(keep, drop, _)| (keep, drop))
    }

    /// The posterior with component `drop` merged into `keep` and removed.
    fn merged(&self, keep: usize, drop: usize, data: &Data<'_>) -> Self {
        let k = self.state.components();
        let mut responsibilities = Vec::with_capacity(data.points.len() * (k - 1));
        for slots in self.responsibilities.chunks_exact(k) {
            for (j, &r) in slots.iter().enumerate() {
                if j == keep {
                    responsibilities.push(r + slots[drop]);
                } else if j != drop {
                    responsibilities.push(r);
                }
            }
        }
        Self::new(
            Variational::new(k - 1, self.state.concentration),
            responsibilities,
            data,
        )
    }
}

/// `−Σ c·r·ln r` over all responsibilities.
fn entropy(counts: &[f64], responsibilities: &[f64]) -> f64 {
    let k = responsibilities.len() / counts.len().max(1);
    let mut total = 0.0;
    for (slots, &c) in responsibilities.chunks_exact(k.max(1)).zip(counts) {
        for &r in slots {
            if r > 0.0 {
                total -= c * r * r.ln();
            }
        }
    }
    total
}

/// The variational posterior over standardised values: stick-breaking Beta parameters
/// `(alpha, beta)`, and the Normal-Gamma parameters `(mean, mean_precision, dof,
/// inverse_scale)` of each component.
struct Variational {
    concentration: f64,
    stick_alpha: Vec<f64>,
    stick_beta: Vec<f64>,
    mean: Vec<f64>,
    mean_precision: Vec<f64>,
    dof: Vec<f64>,
    /// The inverse of the Wishart (Gamma) scale: precision λ has E[λ] = dof / inverse_scale.
    inverse_scale: Vec<f64>,
}

/// Priors in standardised units: the data mean, one over the data variance, one degree of
/// freedom and mean precision one.
const MEAN_PRIOR: f64 = 0.0;
const MEAN_PRECISION_PRIOR: f64 = 1.0;
const DOF_PRIOR: f64 = 1.0;
const INVERSE_SCALE_PRIOR: f64 = 1.0;

impl Variational {
    fn new(components: usize, concentration: f64) -> Self {
        Self {
            concentration,
            stick_alpha: vec![1.0; components],
            stick_beta: vec![concentration; components],
            mean: vec![MEAN_PRIOR; components],
            mean_precision: vec![MEAN_PRECISION_PRIOR; components],
            dof: vec![DOF_PRIOR; components],
            inverse_scale: vec![INVERSE_SCALE_PRIOR; components],
        }
    }

    fn components(&self) -> usize {
        self.mean.len()
    }

    /// The posterior given the responsibilities' statistics (Bishop eqs. 10.51–10.63;
    /// stick-breaking weights per Blei & Jordan).
    fn maximise(&mut self, statistics: &Statistics) {
        let k = self.components();
        let mut later = statistics.mass.iter().sum::<f64>();
        for j in 0..k {
            later -= statistics.mass[j];
            let mass = statistics.mass[j] + 10.0 * f64::EPSILON;
            let mean = statistics.sum[j] / mass;
            let variance = (statistics.squares[j] / mass - mean * mean).max(0.0) + VARIANCE_FLOOR;
            self.stick_alpha[j] = 1.0 + mass;
            self.stick_beta[j] = self.concentration + later.max(0.0);
            self.mean_precision[j] = MEAN_PRECISION_PRIOR + mass;
            self.mean[j] =
                (MEAN_PRECISION_PRIOR * MEAN_PRIOR + mass * mean) / self.mean_precision[j];
            self.dof[j] = DOF_PRIOR + mass;
            self.inverse_scale[j] = INVERSE_SCALE_PRIOR
                + mass * variance
                + mass * MEAN_PRECISION_PRIOR / self.mean_precision[j]
                    * (mean - MEAN_PRIOR).powi(2);
        }
    }

    /// `E[ln π_k]` under the stick-breaking posterior.
    fn expected_log_weights(&self) -> Vec<f64> {
        let mut before = 0.0;
        (0..self.components())
            .map(|j| {
                let (a, b) = (self.stick_alpha[j], self.stick_beta[j]);
                let total = digamma(a + b);
                let value = digamma(a) - total + before;
                before += digamma(b) - total;
                value
            })
            .collect()
    }

    /// The value-independent log-responsibility terms and half the expected precisions.
    fn responsibility_terms(&self) -> (Vec<f64>, Vec<f64>) {
        let log_weights = self.expected_log_weights();
        let offsets = (0..self.components())
            .map(|j| {
                let expected_log_precision = digamma(0.5 * self.dof[j]) + std::f64::consts::LN_2
                    - self.inverse_scale[j].ln();
                log_weights[j] + 0.5 * expected_log_precision - 0.5 / self.mean_precision[j]
            })
            .collect();
        let halves = (0..self.components())
            .map(|j| 0.5 * self.dof[j] / self.inverse_scale[j])
            .collect();
        (offsets, halves)
    }

    /// Updates the responsibilities (Bishop eq. 10.46–10.49) and returns their weighted
    /// entropy `−Σ r ln r`.
    fn expect(&self, points: &[f64], counts: &[f64], responsibilities: &mut [f64]) -> f64 {
        let k = self.components();
        let (offsets, halves) = self.responsibility_terms();
        let mut entropy = 0.0;
        for (row, (&p, &c)) in points.iter().zip(counts).enumerate() {
            let slots = &mut responsibilities[row * k..(row + 1) * k];
            let mut largest = f64::NEG_INFINITY;
            for j in 0..k {
                let d = p - self.mean[j];
                slots[j] = offsets[j] - halves[j] * d * d;
                largest = largest.max(slots[j]);
            }
            // One exp per slot: r = e/total with e = exp(log ρ − max), and
            // Σ r ln r = Σ e·(log ρ − max)/total − ln total.
            let (mut total, mut weighted) = (0.0, 0.0);
            for slot in slots.iter_mut() {
                let shifted = *slot - largest;
                let e = shifted.exp();
                total += e;
                weighted += e * shifted;
                *slot = e;
            }
            slots.iter_mut().for_each(|r| *r /= total);
            entropy -= c * (weighted / total - total.ln());
        }
        entropy
    }

    /// The parts of the lower bound that depend on the posterior parameters: per
    /// component, the log normaliser of its posterior minus that of its prior, for the
    /// Normal-Gamma and the stick's Beta (the responsibilities' entropy comes on top). An
    /// empty component at the end adds nothing, so bounds with different numbers of
    /// components compare.
    fn bound_terms(&self) -> f64 {
        let normal_gamma = |dof: f64, inverse_scale: f64, mean_precision: f64| {
            libm::lgamma(0.5 * dof)
                - 0.5 * dof * (0.5 * inverse_scale).ln()
                - 0.5 * mean_precision.ln()
        };
        let log_beta = |a: f64, b: f64| libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b);
        let prior = normal_gamma(DOF_PRIOR, INVERSE_SCALE_PRIOR, MEAN_PRECISION_PRIOR)
            + log_beta(1.0, self.concentration);
        (0..self.components())
            .map(|j| {
                normal_gamma(self.dof[j], self.inverse_scale[j], self.mean_precision[j])
                    + log_beta(self.stick_alpha[j], self.stick_beta[j])
                    - prior
            })
            .sum()
    }

    /// The kept components in the data's units.
    fn finish(
        self,
        center: f64,
        scale: f64,
        threshold: f64,
        iterations: usize,
        converged: bool,
    ) -> BayesianGaussianMixture {
        let k = self.components();
        let mut weights = Vec::with_capacity(k);
        let mut rest = 1.0;
        for j in 0..k {
            let (a, b) = (self.stick_alpha[j], self.stick_beta[j]);
            weights.push(rest * a / (a + b));
            rest *= b / (a + b);
        }
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let mut kept: Vec<usize> = (0..k).filter(|&j| weights[j] > threshold).collect();
        if kept.is_empty() {
            let heaviest = (0..k)
                .max_by(|&a, &b| weights[a].total_cmp(&weights[b]))
                .unwrap_or(0);
            kept.push(heaviest);
        }
        let (offsets, halves) = self.responsibility_terms();
        let kept_total: f64 = kept.iter().map(|&j| weights[j]).sum();
        BayesianGaussianMixture {
            weights: kept.iter().map(|&j| weights[j] / kept_total).collect(),
            means: kept
                .iter()
                .map(|&j| center + scale * self.mean[j])
                .collect(),
            stds: kept
                .iter()
                .map(|&j| scale * (self.inverse_scale[j] / self.dof[j]).sqrt())
                .collect(),
            log_offsets: kept.iter().map(|&j| offsets[j]).collect(),
            half_precisions: kept.iter().map(|&j| halves[j] / (scale * scale)).collect(),
            iterations,
            converged,
        }
    }
}

/// The digamma function ψ(x) for x > 0: recurrence up to 10, then the asymptotic series.
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn settings() -> MixtureSettings {
        MixtureSettings {
            max_components: 10,
            weight_concentration: 0.001,
            weight_threshold: 0.005,
        }
    }

    fn normals(parts: &[(f64, f64, usize)], seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        parts
            .iter()
            .flat_map(|&(mean, std, n)| {
                let normal = Normal::new(mean, std).expect("valid normal");
                (0..n).map(|_| normal.sample(&mut rng)).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H₉ − γ.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-12);
        assert!((digamma(0.5) + gamma + 2.0 * std::f64::consts::LN_2).abs() < 1e-12);
        let h9: f64 = (1..=9).map(|i| 1.0 / i as f64).sum();
        assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-12);
    }

    #[test]
    fn recovers_two_well_separated_modes() {
        let values = normals(&[(-10.0, 1.0, 3_000), (20.0, 2.0, 7_000)], 3);
        let mixture =
            BayesianGaussianMixture::fit(&values, &settings(), &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(mixture.components(), 2, "{mixture:?}");
        let mut modes: Vec<(f64, f64, f64)> = (0..2)
            .map(|k| (mixture.means[k], mixture.stds[k], mixture.weights[k]))
            .collect();
        modes.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (low, high) = (modes[0], modes[1]);
        assert!(
            (low.0 + 10.0).abs() < 0.1 && (high.0 - 20.0).abs() < 0.1,
            "{modes:?}"
        );
        // The posterior standard deviation sqrt(W⁻¹/ν) in closed form: the prior adds the
        // data variance (one degree of freedom) and the mean's shrinkage towards the data
        // mean to each mode's own scatter.
        let n = values.len() as f64;
        let center = values.iter().sum::<f64>() / n;
        let scale2 = values.iter().map(|x| (x - center).powi(2)).sum::<f64>() / n;
        for (group, mode) in [(&values[..3_000], low), (&values[3_000..], high)] {
            let m = group.len() as f64;
            let mean = group.iter().sum::<f64>() / m;
            let scatter = group.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / scale2;
            let shrinkage = m / (1.0 + m) * (mean - center).powi(2) / scale2;
            let expected = (scale2 * (1.0 + scatter + shrinkage) / (1.0 + m)).sqrt();
            assert!(
                (mode.1 / expected - 1.0).abs() < 1e-3,
                "{mode:?} vs {expected}"
            );
        }
        assert!(
            (low.2 - 0.3).abs() < 0.01 && (high.2 - 0.7).abs() < 0.01,
            "{modes:?}"
        );
        let mut probabilities = vec![0.0; 2];
        mixture.responsibilities(-10.0, &mut probabilities);
        let low_index = usize::from(mixture.means[0] > mixture.means[1]);
        assert!(probabilities[low_index] > 0.999);
    }

    #[test]
    fn a_single_normal_has_one_dominant_component() {
        for (n, seed) in [(1_000, 1), (10_000, 2), (10_000, 3), (50_000, 4)] {
            let values = normals(&[(5.0, 3.0, n)], seed);
            let mixture = BayesianGaussianMixture::fit(
                &values,
                &settings(),
                &mut ChaCha8Rng::seed_from_u64(seed),
            );
            let heaviest = (0..mixture.components())
                .max_by(|&a, &b| mixture.weights[a].total_cmp(&mixture.weights[b]))
                .expect("a component");
            assert!(mixture.weights[heaviest] > 0.9, "{n}: {mixture:?}");
            assert_eq!(mixture.components(), 1, "{n}: {mixture:?}");
            assert!((mixture.means[heaviest] - 5.0).abs() < 0.2, "{mixture:?}");
            assert!((mixture.stds[heaviest] - 3.0).abs() < 0.2, "{mixture:?}");
        }
    }

    #[test]
    fn constant_and_empty_inputs_give_one_component() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let constant = BayesianGaussianMixture::fit(&[7.5; 100], &settings(), &mut rng);
        assert_eq!(constant.means, vec![7.5]);
        assert!(constant.stds[0] > 0.0);
        let empty = BayesianGaussianMixture::fit(&[], &settings(), &mut rng);
        assert_eq!(empty.components(), 1);
        let mut out = [0.0];
        empty.responsibilities(3.0, &mut out);
        assert_eq!(out, [1.0]);
    }

    #[test]
    fn fitting_is_deterministic_given_the_seed() {
        let values = normals(
            &[(0.0, 1.0, 2_000), (8.0, 1.0, 2_000), (30.0, 5.0, 1_000)],
            5,
        );
        let fit = |seed| {
            BayesianGaussianMixture::fit(&values, &settings(), &mut ChaCha8Rng::seed_from_u64(seed))
        };
        assert_eq!(fit(9), fit(9));
        assert!(fit(9).components() >= 3);
    }

    #[test]
    fn tied_values_fold_into_weights() {
        // 90 % zeros and a spread of positive integers, like capital gains.
        let mut values = vec![0.0; 9_000];
        values.extend((0..1_000).map(|i| 1_000.0 + (i % 100) as f64 * 50.0));
        let mixture =
            BayesianGaussianMixture::fit(&values, &settings(), &mut ChaCha8Rng::seed_from_u64(3));
        let zero = (0..mixture.components())
            .min_by(|&a, &b| mixture.means[a].abs().total_cmp(&mixture.means[b].abs()))
            .expect("a component");
        assert!(mixture.means[zero].abs() < 1.0, "{mixture:?}");
        assert!((mixture.weights[zero] - 0.9).abs() < 0.01, "{mixture:?}");
    }
}
