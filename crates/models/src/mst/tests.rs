use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::*;

/// `id`, a correlated pair (`tier` decides `spend`'s scale), and a text column.
fn table(rows: usize, with_text: bool) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let tiers = ["low", "mid", "high"];
    let mut tier = Vec::new();
    let mut spend = Vec::new();
    for _ in 0..rows {
        let t = rng.random_range(0..3usize);
        tier.push(Some(tiers[t]));
        let base = [10.0, 100.0, 1000.0][t];
        spend.push(
            (rng.random::<f64>() > 0.05).then(|| (base * (1.0 + rng.random::<f64>())).round()),
        );
    }
    let mut columns = vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("tier", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("spend", ColumnKind::Float, PhysicalType::Float64),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        Arc::new(StringArray::from(tier)),
        Arc::new(Float64Array::from(spend)),
    ];
    if with_text {
        columns.push(ColumnSchema::new(
            "note",
            ColumnKind::Text,
            PhysicalType::Utf8,
        ));
        arrays.push(Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("free text {i}")),
        )));
    }
    let schema = Schema::new(columns).expect("schema");
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn config(epsilon: f64) -> serde_json::Value {
    json!({"privacy": {"epsilon": epsilon, "delta": 1e-5}, "iterations": 300})
}

#[test]
fn fits_within_budget_and_keeps_the_correlation() {
    let table = table(4000, false);
    let config = MstConfig::from_json(&config(20.0)).expect("config");
    let model = Mst::fit(&table, config, &mut FitContext::default()).expect("fit");
    let report = model.privacy_report().expect("report");
    assert!(report.differentially_private);
    assert!(
        report.epsilon_rdp <= 20.0 && report.epsilon_rdp > 10.0,
        "{}",
        report.epsilon_rdp
    );
    assert!(
        report
            .events
            .iter()
            .any(|e| e.label.starts_with("mst two-way"))
    );
    assert!(
        report
            .events
            .iter()
            .any(|e| e.label == "quantiles of spend")
    );
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let batch = model.sample_batch(3000, 0, &mut rng).expect("sample");
    assert_eq!(batch.num_columns(), 3);
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("ids");
    assert_eq!(ids.value(0), 1);
    let tiers = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("tiers");
    let spend = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("spend");
    // "high" rows spend far more than "low" ones: the tree kept tier × spend.
    let mean = |name: &str| {
        let v: Vec<f64> = (0..batch.num_rows())
            .filter(|&r| tiers.is_valid(r) && tiers.value(r) == name && spend.is_valid(r))
            .map(|r| spend.value(r))
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    assert!(
        mean("high") > 5.0 * mean("low"),
        "{} vs {}",
        mean("high"),
        mean("low")
    );
    let nulls = (0..batch.num_rows()).filter(|&r| spend.is_null(r)).count() as f64;
    assert!((nulls / 3000.0 - 0.05).abs() < 0.03, "{nulls}");
    // Save and restore.
    let restored = Mst::restore(
        model.schema().clone(),
        &model.config_json(),
        model.parameters_json().expect("json"),
    )
    .expect("restore");
    let mut a = ChaCha8Rng::seed_from_u64(4);
    let mut b = ChaCha8Rng::seed_from_u64(4);
    assert_eq!(
        model.sample_batch(50, 0, &mut a).expect("a"),
        restored.sample_batch(50, 0, &mut b).expect("b")
    );
    assert_eq!(restored.privacy_report(), model.privacy_report());
}

#[test]
fn text_columns_are_refused_or_reported_not_dp() {
    let table = table(300, true);
    let err = Mst::fit(
        &table,
        MstConfig::from_json(&config(1.0)).expect("config"),
        &mut FitContext::default(),
    )
    .expect_err("strict");
    assert!(matches!(err, ModelError::NotPrivate { .. }), "{err}");
    assert!(err.to_string().contains("\"note\""), "{err}");
    let lenient = json!({"privacy": {"epsilon": 1.0, "delta": 1e-5, "strict": false}});
    let model = Mst::fit(
        &table,
        MstConfig::from_json(&lenient).expect("config"),
        &mut FitContext::default(),
    )
    .expect("lenient");
    let report = model.privacy_report().expect("report");
    assert!(!report.differentially_private);
    assert_eq!(model.schema().len(), 3, "the text column is not modelled");
}

#[test]
fn configs_without_a_budget_or_with_bad_fields_are_refused() {
    for (config, field) in [
        (json!({}), "privacy"),
        (
            json!({"privacy": {"epsilon": -1, "delta": 1e-5}}),
            "privacy.epsilon",
        ),
        (
            json!({"privacy": {"epsilon": 1, "delta": 1e-5}, "iterations": 0}),
            "iterations",
        ),
        (
            json!({"privacy": {"epsilon": 1, "delta": 1e-5}, "colour": 1}),
            "colour",
        ),
    ] {
        let err = MstConfig::from_json(&config).expect_err("refused");
        assert!(err.to_string().contains(field), "{err} lacks {field}");
    }
}

#[test]
fn a_corrupt_saved_model_is_refused() {
    let table = table(500, false);
    let model = Mst::fit(
        &table,
        MstConfig::from_json(&config(5.0)).expect("config"),
        &mut FitContext::default(),
    )
    .expect("fit");
    let err = Mst::restore(
        model.schema().clone(),
        &model.config_json(),
        json!({"codings": []}),
    )
    .expect_err("corrupt");
    assert!(err.to_string().contains("parameters"), "{err}");
}
