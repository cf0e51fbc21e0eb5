//! TVAE's encoder and decoder (Xu et al., 2019, §4.2) with a hand-written backward pass.
//!
//! Encoder: `x → (Linear → ReLU)* → Linear → (μ, log σ²)` of the latent code; decoder:
//! `z → (Linear → ReLU)* → Linear → x̂`, plus one learned output scale σⱼ per encoded
//! column. The loss per row is `factor · Σ reconstruction + KL(q(z|x) ‖ N(0, I))`:
//! Gaussian `(xⱼ − tanh x̂ⱼ)² / 2σⱼ² + log σⱼ` for scalar spans, cross-entropy for one-hot
//! spans. μ and log σ² come out of one Linear layer of width 2·latent (the same
//! parameters as two layers, one product instead of two).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::nn::layers::{self, Linear};
use crate::nn::{Matrix, ParamId, ParamSet};
use crate::transformer::calibration::CategoryShares;
use crate::transformer::{Activation, Span};

/// The learned scales are kept within these bounds after every step.
pub const SIGMA_MIN: f32 = 0.01;
/// Upper bound of the learned scales.
pub const SIGMA_MAX: f32 = 1.0;

/// The TVAE network.
#[derive(Debug, Clone)]
pub struct TvaeNetwork {
    /// Every weight.
    pub params: ParamSet,
    pub(super) encoder: Vec<Linear>,
    /// `hidden → 2·latent`: μ then log σ².
    pub(super) stats: Linear,
    pub(super) decoder: Vec<Linear>,
    pub(super) output: Linear,
    /// σ per encoded column.
    pub(super) sigma: ParamId,
    pub(super) latent: usize,
    pub(super) width: usize,
}

/// The buffers of one training step, kept across steps.
#[derive(Debug, Default)]
pub struct Workspace {
    pub(super) encoder: Vec<Matrix>,
    pub(super) stats: Matrix,
    pub(super) noise: Matrix,
    /// exp(½ log σ²) of each code, kept for the backward pass.
    pub(super) std: Matrix,
    pub(super) z: Matrix,
    pub(super) decoder: Vec<Matrix>,
    pub(super) output: Matrix,
    /// The backward pass's gradients.
    pub(super) grads: LayerGrads,
}

/// The gradients of the loss with respect to each layer's outputs (the hidden layers'
/// before their ReLU), kept for the whole step: DP-SGD's clipped sum reads them again
/// after the per-sample norms.
#[derive(Debug, Default)]
pub(super) struct LayerGrads {
    /// With respect to x̂, from the loss.
    pub(super) output: Matrix,
    /// Each decoder hidden layer's.
    decoder: Vec<Matrix>,
    /// With respect to the latent code.
    z: Matrix,
    /// With respect to (μ, log σ²).
    stats: Matrix,
    /// Each encoder hidden layer's.
    encoder: Vec<Matrix>,
}

/// A stack of `Linear → ReLU` layers topped by one `Linear` (the encoder up to
/// (μ, log σ²), the decoder up to x̂), with a forward pass's activations.
struct Stack<'a> {
    hidden: &'a [Linear],
    top: &'a Linear,
    /// The hidden layers' outputs (after the ReLU).
    acts: &'a [Matrix],
    /// The stack's input.
    input: &'a Matrix,
}

impl Stack<'_> {
    /// The input of hidden layer `i` (of the top layer for `i = hidden.len()`).
    fn input_of(&self, i: usize) -> &Matrix {
        if i == 0 {
            self.input
        } else {
            &self.acts[i - 1]
        }
    }

    /// Backward from the top layer's output gradient `top_dy`: each hidden layer's
    /// output gradient into `dys` (input gradients only), the stack's input gradient into
    /// `dx` when asked; `visit` sees every layer as soon as its output gradient is known,
    /// from the top down.
    fn backward(
        &self,
        params: &mut ParamSet,
        top_dy: &Matrix,
        dys: &mut Vec<Matrix>,
        dx: Option<&mut Matrix>,
        visit: &mut impl FnMut(&mut ParamSet, &Linear, &Matrix, &Matrix),
    ) {
        let n = self.hidden.len();
        dys.resize_with(n, Matrix::default);
        visit(params, self.top, self.input_of(n), top_dy);
        for i in (0..n).rev() {
            let (below, above) = dys.split_at_mut(i + 1);
            let (layer, upstream) = match above.first() {
                Some(next) => (&self.hidden[i + 1], next),
                None => (self.top, top_dy),
            };
            let dy = &mut below[i];
            layer.backward_input(params, upstream, dy);
            layers::relu_backward(&mut dy.data, &self.acts[i].data);
            visit(params, &self.hidden[i], self.input_of(i), dy);
        }
        if let Some(dx) = dx {
            let (layer, upstream) = match dys.first() {
                Some(dy) => (&self.hidden[0], dy),
                None => (self.top, top_dy),
            };
            layer.backward_input(params, upstream, dx);
        }
    }

    /// `visit` on every layer with the output gradients [`Stack::backward`] left, from the
    /// top down.
    fn each_layer(
        &self,
        params: &mut ParamSet,
        top_dy: &Matrix,
        dys: &[Matrix],
        visit: &mut impl FnMut(&mut ParamSet, &Linear, &Matrix, &Matrix),
    ) {
        let n = self.hidden.len();
        visit(params, self.top, self.input_of(n), top_dy);
        for i in (0..n).rev() {
            visit(params, &self.hidden[i], self.input_of(i), &dys[i]);
        }
    }
}

/// The reconstruction loss's per-column constants, once per step: 1/σ², 1/σ, Σ log σ.
pub(super) struct Reconstruction<'a> {
    spans: &'a [Span],
    inv_var: Vec<f32>,
    inv_sigma: Vec<f32>,
    /// Σ log σⱼ over the scalar columns: every row's loss holds it once.
    pub(super) log_sigma: f64,
    /// What every gradient is multiplied by.
    scale: f32,
}

impl<'a> Reconstruction<'a> {
    /// The constants for the scales `sigma`, gradients multiplied by `scale`.
    pub(super) fn new(sigma: &[f32], spans: &'a [Span], scale: f32) -> Self {
        Self {
            spans,
            inv_var: sigma.iter().map(|s| 1.0 / (s * s)).collect(),
            inv_sigma: sigma.iter().map(|s| 1.0 / s).collect(),
            log_sigma: spans
                .iter()
                .filter(|span| span.activation == Activation::Tanh)
                .flat_map(|span| &sigma[span.start..span.start + span.width])
                .map(|s| f64::from(s.ln()))
                .sum(),
            scale,
        }
    }

    /// One row: adds its reconstruction loss (without log σ, unscaled) to `loss`, writes
    /// its gradient with respect to x̂ (`out`) into `d` and adds its gradient with
    /// respect to σ to `d_sigma`, both times `scale`.
    #[inline]
    pub(super) fn row(
        &self,
        xr: &[f32],
        out: &[f32],
        d: &mut [f32],
        d_sigma: &mut [f32],
        loss: &mut f64,
    ) {
        let scale = self.scale;
        for span in self.spans {
            let range = span.start..span.start + span.width;
            match span.activation {
                Activation::Tanh => {
                    for j in range {
                        let t = out[j].tanh();
                        let diff = xr[j] - t;
                        let squared = diff * diff * self.inv_var[j];
                        *loss += f64::from(0.5 * squared);
                        d[j] = -scale * diff * self.inv_var[j] * (1.0 - t * t);
                        d_sigma[j] += scale * self.inv_sigma[j] * (1.0 - squared);
                    }
                }
                Activation::Softmax => {
                    // One exp per logit: the exps go into the gradient slots and are
                    // normalised there.
                    let logits = &out[range.clone()];
                    let target = layers::argmax(&xr[range.clone()]);
                    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let dspan = &mut d[range];
                    let mut sum = 0.0f32;
                    for (g, l) in dspan.iter_mut().zip(logits) {
                        *g = (l - max).exp();
                        sum += *g;
                    }
                    *loss += f64::from(sum.ln() + max - logits[target]);
                    let norm = scale / sum;
                    for g in dspan.iter_mut() {
                        *g *= norm;
                    }
                    dspan[target] -= scale;
                }
            }
        }
    }
}

impl TvaeNetwork {
    /// A freshly initialised network for rows of `width` encoded values.
    pub fn new(
        width: usize,
        encoder_dims: &[usize],
        decoder_dims: &[usize],
        latent: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut params = ParamSet::new();
        let mut input = width;
        let mut encoder = Vec::new();
        for (i, &dim) in encoder_dims.iter().enumerate() {
            encoder.push(Linear::new(
                &mut params,
                &format!("encoder.{i}"),
                input,
                dim,
                rng,
            ));
            input = dim;
        }
        let stats = Linear::new(&mut params, "encoder.stats", input, 2 * latent, rng);
        let mut input = latent;
        let mut decoder = Vec::new();
        for (i, &dim) in decoder_dims.iter().enumerate() {
            decoder.push(Linear::new(
                &mut params,
                &format!("decoder.{i}"),
                input,
                dim,
                rng,
            ));
            input = dim;
        }
        let output = Linear::new(&mut params, "decoder.output", input, width, rng);
        let sigma = params.add_constant("decoder.sigma", vec![width], 0.1);
        Self {
            params,
            encoder,
            stats,
            decoder,
            output,
            sigma,
            latent,
            width,
        }
    }

    /// Latent width.
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// The learned output scales.
    pub fn sigma(&self) -> &[f32] {
        self.params.value(self.sigma)
    }

    /// Multiply-adds of one forward pass over `rows` rows (the backward pass costs twice
    /// as many).
    pub fn forward_flops(&self, rows: usize) -> usize {
        self.encoder
            .iter()
            .chain(std::iter::once(&self.stats))
            .chain(&self.decoder)
            .chain(std::iter::once(&self.output))
            .map(|l| l.flops(rows))
            .sum()
    }

    /// Runs the decoder on the latent codes in `work.z`, leaving the raw outputs x̂ in
    /// `work.output`.
    pub(super) fn decode(&self, work: &mut Workspace) {
        work.decoder
            .resize_with(self.decoder.len(), Matrix::default);
        for i in 0..self.decoder.len() {
            let (done, rest) = work.decoder.split_at_mut(i);
            let input = if i == 0 { &work.z } else { &done[i - 1] };
            self.decoder[i].forward(&self.params, input, &mut rest[0]);
            layers::relu(&mut rest[0].data);
        }
        let last = work.decoder.last().unwrap_or(&work.z);
        self.output.forward(&self.params, last, &mut work.output);
    }

    /// One forward and backward pass over the encoded rows `x` (`rows × width`):
    /// accumulates the gradients of the loss summed over these rows and divided by
    /// `denominator` (the batch's row count: `x` may be a share of the batch, each share's
    /// gradients then add up to the batch mean's), and returns that loss.
    pub fn loss_and_gradients(
        &mut self,
        x: &Matrix,
        spans: &[Span],
        factor: f32,
        work: &mut Workspace,
        rng: &mut ChaCha8Rng,
        denominator: usize,
    ) -> f64 {
        work.noise.resize(x.rows, self.latent);
        fill_standard_normal(&mut work.noise.data, rng);
        self.loss_and_gradients_given_noise(x, spans, factor, work, denominator)
    }

    /// [`Self::loss_and_gradients`] with the reparameterisation noise already in
    /// `work.noise` (`rows × latent`).
    pub(super) fn loss_and_gradients_given_noise(
        &mut self,
        x: &Matrix,
        spans: &[Span],
        factor: f32,
        work: &mut Workspace,
        denominator: usize,
    ) -> f64 {
        let rows = x.rows;
        let kl = self.forward(x, work);
        // Reconstruction loss and its gradient with respect to x̂.
        let inv_rows = 1.0 / denominator.max(1) as f32;
        let width = self.width;
        let terms = Reconstruction::new(self.params.value(self.sigma), spans, factor * inv_rows);
        let mut d_sigma = vec![0.0f32; width];
        let mut reconstruction = terms.log_sigma * rows as f64;
        work.grads.output.resize(rows, width);
        for r in 0..rows {
            let d = &mut work.grads.output.data[r * width..(r + 1) * width];
            terms.row(
                x.row(r),
                work.output.row(r),
                d,
                &mut d_sigma,
                &mut reconstruction,
            );
        }
        for (g, d) in self
            .params
            .get_mut(self.sigma)
            .grad
            .iter_mut()
            .zip(&d_sigma)
        {
            *g += d;
        }
        self.backward(x, work, inv_rows, |params, layer, input, dy| {
            layer.backward(params, input, dy, None)
        });
        (f64::from(factor) * reconstruction + kl) / denominator.max(1) as f64
    }

    /// Encodes `x`, draws the latent codes `z = μ + ε·exp(½ log σ²)` with the noise ε in
    /// `work.noise` and decodes them; returns the rows' summed KL(q(z|x) ‖ N(0, I)).
    pub(super) fn forward(&self, x: &Matrix, work: &mut Workspace) -> f64 {
        let rows = x.rows;
        let latent = self.latent;
        self.encode(x, work);
        work.std.resize(rows, latent);
        work.z.resize(rows, latent);
        let mut kl = 0.0f64;
        for r in 0..rows {
            let (mu, logvar) = work.stats.row(r).split_at(latent);
            let e = work.noise.row(r);
            let zr = &mut work.z.data[r * latent..(r + 1) * latent];
            let sr = &mut work.std.data[r * latent..(r + 1) * latent];
            for j in 0..latent {
                let std = (0.5 * logvar[j]).exp();
                sr[j] = std;
                zr[j] = mu[j] + e[j] * std;
                kl += f64::from(-0.5 * (1.0 + logvar[j] - mu[j] * mu[j] - std * std));
            }
        }
        self.decode(work);
        kl
    }

    /// The backward pass of [`Self::forward`] from the gradient with respect to x̂ in
    /// `work.grads.output`, the KL terms' gradients weighted by `kl_scale`: fills every
    /// layer's output gradient in `work.grads` and hands each layer to `visit` (which
    /// accumulates its weight gradients, or measures them) from the output down.
    pub(super) fn backward(
        &mut self,
        x: &Matrix,
        work: &mut Workspace,
        kl_scale: f32,
        mut visit: impl FnMut(&mut ParamSet, &Linear, &Matrix, &Matrix),
    ) {
        let rows = x.rows;
        let latent = self.latent;
        let grads = &mut work.grads;
        let decoder = Stack {
            hidden: &self.decoder,
            top: &self.output,
            acts: &work.decoder,
            input: &work.z,
        };
        decoder.backward(
            &mut self.params,
            &grads.output,
            &mut grads.decoder,
            Some(&mut grads.z),
            &mut visit,
        );
        // Through the reparameterisation and each row's KL term.
        grads.stats.resize(rows, 2 * latent);
        for r in 0..rows {
            let mu = &work.stats.row(r)[..latent];
            let e = work.noise.row(r);
            let dz = grads.z.row(r);
            let sr = work.std.row(r);
            let ds = &mut grads.stats.data[r * 2 * latent..(r + 1) * 2 * latent];
            for j in 0..latent {
                let std = sr[j];
                ds[j] = dz[j] + kl_scale * mu[j];
                ds[latent + j] = dz[j] * e[j] * 0.5 * std + kl_scale * 0.5 * (std * std - 1.0);
            }
        }
        let encoder = Stack {
            hidden: &self.encoder,
            top: &self.stats,
            acts: &work.encoder,
            input: x,
        };
        encoder.backward(
            &mut self.params,
            &grads.stats,
            &mut grads.encoder,
            None,
            &mut visit,
        );
    }

    /// `visit` on every layer with the output gradients the last [`Self::backward`] left
    /// in `work.grads`.
    pub(super) fn each_layer(
        &mut self,
        x: &Matrix,
        work: &Workspace,
        mut visit: impl FnMut(&mut ParamSet, &Linear, &Matrix, &Matrix),
    ) {
        let grads = &work.grads;
        let decoder = Stack {
            hidden: &self.decoder,
            top: &self.output,
            acts: &work.decoder,
            input: &work.z,
        };
        decoder.each_layer(&mut self.params, &grads.output, &grads.decoder, &mut visit);
        let encoder = Stack {
            hidden: &self.encoder,
            top: &self.stats,
            acts: &work.encoder,
            input: x,
        };
        encoder.each_layer(&mut self.params, &grads.stats, &grads.encoder, &mut visit);
    }

    /// Shifts the output layer's biases of every one-hot span so that the categories the
    /// decoder generates occur, on average over latent codes, as often as in the training
    /// rows (`targets`, see [`crate::transformer::calibration`]); `samples` codes per
    /// round, `rounds` rounds.
    pub fn calibrate_categories(
        &mut self,
        spans: &[Span],
        targets: &[f32],
        samples: usize,
        rounds: usize,
        rng: &mut ChaCha8Rng,
    ) {
        let mut work = Workspace::default();
        let mut shares = CategoryShares::new(self.width);
        for _ in 0..rounds {
            work.z.resize(samples, self.latent);
            fill_standard_normal(&mut work.z.data, rng);
            self.decode(&mut work);
            shares.add(&work.output, spans);
            shares.apply(self.params.value_mut(self.output.bias), spans, targets);
        }
    }

    /// Runs the encoder on `x`, leaving (μ, log σ²) in `work.stats`.
    pub(super) fn encode(&self, x: &Matrix, work: &mut Workspace) {
        work.encoder
            .resize_with(self.encoder.len(), Matrix::default);
        for i in 0..self.encoder.len() {
            let (done, rest) = work.encoder.split_at_mut(i);
            let input = if i == 0 { x } else { &done[i - 1] };
            self.encoder[i].forward(&self.params, input, &mut rest[0]);
            layers::relu(&mut rest[0].data);
        }
        let encoded = work.encoder.last().unwrap_or(x);
        self.stats.forward(&self.params, encoded, &mut work.stats);
    }

    /// Keeps every σ within [[`SIGMA_MIN`], [`SIGMA_MAX`]].
    pub fn clamp_sigma(&mut self) {
        for s in self.params.value_mut(self.sigma) {
            *s = s.clamp(SIGMA_MIN, SIGMA_MAX);
        }
    }

    /// Decodes `rows` latent codes z ~ N(0, I) into encoded rows ready for the transformer's
    /// inverse, each drawn from the decoder's likelihood p(x | z): the scalars as
    /// tanh x̂ⱼ plus N(0, σⱼ) noise (clipped to [−1, 1]), each one-hot span as a category
    /// drawn from softmax(x̂). (Taking the most likely category instead would erase every
    /// category the decoder gives less than half the mass for most codes — e.g. a 5 %
    /// null share of a column would never come back.)
    pub fn sample(
        &self,
        rows: usize,
        spans: &[Span],
        work: &mut Workspace,
        rng: &mut impl Rng,
    ) -> Matrix {
        work.z.resize(rows, self.latent);
        fill_standard_normal(&mut work.z.data, rng);
        self.decode(work);
        let sigma = self.params.value(self.sigma);
        let mut out = std::mem::take(&mut work.output);
        for r in 0..rows {
            let row = out.row_mut(r);
            for span in spans {
                match span.activation {
                    Activation::Tanh => {
                        for j in span.start..span.start + span.width {
                            let noise: f32 = StandardNormal.sample(rng);
                            row[j] = (row[j].tanh() + noise * sigma[j]).clamp(-1.0, 1.0);
                        }
                    }
                    Activation::Softmax => {
                        let group = &mut row[span.start..span.start + span.width];
                        layers::softmax(group);
                        draw_one_hot(group, rng.random::<f32>());
                    }
                }
            }
        }
        out
    }
}

/// Fills `out` with standard normal draws.
pub(super) fn fill_standard_normal(out: &mut [f32], rng: &mut impl Rng) {
    for v in out {
        *v = StandardNormal.sample(rng);
    }
}

/// Replaces the probabilities `p` by the one-hot of the category that `u ∈ [0, 1)` falls
/// in.
fn draw_one_hot(p: &mut [f32], u: f32) {
    let mut chosen = p.len().saturating_sub(1);
    let mut acc = 0.0;
    for (i, v) in p.iter().enumerate() {
        acc += v;
        if u < acc {
            chosen = i;
            break;
        }
    }
    p.fill(0.0);
    if let Some(v) = p.get_mut(chosen) {
        *v = 1.0;
    }
}
