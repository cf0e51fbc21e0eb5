//! DP-TVAE through the public API: the privacy report (target met, training stopped at
//! it, every data read charged), save → restore keeping the report, and the refusals
//! (resume, bad privacy fields, free text in strict mode).

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_models::{ModelError, Synthesizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use common::{COLORS, assert_refuses_free_text, assert_samples_and_restores, color, dpsgd};

/// 300 rows: a colour, an age that depends on it (a few nulls), a key and optionally
/// free text.
fn table(with_text: bool) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = 300;
    let (mut colors, mut age) = (vec![], vec![]);
    for i in 0..rows {
        let c = color(&mut rng);
        colors.push(COLORS[c]);
        age.push((i % 17 != 0).then(|| 20 + 15 * c as i64 + rng.random_range(0..10)));
    }
    let columns = vec![
        ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(colors)),
        Arc::new(Int64Array::from(age)),
        Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
    ];
    common::table(columns, arrays, rows, with_text)
}

/// A small DP config: two epochs of expected batch 50.
fn config(privacy: serde_json::Value) -> serde_json::Value {
    json!({
        "encoder_dims": [16],
        "decoder_dims": [16],
        "latent_dim": 8,
        "training": {"max_epochs": 2, "batch_size": 50, "seed": 1},
        "privacy": privacy,
    })
}

fn fit(table: &Table, config: &serde_json::Value) -> mirage_models::Result<Box<dyn Synthesizer>> {
    common::fit(ModelKind::Tvae, table, config)
}

#[test]
fn a_dp_fit_spends_its_target_and_reports_it() {
    let table = table(false);
    let model = fit(&table, &config(json!({"epsilon": 3.0, "delta": 1e-5}))).expect("fit");
    let report = model.privacy_report().expect("a DP model has a report");
    assert!(report.differentially_private, "{report:?}");
    assert!(report.not_dp_reasons.is_empty());
    assert_eq!(report.target.epsilon, 3.0);
    // Training stops at the target: the spend is the target, up to the accountant's
    // search tolerance.
    assert!(
        report.epsilon_rdp <= 3.0 * (1.0 + 1e-6) && report.epsilon_rdp > 2.9,
        "ε = {}",
        report.epsilon_rdp
    );
    let labels: Vec<&str> = report.events.iter().map(|e| e.label.as_str()).collect();
    assert!(
        labels.iter().any(|l| l.contains("color")) && labels.iter().any(|l| l.contains("age")),
        "{labels:?}"
    );
    let (sample_rate, noise_multiplier, steps) = dpsgd(&report);
    assert!(
        (sample_rate - 50.0 / 300.0).abs() < 0.05,
        "q = {sample_rate}"
    );
    assert!(
        noise_multiplier > 0.3 && (10..=14).contains(&steps),
        "σ = {noise_multiplier}, {steps} steps"
    );
    // The rows it generates have the table's columns and categories; save → restore
    // keeps the report.
    assert_samples_and_restores(model.as_ref(), report, 200, 3);
}

#[test]
fn a_model_without_privacy_has_no_report() {
    let model = fit(&table(false), &config(serde_json::Value::Null)).expect("fit");
    assert!(model.privacy_report().is_none());
}

#[test]
fn resuming_a_dp_fit_is_refused() {
    let mut config = config(json!({"epsilon": 1.0, "delta": 1e-5}));
    config["training"]["resume_from"] = json!("/tmp/nowhere");
    match fit(&table(false), &config) {
        Err(ModelError::InvalidConfig { field, .. }) => assert_eq!(field, "training.resume_from"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_privacy_fields_are_named() {
    for (privacy, field) in [
        (json!({"epsilon": -1.0, "delta": 1e-5}), "epsilon"),
        (json!({"epsilon": 1.0, "delta": 1.0}), "delta"),
        (
            json!({"epsilon": 1.0, "delta": 1e-5, "clip_norm": 0.0}),
            "clip_norm",
        ),
    ] {
        let error = fit(&table(false), &config(privacy)).expect_err("refused");
        let text = error.to_string();
        assert!(
            matches!(
                error,
                ModelError::InvalidConfig { .. } | ModelError::Privacy(_)
            ) && text.contains(field),
            "{text}"
        );
    }
}

#[test]
fn free_text_is_refused_in_strict_mode_and_labelled_not_dp_otherwise() {
    let table = table(true);
    assert_refuses_free_text(fit(&table, &config(json!({"epsilon": 1.0, "delta": 1e-5}))));
    let lenient = config(json!({"epsilon": 1.0, "delta": 1e-5, "strict": false}));
    let model = fit(&table, &lenient).expect("fit");
    let report = model.privacy_report().expect("report");
    assert!(!report.differentially_private);
    assert!(report.not_dp_reasons.iter().any(|r| r.contains("note")));
}
