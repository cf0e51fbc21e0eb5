//! Per-sample gradient clipping for DP-SGD (Abadi et al., 2016) without per-sample
//! gradients.
//!
//! Row r's gradient of a linear layer is the outer product `x_rᵀ·dy_r` of the layer's
//! input and output gradient, so its squared norm is `‖x_r‖²·‖dy_r‖²` (plus `‖dy_r‖²` for
//! the bias). The heads are separate slices of the stacked weights, so their norms add.
//! Row r touches one embedding row per column, whose gradient is the sum, over the heads
//! that see the column, of that column's slice of the heads' input gradients.
//!
//! For a fixed forward pass (fixed ReLU pattern) the whole backward pass is linear in the
//! logit gradients, so scaling row r's logit gradient by `f_r = min(1, C/‖g_r‖)` scales
//! every intermediate gradient of that row by `f_r` too: the ordinary backward pass
//! (`Network::backward`) then accumulates the parameter gradients once, from the
//! scaled intermediates, and gives `Σ_r f_r·g_r` directly.

use candle_core::Tensor;

use super::{Network, RowGradients};
use crate::error::Result;

fn squared(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// Adds to each row's squared norm that of its gradient of a linear layer, weights and
/// bias: `(‖x_r‖² + 1)·‖g_r‖²`, for the rows' inputs `x` and output gradients `g`
/// (row-major, `x_width` and `g_width` wide).
fn add_linear_norms(norms: &mut [f64], x: &[f32], x_width: usize, g: &[f32], g_width: usize) {
    for (row, norm) in norms.iter_mut().enumerate() {
        let g = squared(&g[row * g_width..(row + 1) * g_width]);
        *norm += g * (squared(&x[row * x_width..(row + 1) * x_width]) + 1.0);
    }
}

/// Multiplies row r of `values` (row-major, `width` wide) by `factors[r]`.
fn scale_rows(values: &mut [f32], width: usize, factors: &[f32]) {
    for (row, &f) in values.chunks_mut(width.max(1)).zip(factors) {
        row.iter_mut().for_each(|g| *g *= f);
    }
}

/// The clipped gradients of one batch.
#[derive(Debug)]
pub struct ClippedGradients {
    /// The mean over rows of the summed cross-entropies (not private: for tests only).
    pub loss: f64,
    /// `Σ_r min(1, C/‖g_r‖)·g_r`, aligned with [`Network::parameters`].
    pub gradients: Vec<Tensor>,
    /// `‖g_r‖²` of each row's own (unclipped) gradient.
    pub squared_norms: Vec<f64>,
}

impl Network {
    /// The sum over rows of each row's loss gradient clipped to L2 norm `clip_norm`
    /// (over all parameters), with the per-row squared norms before clipping.
    pub fn clipped_gradients(
        &self,
        tokens: &[Vec<u32>],
        positions: &[Vec<usize>],
        clip_norm: f64,
    ) -> Result<ClippedGradients> {
        let pass = self.backward(tokens, positions, Some(clip_norm))?;
        Ok(ClippedGradients {
            loss: pass.loss / positions.len().max(1) as f64,
            gradients: pass.gradients,
            squared_norms: pass.squared_norms.unwrap_or_default(),
        })
    }

    /// Each row's squared gradient norm over all parameters, from its own intermediate
    /// gradients (`inputs`: the masked inputs `(J, B, D)`, `hidden`: the activations
    /// `(J, B, H)`); then every intermediate gradient of row r scaled by
    /// `min(1, C/‖g_r‖)`.
    pub(super) fn clip_rows(
        &self,
        inputs: &[f32],
        hidden: &[f32],
        starts: &[usize],
        positions: &[Vec<usize>],
        rows: &mut RowGradients<'_>,
        clip_norm: f64,
    ) -> Vec<f64> {
        let layout = &self.layout;
        let (j, d, h, b) = (
            layout.columns(),
            layout.total,
            layout.hidden,
            positions.len(),
        );
        let mut squared_norms = vec![0.0f64; b];
        // Output and hidden layers, head by head.
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            let block = &rows.logits[starts[head]..starts[head] + b * card];
            let a = &hidden[head * b * h..(head + 1) * b * h];
            add_linear_norms(&mut squared_norms, a, h, block, card);
        }
        for head in 0..j {
            let x = &inputs[head * b * d..(head + 1) * b * d];
            let g = &rows.hidden[head * b * h..(head + 1) * b * h];
            add_linear_norms(&mut squared_norms, x, d, g, h);
        }
        // Embeddings: per row and column, the sum over the heads that see it.
        let mut row_sum = vec![0.0f32; layout.widths.iter().copied().max().unwrap_or(0)];
        for (row, position) in positions.iter().enumerate() {
            for column in 0..j {
                let width = layout.widths[column];
                let sum = &mut row_sum[..width];
                sum.fill(0.0);
                let mut seen = false;
                for head in 0..j {
                    if position[column] >= position[head] {
                        continue;
                    }
                    seen = true;
                    let start = (head * b + row) * d + layout.offsets[column];
                    for (s, &g) in sum.iter_mut().zip(&rows.inputs[start..start + width]) {
                        *s += g;
                    }
                }
                if seen {
                    squared_norms[row] += squared(sum);
                }
            }
        }

        // Clip: scale every intermediate gradient of row r by f_r.
        let factors = mirage_privacy::dpsgd::clip_factors(&squared_norms, clip_norm);
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            scale_rows(
                &mut rows.logits[starts[head]..starts[head] + b * card],
                card,
                &factors,
            );
        }
        for head in 0..j {
            scale_rows(
                &mut rows.hidden[head * b * h..(head + 1) * b * h],
                h,
                &factors,
            );
            scale_rows(
                &mut rows.inputs[head * b * d..(head + 1) * b * d],
                d,
                &factors,
            );
        }
        squared_norms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argn::network::Layout;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("values")
    }

    /// Norms and the clipped sum against one-row batches of the ordinary backward pass.
    #[test]
    fn clipped_sum_and_norms_match_row_by_row() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let network = Network::new(Layout::new(vec![3, 5, 2, 4, 1], 16, 6), &mut rng).expect("net");
        let tokens = vec![
            vec![0, 2, 1, 2, 0],
            vec![4, 0, 3, 1, 4],
            vec![1, 1, 0, 0, 1],
            vec![3, 2, 0, 3, 1],
            vec![0, 0, 0, 0, 0],
        ];
        let positions = vec![
            vec![0, 1, 2, 3, 4],
            vec![4, 3, 2, 1, 0],
            vec![1, 3, 0, 2, 4],
            vec![2, 0, 4, 1, 3],
            vec![3, 4, 1, 0, 2],
        ];
        for clip in [1e6, 1.0, 0.05] {
            let clipped = network
                .clipped_gradients(&tokens, &positions, clip)
                .expect("clipped");
            let mut expected: Vec<Vec<f32>> = clipped
                .gradients
                .iter()
                .map(|g| vec![0.0; g.elem_count()])
                .collect();
            let mut expected_loss = 0.0;
            for row in 0..positions.len() {
                let one: Vec<Vec<u32>> = tokens.iter().map(|t| vec![t[row]]).collect();
                let (loss, grads) = network
                    .loss_and_gradients(&one, &positions[row..row + 1])
                    .expect("one row");
                expected_loss += loss / positions.len() as f64;
                let grads: Vec<Vec<f32>> = grads.iter().map(values).collect();
                let norm: f64 = grads
                    .iter()
                    .flatten()
                    .map(|&g| f64::from(g) * f64::from(g))
                    .sum();
                let got = clipped.squared_norms[row];
                assert!(
                    (got - norm).abs() <= 1e-4 * norm.max(1e-12),
                    "row {row}: {got} vs {norm}"
                );
                let factor = (clip / norm.sqrt()).min(1.0) as f32;
                for (sum, g) in expected.iter_mut().zip(&grads) {
                    for (s, &v) in sum.iter_mut().zip(g) {
                        *s += factor * v;
                    }
                }
            }
            assert!((clipped.loss - expected_loss).abs() < 1e-4);
            let scale: f32 = expected
                .iter()
                .flatten()
                .fold(0.0f32, |m, v| m.max(v.abs()));
            for ((name, _), (got, want)) in network
                .parameters()
                .iter()
                .zip(clipped.gradients.iter().zip(&expected))
            {
                for (g, w) in values(got).iter().zip(want) {
                    assert!(
                        (g - w).abs() <= 1e-4 * scale.max(1e-6),
                        "clip {clip}, {name}: {g} vs {w}"
                    );
                }
            }
            if clip < 1.0 {
                let total: f64 = clipped
                    .gradients
                    .iter()
                    .flat_map(values)
                    .map(|v| f64::from(v).powi(2))
                    .sum();
                assert!(total.sqrt() <= clip * positions.len() as f64 * (1.0 + 1e-4));
            }
        }
    }
}
