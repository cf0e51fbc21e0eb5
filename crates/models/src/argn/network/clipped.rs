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
//! every intermediate gradient of that row by `f_r` too: the parameter gradients are then
//! accumulated once, from the scaled intermediates, and give `Σ_r f_r·g_r` directly.

use candle_core::{Device, Tensor};

use super::Network;
use crate::error::Result;
use crate::training::candle_error;

fn squared(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
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
        let layout = &self.layout;
        let (j, d, h, c, b) = (
            layout.columns(),
            layout.total,
            layout.hidden,
            layout.max_cardinality,
            positions.len(),
        );
        let cpu = &Device::Cpu;
        let tables = self.tables()?;
        let inputs = self.masked_inputs(&tables, tokens, positions)?;
        let (hidden, logits, starts) = self.forward(&inputs, b)?;
        let flat = |t: &Tensor| {
            t.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(candle_error)
        };
        let input_values = flat(&inputs)?;
        let hidden_values = flat(&hidden)?;

        // Each row's own logit gradients (no 1/B: the sum of rows, not their mean).
        let mut d_logits = vec![0.0f32; logits.len()];
        let mut loss = 0.0f64;
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            for (row, &target) in tokens[head].iter().enumerate().take(b) {
                let base = starts[head] + row * card;
                let values = &logits[base..base + card];
                let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = values.iter().map(|&l| (l - max).exp()).sum();
                let log_sum = max + sum.ln();
                let target = target as usize;
                loss += f64::from(log_sum - values[target]);
                for (k, &l) in values.iter().enumerate() {
                    d_logits[base + k] = (l - log_sum).exp();
                }
                d_logits[base + target] -= 1.0;
            }
        }

        // Hidden gradients per head, through the ReLU; output-layer norms on the way.
        let mut squared_norms = vec![0.0f64; b];
        let w2 = self.w2.as_tensor().detach();
        let mut d_hidden_values = Vec::with_capacity(j * b * h);
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            let block = &d_logits[starts[head]..starts[head] + b * card];
            let run = || -> candle_core::Result<Vec<f32>> {
                let d_out = Tensor::from_slice(block, (b, card), cpu)?;
                let w = w2.get(head)?.narrow(1, 0, card)?.contiguous()?;
                d_out.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()
            };
            d_hidden_values.extend(run().map_err(candle_error)?);
            for (row, norm) in squared_norms.iter_mut().enumerate() {
                let g = squared(&block[row * card..(row + 1) * card]);
                let a = &hidden_values[(head * b + row) * h..(head * b + row + 1) * h];
                *norm += g * (squared(a) + 1.0);
            }
        }
        for (g, &a) in d_hidden_values.iter_mut().zip(&hidden_values) {
            if a <= 0.0 {
                *g = 0.0;
            }
        }
        // Hidden-layer norms.
        for head in 0..j {
            for (row, norm) in squared_norms.iter_mut().enumerate() {
                let at = head * b + row;
                let g = squared(&d_hidden_values[at * h..(at + 1) * h]);
                *norm += g * (squared(&input_values[at * d..(at + 1) * d]) + 1.0);
            }
        }
        let d_hidden = Tensor::from_vec(d_hidden_values, (j, b, h), cpu).map_err(candle_error)?;
        let d_inputs = d_hidden
            .matmul(
                &self
                    .w1
                    .as_tensor()
                    .detach()
                    .transpose(1, 2)
                    .map_err(candle_error)?,
            )
            .map_err(candle_error)?;
        let mut d_inputs = flat(&d_inputs)?;
        let mut d_hidden_values = flat(&d_hidden)?;

        // Embedding norms: per row and column, the sum over the heads that see it.
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
                    for (s, &g) in sum.iter_mut().zip(&d_inputs[start..start + width]) {
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
            for (row, &f) in factors.iter().enumerate() {
                let base = starts[head] + row * card;
                d_logits[base..base + card].iter_mut().for_each(|g| *g *= f);
            }
        }
        for head in 0..j {
            for (row, &f) in factors.iter().enumerate() {
                let at = head * b + row;
                d_hidden_values[at * h..(at + 1) * h]
                    .iter_mut()
                    .for_each(|g| *g *= f);
                d_inputs[at * d..(at + 1) * d]
                    .iter_mut()
                    .for_each(|g| *g *= f);
            }
        }

        // Parameter gradients from the scaled intermediates.
        let mut d_b2 = vec![0.0f32; j * c];
        let mut d_w2 = vec![0.0f32; j * h * c];
        for (head, &card) in layout.cardinalities.iter().enumerate() {
            let block = &d_logits[starts[head]..starts[head] + b * card];
            for row in 0..b {
                for k in 0..card {
                    d_b2[head * c + k] += block[row * card + k];
                }
            }
            let run = || -> candle_core::Result<Vec<f32>> {
                let d_out = Tensor::from_slice(block, (b, card), cpu)?;
                hidden
                    .get(head)?
                    .t()?
                    .matmul(&d_out)?
                    .flatten_all()?
                    .to_vec1::<f32>()
            };
            let d_w = run().map_err(candle_error)?;
            for unit in 0..h {
                let to = (head * h + unit) * c;
                d_w2[to..to + card].copy_from_slice(&d_w[unit * card..(unit + 1) * card]);
            }
        }
        let mut d_b1 = vec![0.0f32; j * h];
        for (i, &g) in d_hidden_values.iter().enumerate() {
            let head = i / (b * h);
            d_b1[head * h + i % h] += g;
        }
        let d_hidden = Tensor::from_vec(d_hidden_values, (j, b, h), cpu).map_err(candle_error)?;
        let d_w1 = inputs
            .transpose(1, 2)
            .and_then(|t| t.matmul(&d_hidden))
            .map_err(candle_error)?;
        let mut d_tables: Vec<Vec<f32>> = tables.iter().map(|t| vec![0.0; t.len()]).collect();
        for head in 0..j {
            for (row, position) in positions.iter().enumerate() {
                let base = (head * b + row) * d;
                for (column, grad) in d_tables.iter_mut().enumerate() {
                    if position[column] >= position[head] {
                        continue;
                    }
                    let width = layout.widths[column];
                    let token = tokens[column][row] as usize;
                    let start = base + layout.offsets[column];
                    for (g, &x) in grad[token * width..(token + 1) * width]
                        .iter_mut()
                        .zip(&d_inputs[start..start + width])
                    {
                        *g += x;
                    }
                }
            }
        }
        let mut gradients = Vec::with_capacity(j + 4);
        for (column, grad) in d_tables.into_iter().enumerate() {
            let shape = (layout.cardinalities[column], layout.widths[column]);
            gradients.push(Tensor::from_vec(grad, shape, cpu).map_err(candle_error)?);
        }
        gradients.push(d_w1);
        gradients.push(Tensor::from_vec(d_b1, (j, 1, h), cpu).map_err(candle_error)?);
        gradients.push(Tensor::from_vec(d_w2, (j, h, c), cpu).map_err(candle_error)?);
        gradients.push(Tensor::from_vec(d_b2, (j, 1, c), cpu).map_err(candle_error)?);
        Ok(ClippedGradients {
            loss: loss / b.max(1) as f64,
            gradients,
            squared_norms,
        })
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
