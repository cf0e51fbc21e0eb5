//! TVAE's per-sample clipped gradients for DP-SGD (Abadi et al., 2016), by the ghost-norm
//! route: one backward pass for the input gradients only, each row's squared gradient
//! norm summed over every layer (`‖x_r‖²‖dy_r‖² + ‖dy_r‖²` per linear layer, plus the
//! row's gradient of the learned output scales σ), the clipping factors
//! `min(1, C/‖g_r‖)`, then the clipped sum `Σ_r f_r·g_r` accumulated layer by layer.
//! Exact: no layer mixes rows (TVAE has no batch normalisation), and each row's loss
//! (its reconstruction and its KL term) depends on that row alone.

use mirage_privacy::dpsgd::clip_factors;
use rand_chacha::ChaCha8Rng;

use super::network::{TvaeNetwork, Workspace, fill_standard_normal};
use crate::nn::layers::{self, Linear};
use crate::nn::{Matrix, ParamSet};
use crate::transformer::{Activation, Span};

/// The buffers of a clipped step, kept across steps.
#[derive(Debug, Default)]
pub struct ClipBuffers {
    /// Gradient of each row's loss with respect to the output layer's outputs.
    output_dy: Matrix,
    /// The same for each decoder hidden layer (before its ReLU).
    decoder_dy: Vec<Matrix>,
    /// The same for the (μ, log σ²) layer.
    stats_dy: Matrix,
    /// The same for each encoder hidden layer.
    encoder_dy: Vec<Matrix>,
    /// Gradient of each row's loss with respect to the latent code.
    dz: Matrix,
    /// Each row's gradient of the learned scales σ (`rows × width`).
    sigma_grad: Matrix,
    /// Each row's squared gradient norm.
    norms: Vec<f64>,
    scratch: Matrix,
}

/// `dx` of `layer` from `dy` (input gradients only).
fn input_gradient(layer: &Linear, params: &ParamSet, dy: &Matrix, dx: &mut Matrix) {
    layer.backward_input(params, dy, dx);
}

impl TvaeNetwork {
    /// Adds the clipped per-sample gradients `Σ_r min(1, C/‖g_r‖)·g_r` of the rows of `x`
    /// to the parameters' gradients, where `g_r` is the gradient of row r's own loss
    /// `factor·reconstruction_r + KL_r` with respect to every parameter (encoder, decoder
    /// and σ). Returns the rows' summed loss and leaves each row's squared norm in
    /// [`ClipBuffers::norms`].
    #[allow(clippy::too_many_arguments)]
    pub fn clipped_gradients(
        &mut self,
        x: &Matrix,
        spans: &[Span],
        factor: f32,
        clip_norm: f64,
        work: &mut Workspace,
        buffers: &mut ClipBuffers,
        rng: &mut ChaCha8Rng,
    ) -> f64 {
        work.noise.resize(x.rows, self.latent);
        fill_standard_normal(&mut work.noise.data, rng);
        self.clipped_gradients_given_noise(x, spans, factor, clip_norm, work, buffers)
    }

    /// [`Self::clipped_gradients`] with the reparameterisation noise already in
    /// `work.noise`.
    pub(super) fn clipped_gradients_given_noise(
        &mut self,
        x: &Matrix,
        spans: &[Span],
        factor: f32,
        clip_norm: f64,
        work: &mut Workspace,
        buffers: &mut ClipBuffers,
    ) -> f64 {
        let rows = x.rows;
        let latent = self.latent;
        let width = self.width;
        self.encode(x, work);
        work.std.resize(rows, latent);
        work.z.resize(rows, latent);
        let mut loss = 0.0f64;
        for r in 0..rows {
            let (mu, logvar) = work.stats.row(r).split_at(latent);
            let e = work.noise.row(r);
            let zr = &mut work.z.data[r * latent..(r + 1) * latent];
            let sr = &mut work.std.data[r * latent..(r + 1) * latent];
            for j in 0..latent {
                let std = (0.5 * logvar[j]).exp();
                sr[j] = std;
                zr[j] = mu[j] + e[j] * std;
                loss += f64::from(-0.5 * (1.0 + logvar[j] - mu[j] * mu[j] - std * std));
            }
        }
        self.decode(work);
        // Each row's gradient with respect to x̂ and to σ.
        let sigma = self.params.value(self.sigma);
        let log_sigma: f64 = spans
            .iter()
            .filter(|span| span.activation == Activation::Tanh)
            .flat_map(|span| &sigma[span.start..span.start + span.width])
            .map(|s| f64::from(s.ln()))
            .sum();
        loss += f64::from(factor) * log_sigma * rows as f64;
        buffers.output_dy.resize(rows, width);
        buffers.sigma_grad.resize_zeroed(rows, width);
        buffers.norms.clear();
        buffers.norms.resize(rows, 0.0);
        for r in 0..rows {
            let xr = x.row(r);
            let out = work.output.row(r);
            let d = &mut buffers.output_dy.data[r * width..(r + 1) * width];
            let ds = &mut buffers.sigma_grad.data[r * width..(r + 1) * width];
            for span in spans {
                let range = span.start..span.start + span.width;
                match span.activation {
                    Activation::Tanh => {
                        for j in range {
                            let t = out[j].tanh();
                            let diff = xr[j] - t;
                            let inv_var = 1.0 / (sigma[j] * sigma[j]);
                            let squared = diff * diff * inv_var;
                            loss += f64::from(factor * 0.5 * squared);
                            d[j] = -factor * diff * inv_var * (1.0 - t * t);
                            ds[j] = factor * (1.0 - squared) / sigma[j];
                        }
                    }
                    Activation::Softmax => {
                        let logits = &out[range.clone()];
                        let target = layers::argmax(&xr[range.clone()]);
                        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let dspan = &mut d[range];
                        let mut sum = 0.0f32;
                        for (g, l) in dspan.iter_mut().zip(logits) {
                            *g = (l - max).exp();
                            sum += *g;
                        }
                        loss += f64::from(factor * (sum.ln() + max - logits[target]));
                        let norm = factor / sum;
                        for g in dspan.iter_mut() {
                            *g *= norm;
                        }
                        dspan[target] -= factor;
                    }
                }
            }
            buffers.norms[r] += ds.iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>();
        }
        // Decoder: input gradients only, and each layer's per-sample norms.
        let decoders = self.decoder.len();
        let last_input = work.decoder.last().unwrap_or(&work.z);
        self.output
            .per_sample_sq_norms(last_input, &buffers.output_dy, &mut buffers.norms);
        buffers.decoder_dy.resize_with(decoders, Matrix::default);
        for i in (0..decoders).rev() {
            let (below, above) = buffers.decoder_dy.split_at_mut(i + 1);
            let dy = &mut below[i];
            let (layer, upstream) = match above.first() {
                Some(next) => (&self.decoder[i + 1], next),
                None => (&self.output, &buffers.output_dy),
            };
            input_gradient(layer, &self.params, upstream, dy);
            layers::relu_backward(&mut dy.data, &work.decoder[i].data);
            let input = if i == 0 {
                &work.z
            } else {
                &work.decoder[i - 1]
            };
            self.decoder[i].per_sample_sq_norms(input, dy, &mut buffers.norms);
        }
        let (first, upstream) = match buffers.decoder_dy.first() {
            Some(dy) => (&self.decoder[0], dy),
            None => (&self.output, &buffers.output_dy),
        };
        input_gradient(first, &self.params, upstream, &mut buffers.dz);
        // Through the reparameterisation and each row's own KL term.
        buffers.stats_dy.resize(rows, 2 * latent);
        for r in 0..rows {
            let mu = &work.stats.row(r)[..latent];
            let e = work.noise.row(r);
            let dz = buffers.dz.row(r);
            let sr = work.std.row(r);
            let ds = &mut buffers.stats_dy.data[r * 2 * latent..(r + 1) * 2 * latent];
            for j in 0..latent {
                let std = sr[j];
                ds[j] = dz[j] + mu[j];
                ds[latent + j] = dz[j] * e[j] * 0.5 * std + 0.5 * (std * std - 1.0);
            }
        }
        let encoded = work.encoder.last().unwrap_or(x);
        self.stats
            .per_sample_sq_norms(encoded, &buffers.stats_dy, &mut buffers.norms);
        let encoders = self.encoder.len();
        buffers.encoder_dy.resize_with(encoders, Matrix::default);
        for i in (0..encoders).rev() {
            let (below, above) = buffers.encoder_dy.split_at_mut(i + 1);
            let dy = &mut below[i];
            let (layer, upstream) = match above.first() {
                Some(next) => (&self.encoder[i + 1], next),
                None => (&self.stats, &buffers.stats_dy),
            };
            input_gradient(layer, &self.params, upstream, dy);
            layers::relu_backward(&mut dy.data, &work.encoder[i].data);
            let input = if i == 0 { x } else { &work.encoder[i - 1] };
            self.encoder[i].per_sample_sq_norms(input, dy, &mut buffers.norms);
        }
        // Clip, then accumulate the clipped sum layer by layer.
        let factors = clip_factors(&buffers.norms, clip_norm);
        let scratch = &mut buffers.scratch;
        self.output.accumulate_clipped(
            &mut self.params,
            last_input,
            &buffers.output_dy,
            &factors,
            scratch,
        );
        for i in 0..decoders {
            let input = if i == 0 {
                &work.z
            } else {
                &work.decoder[i - 1]
            };
            self.decoder[i].accumulate_clipped(
                &mut self.params,
                input,
                &buffers.decoder_dy[i],
                &factors,
                scratch,
            );
        }
        self.stats.accumulate_clipped(
            &mut self.params,
            encoded,
            &buffers.stats_dy,
            &factors,
            scratch,
        );
        for i in 0..encoders {
            let input = if i == 0 { x } else { &work.encoder[i - 1] };
            self.encoder[i].accumulate_clipped(
                &mut self.params,
                input,
                &buffers.encoder_dy[i],
                &factors,
                scratch,
            );
        }
        let sigma_grad = &mut self.params.get_mut(self.sigma).grad;
        for (r, f) in factors.iter().enumerate() {
            for (g, d) in sigma_grad.iter_mut().zip(buffers.sigma_grad.row(r)) {
                *g += f * d;
            }
        }
        loss
    }
}

impl ClipBuffers {
    /// Each row's squared gradient norm (before clipping) from the last call.
    pub fn norms(&self) -> &[f64] {
        &self.norms
    }
}
