//! Calibrating a generator's one-hot outputs to the training shares.
//!
//! Models that draw each one-hot span's category from a softmax over their outputs (TVAE
//! from its decoder's likelihood, CTGAN through Gumbel noise and an argmax, which is the
//! same draw) generate category `k` with probability equal to the mean of its softmax
//! over the model's inputs. Where those inputs fall between the training rows' the model
//! hedges, and short or small-table training leaves rare categories (a column's nulls, a
//! 5 % label) generated too often or dropped. Adding `log(target / generated)` to each
//! category's output bias, a few rounds over, moves every span's generated shares onto
//! the training shares while leaving how the outputs depend on the inputs unchanged (the
//! prior-shift correction of a classifier's outputs, Saerens et al., 2002).

use super::{Activation, Encoded, Span};
use crate::nn::Matrix;
use crate::nn::layers;

/// Each encoded value's mean over the training rows (the one-hot spans' category shares).
pub fn category_targets(encoded: &Encoded) -> Vec<f32> {
    let mut sums = vec![0.0f64; encoded.width];
    for row in encoded.data.chunks(encoded.width.max(1)) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += f64::from(*v);
        }
    }
    sums.iter()
        .map(|s| (s / encoded.rows.max(1) as f64) as f32)
        .collect()
}

/// The softmax shares of a model's generated one-hot spans, summed over batches.
#[derive(Debug, Clone)]
pub struct CategoryShares {
    sums: Vec<f64>,
    rows: usize,
}

/// Largest bias change of one round, in nats.
const MAX_SHIFT: f64 = 5.0;

impl CategoryShares {
    /// No rows yet, for outputs `width` wide.
    pub fn new(width: usize) -> Self {
        Self {
            sums: vec![0.0; width],
            rows: 0,
        }
    }

    /// Adds the softmax of every one-hot span of `logits` (pre-activation outputs).
    pub fn add(&mut self, logits: &Matrix, spans: &[Span]) {
        let mut group = Vec::new();
        for row in logits.data.chunks(logits.cols.max(1)) {
            for span in spans.iter().filter(|s| s.activation == Activation::Softmax) {
                group.clear();
                group.extend_from_slice(&row[span.start..span.start + span.width]);
                layers::softmax(&mut group);
                for (s, p) in self.sums[span.start..].iter_mut().zip(&group) {
                    *s += f64::from(*p);
                }
            }
        }
        self.rows += logits.rows;
    }

    /// Shifts the output biases of the one-hot spans by log(target / generated), and
    /// starts a new round.
    pub fn apply(&mut self, bias: &mut [f32], spans: &[Span], targets: &[f32]) {
        let rows = self.rows.max(1) as f64;
        for span in spans.iter().filter(|s| s.activation == Activation::Softmax) {
            for j in span.start..span.start + span.width {
                let generated = (self.sums[j] / rows).max(1e-9);
                let target = f64::from(targets[j]).max(1e-9);
                bias[j] += (target / generated).ln().clamp(-MAX_SHIFT, MAX_SHIFT) as f32;
            }
        }
        self.sums.fill(0.0);
        self.rows = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_round_moves_constant_logits_onto_the_targets() {
        let spans = [
            Span {
                start: 0,
                width: 1,
                activation: Activation::Tanh,
            },
            Span {
                start: 1,
                width: 3,
                activation: Activation::Softmax,
            },
        ];
        let logits = Matrix::from_vec(2, 4, vec![0.3, 0.0, 0.0, 0.0, -0.3, 0.0, 0.0, 0.0]);
        let targets = [0.0, 0.7, 0.2, 0.1];
        let mut shares = CategoryShares::new(4);
        shares.add(&logits, &spans);
        let mut bias = vec![0.0f32; 4];
        shares.apply(&mut bias, &spans, &targets);
        assert_eq!(bias[0], 0.0, "tanh outputs are left alone");
        let mut shifted = logits.row(0)[1..].to_vec();
        for (l, b) in shifted.iter_mut().zip(&bias[1..]) {
            *l += b;
        }
        layers::softmax(&mut shifted);
        for (p, t) in shifted.iter().zip(&targets[1..]) {
            assert!((p - t).abs() < 1e-5, "{shifted:?}");
        }
    }
}
