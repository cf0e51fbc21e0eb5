//! TVAE's backward pass against finite differences, and its config checks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::TvaeConfig;
use super::network::{TvaeNetwork, Workspace};
use crate::error::ModelError;
use crate::nn::Matrix;
use crate::transformer::{Activation, Span};

fn spans() -> Vec<Span> {
    vec![
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
        Span {
            start: 4,
            width: 1,
            activation: Activation::Tanh,
        },
        Span {
            start: 5,
            width: 2,
            activation: Activation::Softmax,
        },
    ]
}

fn batch(rng: &mut ChaCha8Rng) -> Matrix {
    let mut x = Matrix::zeros(6, 7);
    for r in 0..6 {
        let row = x.row_mut(r);
        row[0] = rng.random_range(-0.9..0.9);
        row[1 + rng.random_range(0..3)] = 1.0;
        row[4] = rng.random_range(-0.9..0.9);
        row[5 + rng.random_range(0..2)] = 1.0;
    }
    x
}

fn loss(network: &mut TvaeNetwork, x: &Matrix) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    network.params.zero_grads();
    network.loss_and_gradients(
        x,
        &spans(),
        2.0,
        &mut Workspace::default(),
        &mut rng,
        x.rows,
    )
}

#[test]
fn the_loss_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = batch(&mut rng);
    let mut network = TvaeNetwork::new(7, &[8, 6], &[5], 3, &mut rng);
    loss(&mut network, &x);
    let analytic: Vec<Vec<f32>> = network.params.iter().map(|p| p.grad.clone()).collect();
    let names: Vec<String> = network.params.iter().map(|p| p.name.clone()).collect();
    let eps = 1e-2f32;
    let mut probe = network.clone();
    for (index, name) in names.iter().enumerate() {
        let len = analytic[index].len();
        for i in (0..len).step_by((len / 7).max(1)) {
            let id = probe_id(&probe, index);
            let original = probe.params.value(id)[i];
            probe.params.value_mut(id)[i] = original + eps;
            let up = loss(&mut probe, &x);
            probe.params.value_mut(id)[i] = original - eps;
            let down = loss(&mut probe, &x);
            probe.params.value_mut(id)[i] = original;
            let numeric = (up - down) / (2.0 * f64::from(eps));
            let a = f64::from(analytic[index][i]);
            assert!(
                (a - numeric).abs() <= 3e-2 * numeric.abs().max(0.05),
                "{name}[{i}]: analytic {a} vs numeric {numeric}"
            );
        }
    }
}

fn probe_id(network: &TvaeNetwork, index: usize) -> crate::nn::ParamId {
    network.params.id_at(index)
}

#[test]
fn sampling_draws_one_hots_and_bounded_scalars() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let network = TvaeNetwork::new(7, &[8], &[8], 4, &mut rng);
    let out = network.sample(50, &spans(), &mut Workspace::default(), &mut rng);
    for r in 0..50 {
        let row = out.row(r);
        assert!(row[0].abs() <= 1.0 && row[4].abs() <= 1.0);
        for group in [&row[1..4], &row[5..7]] {
            assert_eq!(group.iter().filter(|v| **v == 1.0).count(), 1, "{group:?}");
            assert_eq!(group.iter().filter(|v| **v == 0.0).count(), group.len() - 1);
        }
    }
}

#[test]
fn bad_settings_name_their_field() {
    for (json, field) in [
        (serde_json::json!({"latent_dim": 0}), "latent_dim"),
        (
            serde_json::json!({"encoder_dims": [128, 0]}),
            "encoder_dims",
        ),
        (serde_json::json!({"loss_factor": -1.0}), "loss_factor"),
        (
            serde_json::json!({"training": {"batch_size": 0}}),
            "training.batch_size",
        ),
    ] {
        match TvaeConfig::from_json(&json) {
            Err(ModelError::InvalidConfig { field: f, .. }) => assert_eq!(f, field, "{json}"),
            other => panic!("{json}: {other:?}"),
        }
    }
    assert!(matches!(
        TvaeConfig::from_json(&serde_json::json!({"latnt_dim": 3})),
        Err(ModelError::InvalidConfig { .. })
    ));
}

#[test]
fn two_shares_of_a_batch_add_up_to_the_whole_batch() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = batch(&mut rng);
    let mut whole = TvaeNetwork::new(7, &[8], &[5], 3, &mut rng);
    let mut replica = whole.clone();
    whole.params.zero_grads();
    let mut noise = ChaCha8Rng::seed_from_u64(21);
    let full =
        whole.loss_and_gradients(&x, &spans(), 2.0, &mut Workspace::default(), &mut noise, 6);
    let expected: Vec<Vec<f32>> = whole.params.iter().map(|p| p.grad.clone()).collect();
    // The same noise, drawn in the same order, split over a network and its replica.
    let (first, second) = (
        Matrix::from_vec(3, 7, x.data[..21].to_vec()),
        Matrix::from_vec(3, 7, x.data[21..].to_vec()),
    );
    let mut noise = ChaCha8Rng::seed_from_u64(21);
    whole.params.zero_grads();
    replica.params.zero_grads();
    let a = whole.loss_and_gradients(
        &first,
        &spans(),
        2.0,
        &mut Workspace::default(),
        &mut noise,
        6,
    );
    let b = replica.loss_and_gradients(
        &second,
        &spans(),
        2.0,
        &mut Workspace::default(),
        &mut noise,
        6,
    );
    whole.params.add_grads_from(&replica.params);
    assert!(
        (a + b - full).abs() < 1e-4 * full.abs().max(1.0),
        "{a} + {b} vs {full}"
    );
    for (p, e) in whole.params.iter().zip(&expected) {
        for (g, want) in p.grad.iter().zip(e) {
            assert!(
                (g - want).abs() <= 1e-4 * want.abs().max(1e-2),
                "{}: {g} vs {want}",
                p.name
            );
        }
    }
}

/// The clipped per-sample gradients of the ghost-norm pass against a brute force: each
/// row's whole gradient (encoder, decoder, σ) from its own backward pass, its norm, its
/// clipping factor, and the clipped sum.
#[test]
fn clipped_gradients_match_a_row_by_row_brute_force() {
    use super::clipped::ClipBuffers;
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let x = batch(&mut rng);
    let network = TvaeNetwork::new(7, &[8, 6], &[5, 4], 3, &mut rng);
    let noise: Vec<f32> = (0..x.rows * 3)
        .map(|_| rng.random_range(-1.5..1.5))
        .collect();
    let factor = 2.0;
    // Brute force, one row at a time.
    let mut norms = Vec::new();
    let mut per_row: Vec<Vec<Vec<f32>>> = Vec::new();
    for r in 0..x.rows {
        let mut single = network.clone();
        single.params.zero_grads();
        let mut work = Workspace {
            noise: Matrix::from_vec(1, 3, noise[r * 3..(r + 1) * 3].to_vec()),
            ..Default::default()
        };
        let xr = Matrix::from_vec(1, 7, x.row(r).to_vec());
        single.loss_and_gradients_given_noise(&xr, &spans(), factor, &mut work, 1);
        let grads: Vec<Vec<f32>> = single.params.iter().map(|p| p.grad.clone()).collect();
        let norm: f64 = grads
            .iter()
            .flatten()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum();
        norms.push(norm);
        per_row.push(grads);
    }
    let mut sorted = norms.clone();
    sorted.sort_by(f64::total_cmp);
    // A clip between the norms: some rows are clipped, some are not.
    let clip = sorted[x.rows / 2].sqrt();
    let mut expected: Vec<Vec<f32>> = per_row[0].iter().map(|g| vec![0.0; g.len()]).collect();
    for (r, grads) in per_row.iter().enumerate() {
        let f = (clip / norms[r].sqrt()).min(1.0) as f32;
        for (e, g) in expected.iter_mut().zip(grads) {
            for (a, b) in e.iter_mut().zip(g) {
                *a += f * b;
            }
        }
    }
    let mut ghost = network.clone();
    ghost.params.zero_grads();
    let mut work = Workspace {
        noise: Matrix::from_vec(x.rows, 3, noise.clone()),
        ..Default::default()
    };
    let mut buffers = ClipBuffers::default();
    ghost.clipped_gradients_given_noise(&x, &spans(), factor, clip, &mut work, &mut buffers);
    for (r, (&a, &b)) in buffers.norms().iter().zip(&norms).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * b.max(1e-3),
            "row {r}: norm² {a} vs {b}"
        );
    }
    let sigma_name = "decoder.sigma";
    let mut sigma_checked = false;
    for (p, e) in ghost.params.iter().zip(&expected) {
        sigma_checked |= p.name == sigma_name && e.iter().any(|v| *v != 0.0);
        for (g, want) in p.grad.iter().zip(e) {
            assert!(
                (g - want).abs() <= 1e-4 * want.abs().max(1e-2),
                "{}: {g} vs {want}",
                p.name
            );
        }
    }
    assert!(sigma_checked, "the σ gradients take part");
}

#[test]
fn dp_settings_are_checked_with_the_config() {
    let dp = |privacy: serde_json::Value| serde_json::json!({ "privacy": privacy });
    for (json, field) in [
        (
            dp(serde_json::json!({"epsilon": 0.0, "delta": 1e-5})),
            "privacy.epsilon",
        ),
        (
            dp(serde_json::json!({"epsilon": 1.0, "delta": 1.0})),
            "privacy.delta",
        ),
        (
            dp(serde_json::json!({"epsilon": 1.0, "delta": 1e-5, "clip_norm": 0.0})),
            "privacy.clip_norm",
        ),
        (
            serde_json::json!({
                "privacy": {"epsilon": 1.0, "delta": 1e-5},
                "training": {"resume_from": "/tmp/checkpoint"}
            }),
            "training.resume_from",
        ),
    ] {
        match TvaeConfig::from_json(&json) {
            Err(ModelError::InvalidConfig { field: f, .. }) => assert_eq!(f, field, "{json}"),
            other => panic!("{json}: {other:?}"),
        }
    }
    let config = TvaeConfig::from_json(&dp(serde_json::json!({"epsilon": 1.0, "delta": 1e-5})))
        .expect("config");
    assert_eq!(config.training.max_epochs, super::DP_EPOCHS);
    assert_eq!(config.training.batch_size, super::DP_BATCH);
    assert!(config.dp_settings().expect("settings").is_some());
}
