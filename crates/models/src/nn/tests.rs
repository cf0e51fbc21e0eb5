//! Finite-difference checks of every layer's backward pass.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::layers::{self, BatchNorm, BatchNormCache, Linear};
use super::{Matrix, ParamSet};

/// Linear → BatchNorm → LeakyReLU → Linear → tanh, scored by Σ y ⊙ r, plus a softmax span.
struct Net {
    params: ParamSet,
    first: Linear,
    norm: BatchNorm,
    second: Linear,
    weights: Matrix,
}

impl Net {
    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut params = ParamSet::new();
        let first = Linear::new(&mut params, "first", 5, 7, &mut rng);
        let norm = BatchNorm::new(&mut params, "norm", 7);
        let second = Linear::new(&mut params, "second", 7, 6, &mut rng);
        let weights =
            Matrix::from_vec(8, 6, (0..48).map(|_| rng.random_range(-1.0..1.0)).collect());
        Self {
            params,
            first,
            norm,
            second,
            weights,
        }
    }

    /// Loss and, when `backward`, gradients (parameters and input).
    fn run(&mut self, x: &Matrix, backward: bool) -> (f64, Matrix) {
        let (mut h1, mut h2, mut y) = (Matrix::default(), Matrix::default(), Matrix::default());
        let mut cache = BatchNormCache::default();
        self.first.forward(&self.params, x, &mut h1);
        let mut params = self.params.clone();
        self.norm
            .forward_train(&mut params, &h1, &mut h2, &mut cache);
        layers::leaky_relu(&mut h2.data, 0.2);
        self.second.forward(&self.params, &h2, &mut y);
        layers::tanh(&mut y.data[..]);
        // The last three columns go through a softmax instead of the tanh: undo the tanh
        // there by recomputing from the pre-activation.
        let mut pre = Matrix::default();
        self.second.forward(&self.params, &h2, &mut pre);
        for r in 0..y.rows {
            let row = y.row_mut(r);
            row[3..6].copy_from_slice(&pre.row(r)[3..6]);
        }
        layers::softmax_span(&mut y, 3, 3);
        let loss: f64 = y
            .data
            .iter()
            .zip(&self.weights.data)
            .map(|(a, b)| f64::from(a * b))
            .sum();
        let mut dx = Matrix::default();
        if backward {
            let mut dy = self.weights.clone();
            for r in 0..dy.rows {
                let yr = y.row(r).to_vec();
                let dr = dy.row_mut(r);
                layers::tanh_backward(&mut dr[..3], &yr[..3]);
                layers::softmax_backward(&mut dr[3..6], &yr[3..6]);
            }
            let mut dh2 = Matrix::default();
            self.second
                .backward(&mut self.params, &h2, &dy, Some(&mut dh2));
            layers::leaky_relu_backward(&mut dh2.data, &h2.data, 0.2);
            let mut dh1 = Matrix::default();
            self.norm.backward(&mut self.params, &cache, &dh2, &mut dh1);
            self.first
                .backward(&mut self.params, x, &dh1, Some(&mut dx));
        }
        (loss, dx)
    }
}

fn close(analytic: f32, numeric: f64) -> bool {
    (f64::from(analytic) - numeric).abs() <= 2e-2 * numeric.abs().max(0.05)
}

#[test]
fn hand_written_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = Matrix::from_vec(8, 5, (0..40).map(|_| rng.random_range(-2.0..2.0)).collect());
    let mut net = Net::new();
    net.params.zero_grads();
    let (_, dx) = net.run(&x, true);
    let eps = 1e-2f32;
    let analytic: Vec<(String, Vec<f32>, bool)> = net
        .params
        .iter()
        .map(|p| (p.name.clone(), p.grad.clone(), p.trainable))
        .collect();
    let ids: Vec<_> = [
        net.first.weight,
        net.first.bias,
        net.norm.gamma,
        net.norm.beta,
        net.second.weight,
        net.second.bias,
    ]
    .to_vec();
    for id in ids {
        let name = net.params.get(id).name.clone();
        let grad = &analytic
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("param")
            .1;
        for (i, &analytic_grad) in grad.iter().enumerate() {
            let original = net.params.value(id)[i];
            net.params.value_mut(id)[i] = original + eps;
            let (up, _) = net.run(&x, false);
            net.params.value_mut(id)[i] = original - eps;
            let (down, _) = net.run(&x, false);
            net.params.value_mut(id)[i] = original;
            let numeric = (up - down) / (2.0 * f64::from(eps));
            assert!(
                close(analytic_grad, numeric),
                "{name}[{i}]: {analytic_grad} vs {numeric}"
            );
        }
    }
    let mut shifted = x.clone();
    for i in 0..x.data.len() {
        shifted.data[i] = x.data[i] + eps;
        let (up, _) = net.run(&shifted, false);
        shifted.data[i] = x.data[i] - eps;
        let (down, _) = net.run(&shifted, false);
        shifted.data[i] = x.data[i];
        let numeric = (up - down) / (2.0 * f64::from(eps));
        assert!(
            close(dx.data[i], numeric),
            "x[{i}]: {} vs {numeric}",
            dx.data[i]
        );
    }
    assert!(analytic.iter().any(|(_, _, trainable)| !trainable));
}

#[test]
fn batch_norm_tracks_running_statistics_and_evaluates_with_them() {
    let mut params = ParamSet::new();
    let norm = BatchNorm::new(&mut params, "bn", 2);
    let x = Matrix::from_vec(4, 2, vec![1.0, 10.0, 3.0, 10.0, 5.0, 14.0, 7.0, 14.0]);
    let (mut y, mut cache) = (Matrix::default(), BatchNormCache::default());
    for _ in 0..200 {
        norm.forward_train(&mut params, &x, &mut y, &mut cache);
    }
    let mean = params.value(norm.running_mean);
    assert!(
        (mean[0] - 4.0).abs() < 1e-3 && (mean[1] - 12.0).abs() < 1e-3,
        "{mean:?}"
    );
    let var = params.value(norm.running_var);
    // Unbiased variances: 20/3 and 16/3.
    assert!((var[0] - 20.0 / 3.0).abs() < 1e-2, "{var:?}");
    let mut eval = Matrix::default();
    norm.forward_eval(&params, &x, &mut eval);
    assert!((eval.data[0] - (1.0 - 4.0) / (20.0f32 / 3.0).sqrt()).abs() < 1e-2);
}

#[test]
fn dropout_keeps_the_expected_share_and_scale() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut x = vec![1.0f32; 10_000];
    let mut mask = Vec::new();
    layers::dropout(&mut x, 0.5, &mut mask, &mut rng);
    let kept = x.iter().filter(|v| **v > 0.0).count();
    assert!((4_700..5_300).contains(&kept), "{kept}");
    assert!(x.iter().all(|v| *v == 0.0 || *v == 2.0));
}
