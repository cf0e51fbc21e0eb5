//! DP-TVAE through the public API: the privacy report (target met, training stopped at
//! it, every data read charged), save → restore keeping the report, and the refusals
//! (resume, bad privacy fields, free text in strict mode).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table};
use mirage_models::{FitContext, ModelError, SampleRequest, Synthesizer, sample_all};
use mirage_privacy::Mechanism;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const COLORS: [&str; 3] = ["red", "green", "blue"];

/// 300 rows: a colour, an age that depends on it (a few nulls), a key and optionally
/// free text.
fn table(with_text: bool) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = 300;
    let (mut color, mut age, mut text) = (vec![], vec![], vec![]);
    for i in 0..rows {
        let c = match rng.random::<f64>() {
            u if u < 0.6 => 0,
            u if u < 0.9 => 1,
            _ => 2,
        };
        color.push(COLORS[c]);
        age.push((i % 17 != 0).then(|| 20 + 15 * c as i64 + rng.random_range(0..10)));
        text.push(if i % 2 == 0 {
            "a quick fox"
        } else {
            "the lazy dog"
        });
    }
    let mut columns = vec![
        ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(color)),
        Arc::new(Int64Array::from(age)),
        Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
    ];
    if with_text {
        columns.push(ColumnSchema::new(
            "note",
            ColumnKind::Text,
            PhysicalType::Utf8,
        ));
        arrays.push(Arc::new(StringArray::from(text)));
    }
    let schema = Schema::new(columns).expect("schema");
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
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
    mirage_models::fit(ModelKind::Tvae, table, config, &mut FitContext::default())
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
    let dpsgd = report
        .events
        .iter()
        .find(|e| e.label.contains("dp-sgd"))
        .expect("a DP-SGD event");
    let Mechanism::SubsampledGaussian {
        sample_rate,
        noise_multiplier,
        steps,
    } = dpsgd.mechanism
    else {
        panic!("DP-SGD is a subsampled Gaussian: {dpsgd:?}");
    };
    assert!(
        (sample_rate - 50.0 / 300.0).abs() < 0.05,
        "q = {sample_rate}"
    );
    assert!(
        noise_multiplier > 0.3 && (10..=14).contains(&steps),
        "{dpsgd:?}"
    );
    // The rows it generates have the table's columns and categories.
    let rows = sample_all(model.as_ref(), &SampleRequest::new(200, 3)).expect("sample");
    assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 200);
    // Save → restore keeps the report.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model");
    mirage_models::save_model(model.as_ref(), &path).expect("save");
    let restored = mirage_models::load_model(&path).expect("load");
    assert_eq!(restored.privacy_report(), Some(report));
    assert_eq!(
        sample_all(restored.as_ref(), &SampleRequest::new(50, 9)).expect("sample"),
        sample_all(model.as_ref(), &SampleRequest::new(50, 9)).expect("sample")
    );
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
    match fit(&table, &config(json!({"epsilon": 1.0, "delta": 1e-5}))) {
        Err(ModelError::NotPrivate { reasons }) => {
            assert!(reasons.iter().any(|r| r.contains("note")), "{reasons:?}");
        }
        other => panic!("{other:?}"),
    }
    let lenient = config(json!({"epsilon": 1.0, "delta": 1e-5, "strict": false}));
    let model = fit(&table, &lenient).expect("fit");
    let report = model.privacy_report().expect("report");
    assert!(!report.differentially_private);
    assert!(report.not_dp_reasons.iter().any(|r| r.contains("note")));
}
