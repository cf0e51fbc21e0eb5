//! TVAE's per-sample clipped gradients for DP-SGD (Abadi et al., 2016), by the ghost-norm
//! route: one backward pass for the input gradients only, each row's squared gradient
//! norm summed over every layer (`‖x_r‖²‖dy_r‖² + ‖dy_r‖²` per linear layer, plus the
//! row's gradient of the learned output scales σ), the clipping factors
//! `min(1, C/‖g_r‖)`, then the clipped sum `Σ_r f_r·g_r` accumulated layer by layer.
//! Exact: no layer mixes rows (TVAE has no batch normalisation), and each row's loss
//! (its reconstruction and its KL term) depends on that row alone.

use mirage_privacy::dpsgd::clip_factors;
use rand_chacha::ChaCha8Rng;

use super::network::{Reconstruction, TvaeNetwork, Workspace, fill_standard_normal};
use crate::nn::Matrix;
use crate::transformer::Span;

/// The buffers of a clipped step besides the [`Workspace`], kept across steps.
#[derive(Debug, Default)]
pub struct ClipBuffers {
    /// Each row's gradient of the learned scales σ (`rows × width`).
    sigma_grad: Matrix,
    /// Each row's squared gradient norm.
    norms: Vec<f64>,
    scratch: Matrix,
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
        let width = self.width;
        let kl = self.forward(x, work);
        // Each row's gradient with respect to x̂ and to σ (each row's own, unsummed).
        let terms = Reconstruction::new(self.params.value(self.sigma), spans, factor);
        let mut reconstruction = terms.log_sigma * rows as f64;
        work.grads.output.resize(rows, width);
        buffers.sigma_grad.resize_zeroed(rows, width);
        buffers.norms.clear();
        for r in 0..rows {
            let d = &mut work.grads.output.data[r * width..(r + 1) * width];
            let ds = &mut buffers.sigma_grad.data[r * width..(r + 1) * width];
            terms.row(x.row(r), work.output.row(r), d, ds, &mut reconstruction);
            buffers
                .norms
                .push(ds.iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>());
        }
        // Input gradients only, and each layer's per-sample norms.
        let norms = &mut buffers.norms;
        self.backward(x, work, 1.0, |_, layer, input, dy| {
            layer.per_sample_sq_norms(input, dy, norms)
        });
        // Clip, then accumulate the clipped sum layer by layer.
        let factors = clip_factors(&buffers.norms, clip_norm);
        let scratch = &mut buffers.scratch;
        self.each_layer(x, work, |params, layer, input, dy| {
            layer.accumulate_clipped(params, input, dy, &factors, scratch)
        });
        let sigma_grad = &mut self.params.get_mut(self.sigma).grad;
        for (r, f) in factors.iter().enumerate() {
            for (g, d) in sigma_grad.iter_mut().zip(buffers.sigma_grad.row(r)) {
                *g += f * d;
            }
        }
        f64::from(factor) * reconstruction + kl
    }
}

impl ClipBuffers {
    /// Each row's squared gradient norm (before clipping) from the last call.
    pub fn norms(&self) -> &[f64] {
        &self.norms
    }
}
