//! DP-CTGAN through the public API: the critic's DP-SGD is charged and stops at the
//! target, the report survives save → restore, and the DP-only refusals (packing,
//! resume, free text in strict mode).

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray};
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_models::{ModelError, Synthesizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::json;

use common::{COLORS, assert_refuses_free_text, assert_samples_and_restores, color, dpsgd};

/// 400 rows: a colour, a number that depends on it (with a few nulls) and a flag.
fn table(with_text: bool) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = 400;
    let (mut colors, mut amount, mut flag) = (vec![], vec![], vec![]);
    for _ in 0..rows {
        let c = color(&mut rng);
        let z: f64 = rng.sample(StandardNormal);
        colors.push(COLORS[c]);
        amount.push((rng.random::<f64>() > 0.05).then_some(10.0 * c as f64 + z));
        flag.push(z > 0.0);
    }
    let columns = vec![
        ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("flag", ColumnKind::Boolean, PhysicalType::Boolean),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(colors)),
        Arc::new(Float64Array::from(amount)),
        Arc::new(BooleanArray::from(flag)),
    ];
    common::table(columns, arrays, rows, with_text)
}

/// A small DP config: two epochs of expected batch 50.
fn config(privacy: serde_json::Value) -> serde_json::Value {
    json!({
        "embedding_dim": 16,
        "generator_dims": [32],
        "discriminator_dims": [32, 32],
        "training": {"max_epochs": 2, "batch_size": 50, "seed": 3},
        "privacy": privacy,
    })
}

fn fit(table: &Table, config: &serde_json::Value) -> mirage_models::Result<Box<dyn Synthesizer>> {
    common::fit(ModelKind::Ctgan, table, config)
}

#[test]
fn the_dp_critic_spends_the_target_and_the_report_is_kept() {
    let table = table(false);
    let model = fit(&table, &config(json!({"epsilon": 2.0, "delta": 1e-5}))).expect("fit");
    let report = model.privacy_report().expect("a DP model has a report");
    assert!(report.differentially_private, "{report:?}");
    assert!(
        report.epsilon_rdp <= 2.0 * (1.0 + 1e-6) && report.epsilon_rdp > 1.9,
        "ε = {}",
        report.epsilon_rdp
    );
    let labels: Vec<&str> = report.events.iter().map(|e| e.label.as_str()).collect();
    for column in ["color", "amount", "flag"] {
        assert!(labels.iter().any(|l| l.contains(column)), "{labels:?}");
    }
    let (sample_rate, _, steps) = dpsgd(&report);
    assert!(
        (sample_rate - 50.0 / 400.0).abs() < 0.05,
        "q = {sample_rate}"
    );
    assert!((14..=20).contains(&steps), "{steps} steps");
    assert_samples_and_restores(model.as_ref(), report, 100, 4);
}

#[test]
fn dp_only_settings_are_checked() {
    let privacy = json!({"epsilon": 1.0, "delta": 1e-5});
    let mut packed = config(privacy.clone());
    packed["pac"] = json!(10);
    let mut penalised = config(privacy.clone());
    penalised["gradient_penalty"] = json!(10.0);
    let mut resumed = config(privacy);
    resumed["training"]["resume_from"] = json!("/tmp/nowhere");
    for (config, field) in [
        (packed, "pac"),
        (penalised, "gradient_penalty"),
        (resumed, "training.resume_from"),
    ] {
        match fit(&table(false), &config) {
            Err(ModelError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let error = fit(
        &table(false),
        &config(json!({"epsilon": 1.0, "delta": 1e-5, "clip_norm": -1.0})),
    )
    .expect_err("refused");
    assert!(error.to_string().contains("clip_norm"), "{error}");
}

#[test]
fn free_text_is_refused_in_strict_mode() {
    assert_refuses_free_text(fit(
        &table(true),
        &config(json!({"epsilon": 1.0, "delta": 1e-5})),
    ));
}
