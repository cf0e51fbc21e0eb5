//! Per-sample gradients of linear layers for DP-SGD, without materialising them.
//!
//! Row r of a batch contributes `x_rᵀ·dy_r` to a linear layer's weight gradient and `dy_r`
//! to its bias gradient, so its squared gradient norm is `‖x_r‖²·‖dy_r‖² + ‖dy_r‖²`.
//! A DP step runs the backward pass for input gradients only ([`Linear::backward_input`]),
//! adds up every layer's per-sample squared norms, turns them into clipping factors, and
//! then accumulates the clipped sum `Σ_r f_r·x_rᵀ·dy_r` ([`Linear::accumulate_clipped`]).
//! This is exact as long as no layer mixes rows (no batch normalisation).

use super::{Linear, Matrix, Operand, ParamSet, matmul};

fn squared(row: &[f32]) -> f64 {
    row.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

impl Linear {
    /// Adds each row's squared gradient norm for this layer's weight and bias to `out`.
    pub fn per_sample_sq_norms(&self, x: &Matrix, dy: &Matrix, out: &mut [f64]) {
        debug_assert_eq!(x.rows, dy.rows);
        for (r, slot) in out.iter_mut().enumerate().take(dy.rows) {
            let g = squared(dy.row(r));
            *slot += g * (squared(x.row(r)) + 1.0);
        }
    }

    /// `dx = dy·Wᵀ`, leaving the parameter gradients alone.
    pub fn backward_input(&self, params: &ParamSet, dy: &Matrix, dx: &mut Matrix) {
        dx.resize(dy.rows, self.input);
        matmul(
            &mut dx.data,
            dy.operand(),
            Operand::transposed(params.value(self.weight), self.input, self.output),
            false,
        );
    }

    /// Accumulates the clipped per-sample gradients `dW += Σ_r f_r·x_rᵀ·dy_r`,
    /// `db += Σ_r f_r·dy_r`; `scratch` holds the scaled `dy`.
    pub fn accumulate_clipped(
        &self,
        params: &mut ParamSet,
        x: &Matrix,
        dy: &Matrix,
        factors: &[f32],
        scratch: &mut Matrix,
    ) {
        scratch.resize(dy.rows, dy.cols);
        for r in 0..dy.rows {
            let f = factors.get(r).copied().unwrap_or(0.0);
            for (s, &d) in scratch.row_mut(r).iter_mut().zip(dy.row(r)) {
                *s = d * f;
            }
        }
        self.backward(params, x, scratch, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix {
        use rand::Rng;
        Matrix::from_vec(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
        )
    }

    /// Norms and the clipped sum against gradients computed one row at a time.
    #[test]
    fn per_sample_norms_and_clipped_sum_match_row_by_row() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut params = ParamSet::default();
        let layer = Linear::new(&mut params, "l", 5, 3, &mut rng);
        let x = random(4, 5, &mut rng);
        let dy = random(4, 3, &mut rng);
        let mut norms = [0.0f64; 4];
        layer.per_sample_sq_norms(&x, &dy, &mut norms);
        let factors = [1.0f32, 0.5, 0.25, 0.0];
        let mut expected_w = [0.0f32; 15];
        let mut expected_b = [0.0f32; 3];
        for r in 0..4 {
            let mut single = ParamSet::default();
            let mut rng2 = ChaCha8Rng::seed_from_u64(11);
            let same = Linear::new(&mut single, "l", 5, 3, &mut rng2);
            let xr = Matrix::from_vec(1, 5, x.row(r).to_vec());
            let dr = Matrix::from_vec(1, 3, dy.row(r).to_vec());
            same.backward(&mut single, &xr, &dr, None);
            let gw = &single.get_mut(same.weight).grad.clone();
            let gb = &single.get_mut(same.bias).grad.clone();
            let norm: f64 = gw.iter().chain(gb).map(|&v| f64::from(v).powi(2)).sum();
            assert!(
                (norm - norms[r]).abs() < 1e-5 * norm.max(1.0),
                "{norm} {}",
                norms[r]
            );
            for (e, g) in expected_w.iter_mut().zip(gw) {
                *e += g * factors[r];
            }
            for (e, g) in expected_b.iter_mut().zip(gb) {
                *e += g * factors[r];
            }
        }
        let mut scratch = Matrix::zeros(0, 0);
        layer.accumulate_clipped(&mut params, &x, &dy, &factors, &mut scratch);
        let w = params.get_mut(layer.weight).grad.clone();
        let b = params.get_mut(layer.bias).grad.clone();
        for (a, e) in w.iter().chain(&b).zip(expected_w.iter().chain(&expected_b)) {
            assert!((a - e).abs() < 1e-5, "{a} {e}");
        }
        let mut dx = Matrix::zeros(0, 0);
        layer.backward_input(&params, &dy, &mut dx);
        assert_eq!((dx.rows, dx.cols), (4, 5));
    }
}
