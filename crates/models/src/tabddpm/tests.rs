//! Unit tests of TabDDPM's pieces: gradients, the multinomial posterior, the schedule,
//! the quantile transform, codecs, config validation and a tiny deterministic fit.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::denoiser::{Denoiser, Workspace};
use super::diffusion::{NoiseSchedule, multinomial_kl, posterior_probabilities};
use super::*;
use crate::nn::Matrix;

fn close(analytic: f32, numeric: f64) -> bool {
    (f64::from(analytic) - numeric).abs() <= 2e-2 * numeric.abs().max(0.05)
}

/// Σ out ⊙ weights after a forward pass, in f64.
fn weighted_output(net: &Denoiser, x: &Matrix, t: &[u32], weights: &Matrix) -> f64 {
    let mut ws = Workspace::default();
    net.forward(x, t, 10, &mut ws, None);
    ws.out
        .data
        .iter()
        .zip(&weights.data)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}

#[test]
#[allow(clippy::needless_range_loop)]
fn denoiser_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut net = Denoiser::new(5, 8, &[6, 7], 0.0, &mut rng);
    let x = Matrix::from_vec(4, 5, (0..20).map(|_| rng.random_range(-1.5..1.5)).collect());
    let t = [0u32, 3, 3, 9];
    let weights = Matrix::from_vec(4, 5, (0..20).map(|_| rng.random_range(-1.0..1.0)).collect());
    let mut ws = Workspace::default();
    net.forward(&x, &t, 10, &mut ws, None);
    net.params.zero_grads();
    let mut dx = Matrix::default();
    net.backward(&x, &weights, &mut ws, Some(&mut dx));
    let analytic: Vec<(String, Vec<f32>)> = net
        .params
        .iter()
        .map(|p| (p.name.clone(), p.grad.clone()))
        .collect();
    assert!(analytic.iter().any(|(n, _)| n.starts_with("time_embed.0")));
    // Small steps, and a seed whose pre-activations all lie farther than ε from a ReLU
    // kink (a kink inside the step breaks the central difference).
    let eps = 2e-3f32;
    let mut checked = 0;
    for (index, (name, grad)) in analytic.iter().enumerate() {
        for i in 0..grad.len() {
            let mut probe = net.clone();
            let id = probe.parameter_ids()[index];
            let original = probe.params.value(id)[i];
            probe.params.value_mut(id)[i] = original + eps;
            let up = weighted_output(&probe, &x, &t, &weights);
            probe.params.value_mut(id)[i] = original - eps;
            let down = weighted_output(&probe, &x, &t, &weights);
            let numeric = (up - down) / (2.0 * f64::from(eps));
            assert!(
                close(grad[i], numeric),
                "{name}[{i}]: {} vs {numeric}",
                grad[i]
            );
            checked += 1;
        }
    }
    assert!(checked > 200);
    let mut shifted = x.clone();
    for i in 0..x.data.len() {
        shifted.data[i] = x.data[i] + eps;
        let up = weighted_output(&net, &shifted, &t, &weights);
        shifted.data[i] = x.data[i] - eps;
        let down = weighted_output(&net, &shifted, &t, &weights);
        shifted.data[i] = x.data[i];
        let numeric = (up - down) / (2.0 * f64::from(eps));
        assert!(
            close(dx.data[i], numeric),
            "x[{i}]: {} vs {numeric}",
            dx.data[i]
        );
    }
}

#[test]
fn silu_gradient_matches_finite_differences() {
    for x in [-3.0f32, -0.5, 0.0, 0.7, 2.5] {
        let f = |v: f32| {
            let mut a = [v];
            super::denoiser::silu(&mut a);
            f64::from(a[0])
        };
        let numeric = (f(x + 1e-3) - f(x - 1e-3)) / 2e-3;
        let mut d = [1.0f32];
        super::denoiser::silu_backward(&mut d, &[x]);
        assert!(
            (f64::from(d[0]) - numeric).abs() < 1e-3,
            "{x}: {} vs {numeric}",
            d[0]
        );
    }
}

#[test]
fn multinomial_kl_gradient_matches_finite_differences() {
    let schedule = NoiseSchedule::new(Schedule::Cosine, 20);
    let logits = [0.3f32, -1.2, 0.8, 0.1];
    let mut grad = [0.0f32; 4];
    let mut scratch = [0.0f32; 8];
    for (t, x0, x_t) in [(0usize, 2usize, 1usize), (5, 0, 0), (12, 3, 1), (19, 1, 2)] {
        let kl = multinomial_kl(&schedule, t, x0, x_t, &logits, &mut grad, &mut scratch);
        assert!(kl >= -1e-5, "KL {kl} at t={t}");
        let eps = 1e-2f32;
        for j in 0..4 {
            let mut probe = logits;
            let mut g = [0.0f32; 4];
            probe[j] += eps;
            let up = multinomial_kl(&schedule, t, x0, x_t, &probe, &mut g, &mut scratch);
            probe[j] -= 2.0 * eps;
            let down = multinomial_kl(&schedule, t, x0, x_t, &probe, &mut g, &mut scratch);
            let numeric = f64::from(up - down) / (2.0 * f64::from(eps));
            assert!(
                (f64::from(grad[j]) - numeric).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "t={t} logit {j}: {} vs {numeric}",
                grad[j]
            );
        }
    }
}

#[test]
fn multinomial_posterior_sums_to_one_and_matches_a_hand_computed_case() {
    // α₁ = 0.8 and ᾱ₀ = 0.9, K = 3, x_t = 0, x₀ = 2:
    // θ ∝ [0.8·e₀ + 0.2/3] ⊙ [0.9·e₂ + 0.1/3].
    let schedule = NoiseSchedule {
        beta: vec![0.1, 0.2],
        alpha: vec![0.9, 0.8],
        alpha_bar: vec![0.9, 0.72],
    };
    let p = posterior_probabilities(&schedule, 1, 0, &[0.0, 0.0, 1.0]);
    let a = [0.8 + 0.2 / 3.0, 0.2 / 3.0, 0.2 / 3.0];
    let u = [0.1 / 3.0, 0.1 / 3.0, 0.9 + 0.1 / 3.0];
    let w: Vec<f64> = a.iter().zip(&u).map(|(a, u)| a * u).collect();
    let total: f64 = w.iter().sum();
    for (got, want) in p.iter().zip(&w) {
        assert!((f64::from(*got) - want / total).abs() < 1e-5, "{p:?}");
    }
    // At t = 0 the posterior is x₀ itself.
    let p0 = posterior_probabilities(&schedule, 0, 1, &[0.0, 0.0, 1.0]);
    assert!((p0[2] - 1.0).abs() < 1e-6, "{p0:?}");
    // Normalised everywhere, for soft x₀ too.
    let cosine = NoiseSchedule::new(Schedule::Cosine, 50);
    for t in [0, 1, 10, 30, 49] {
        for x_t in 0..4 {
            let p = posterior_probabilities(&cosine, t, x_t, &[0.1, 0.2, 0.3, 0.4]);
            let sum: f32 = p.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "t={t}: {sum}");
        }
    }
}

#[test]
fn alpha_bar_decreases_within_the_unit_interval() {
    for kind in [Schedule::Cosine, Schedule::Linear] {
        for steps in [2, 100, 1000] {
            let s = NoiseSchedule::new(kind, steps);
            assert_eq!(s.steps(), steps);
            assert!(
                s.alpha_bar.iter().all(|a| *a > 0.0 && *a < 1.0),
                "{kind:?} {steps}"
            );
            assert!(
                s.alpha_bar.windows(2).all(|w| w[1] < w[0]),
                "{kind:?} {steps}"
            );
            assert!(s.beta.iter().all(|b| *b > 0.0 && *b < 1.0));
        }
    }
    let s = NoiseSchedule::new(Schedule::Cosine, 1000);
    assert!(s.alpha_bar[0] > 0.999 && s.alpha_bar[999] < 1e-3);
}

#[test]
fn quantile_transform_round_trips() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut values: Vec<f64> = (0..5000)
        .map(|_| rng.random::<f64>().powi(3) * 100.0)
        .collect();
    values.sort_by(f64::total_cmp);
    let transform = QuantileTransform::fit(&values, 1000);
    assert_eq!(transform.grid.len(), 1000);
    for &x in values.iter().step_by(37) {
        let z = transform.forward(x);
        assert!(z.abs() < 5.3, "{z}");
        let back = transform.inverse(z);
        assert!(
            (back - x).abs() < 1e-6 * x.abs().max(1.0),
            "{x} → {z} → {back}"
        );
    }
    // Scores of the training values are about standard normal.
    let scores: Vec<f64> = values.iter().map(|x| transform.forward(*x)).collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / scores.len() as f64;
    assert!(
        mean.abs() < 0.05 && (var - 1.0).abs() < 0.15,
        "{mean} {var}"
    );
    // Ties: 70 % zeros come back as zeros.
    let mut tied: Vec<f64> = (0..1000)
        .map(|i| if i < 700 { 0.0 } else { i as f64 })
        .collect();
    tied.sort_by(f64::total_cmp);
    let transform = QuantileTransform::fit(&tied, 100);
    assert_eq!(transform.inverse(transform.forward(0.0)), 0.0);
    let codec = NumericCodec {
        transform,
        min: 0.0,
        max: 999.0,
        quantum: Some(1.0),
        distinct: Some(tied.clone()),
        nullable: false,
    };
    assert_eq!(codec.decode(-0.3), 0.0);
    assert_eq!(codec.decode(40.0), 999.0);
}

#[test]
fn high_cardinality_columns_pool_rare_categories() {
    let values: Vec<Value> = (0..10).map(|i| Value::Str(format!("c{i}"))).collect();
    // c0 ×10, c1 ×9, …, c9 ×1, plus 3 nulls.
    let mut codes: Vec<Option<u32>> = (0..10u32)
        .flat_map(|i| std::iter::repeat_n(Some(i), 10 - i as usize))
        .collect();
    codes.extend([None, None, None]);
    let (codec, classes) = CategoricalCodec::fit(values, &codes, 5);
    assert_eq!(codec.classes(), 5);
    assert_eq!(
        codec.categories,
        vec![Value::from("c0"), Value::from("c1"), Value::from("c2")]
    );
    assert_eq!(codec.other.len(), 7);
    assert_eq!(classes[0], 0);
    assert_eq!(*classes.last().expect("rows"), 4, "null class last");
    assert_eq!(classes[codes.len() - 4], 3, "c9 in <other>");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let draws: Vec<Value> = (0..2000).map(|_| codec.decode(3, &mut rng)).collect();
    let c3 = draws.iter().filter(|v| **v == Value::from("c3")).count();
    let c9 = draws.iter().filter(|v| **v == Value::from("c9")).count();
    assert!(c3 > 3 * c9 && c9 > 0, "{c3} {c9}");
    assert_eq!(codec.decode(4, &mut rng), Value::Null);
    assert_eq!(codec.values().len(), 10);
}

#[test]
fn config_validation_names_the_field() {
    let field = |value: serde_json::Value| match TabDdpmConfig::from_json(&value) {
        Err(crate::ModelError::InvalidConfig { field, .. }) => field,
        other => panic!("{value}: expected an invalid config, got {other:?}"),
    };
    assert_eq!(field(json!({"hidden": []})), "hidden");
    assert_eq!(field(json!({"timesteps": 1})), "timesteps");
    assert_eq!(field(json!({"dropout": 1.0})), "dropout");
    assert_eq!(field(json!({"embedding": 7})), "embedding");
    assert_eq!(field(json!({"max_categories": 1})), "max_categories");
    assert_eq!(field(json!({"quantiles": 1})), "quantiles");
    assert_eq!(field(json!({"steps": 0})), "steps");
    assert_eq!(
        field(json!({"training": {"batch_size": 0}})),
        "training.batch_size"
    );
    assert_eq!(field(json!({"preset": "huge"})), "preset");
    assert_eq!(field(json!({"hiden": [3]})), "config");
    let paper = TabDdpmConfig::from_json(&json!({"preset": "paper"})).expect("paper");
    assert_eq!(paper.hidden, vec![256, 1024, 1024, 1024, 1024, 256]);
    assert_eq!(
        (paper.timesteps, paper.steps, paper.training.batch_size),
        (100, Some(30_000), 4096)
    );
    let tweaked = TabDdpmConfig::from_json(&json!({"preset": "paper", "training": {"seed": 4}}))
        .expect("tweaked");
    assert_eq!(
        (tweaked.training.batch_size, tweaked.training.seed),
        (4096, 4)
    );
    let default = TabDdpmConfig::from_json(&serde_json::Value::Null).expect("default");
    assert_eq!(default, TabDdpmConfig::default());
    // Epochs asked for without steps are the epochs run.
    let epochs = TabDdpmConfig::from_json(&json!({"training": {"max_epochs": 3}})).expect("epochs");
    assert_eq!((epochs.steps, epochs.training.max_epochs), (None, 3));
    let both = TabDdpmConfig::from_json(&json!({"steps": 50, "training": {"max_epochs": 3}}))
        .expect("both");
    assert_eq!(both.steps, Some(50));
    let round = serde_json::to_value(&paper).expect("json");
    assert_eq!(TabDdpmConfig::from_json(&round).expect("round trip"), paper);
    assert_eq!(
        default.training_for(26_049).max_epochs,
        8000usize.div_ceil(26)
    );
}

fn tiny_table() -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut x, mut c) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let group = i % 3;
        x.push(
            (i % 17 != 0).then(|| {
                ((group as f64) * 10.0 + rng.random::<f64>() * 2.0 * 100.0).round() / 100.0
            }),
        );
        c.push(Some(["a", "b", "c"][group]));
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("c", ColumnKind::Categorical, PhysicalType::Utf8),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(StringArray::from(c)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

#[test]
fn a_tiny_fit_is_deterministic_and_samples_valid_rows() {
    let table = tiny_table();
    let config = json!({
        "hidden": [32, 32], "embedding": 16, "timesteps": 20, "steps": 30,
        "training": {"batch_size": 64, "seed": 7}
    });
    let first = TabDdpm::fit(&table, &config, &mut FitContext::default()).expect("fit");
    let second = TabDdpm::fit(&table, &config, &mut FitContext::default()).expect("fit");
    let outcome = first.training_outcome().expect("trained");
    assert_eq!(outcome.epochs, 30usize.div_ceil(5));
    assert!(outcome.history.iter().all(|e| e.train_loss.is_finite()));
    let draw = |m: &TabDdpm| {
        m.sample_batch(200, 0, &mut ChaCha8Rng::seed_from_u64(9))
            .expect("sample")
    };
    let (a, b) = (draw(&first), draw(&second));
    assert_eq!(a, b);
    assert_eq!(a.num_rows(), 200);
    let xs = a
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("floats");
    for v in xs.iter().flatten() {
        assert!((0.0..=22.0).contains(&v), "{v}");
        assert!(((v * 100.0) - (v * 100.0).round()).abs() < 1e-6, "{v}");
    }
    let cs = a
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings");
    assert!(cs.iter().all(|v| matches!(v, Some("a" | "b" | "c"))));
    // Save → restore gives the same rows.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("weights.safetensors");
    assert!(first.save_weights(&path).expect("save"));
    let bytes = std::fs::read(&path).expect("read");
    let restored = TabDdpm::restore(
        table.schema().clone(),
        &first.config_json(),
        first.parameters_json().expect("parameters"),
        Some(&bytes),
    )
    .expect("restore");
    assert_eq!(draw(&restored), a);
}
