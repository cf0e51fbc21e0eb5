//! TabDDPM through its public API: a mixed table with nulls, keys and a high-cardinality
//! column; null shares, bounds and quanta; save → restore; checkpoint → resume.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table};
use mirage_models::tabddpm::{ColumnCodec, TabDdpm};
use mirage_models::{FitContext, SampleRequest, Synthesizer, sample_all};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::json;

const DAY: i64 = 86_400_000;
const ROWS: usize = 1_500;

fn table() -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut id, mut age, mut amount, mut tier, mut flag, mut day, mut city) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..ROWS {
        let z: f64 = rng.sample(StandardNormal);
        let mut null = |share: f64| rng.random::<f64>() < share;
        id.push(format!("K{i:05}"));
        age.push((!null(0.1)).then_some((40.0 + 12.0 * z).round().clamp(18.0, 80.0) as i64));
        amount.push((!null(0.1)).then_some(((5.0 + z).exp() * 100.0).round() / 100.0));
        tier.push((!null(0.1)).then_some(if z > 0.5 { "high" } else { "low" }));
        flag.push((!null(0.1)).then_some(z > 0.0));
        day.push((!null(0.1)).then_some(18_000 * DAY + ((z + 3.0) * 50.0) as i64 * DAY));
        // 700 distinct cities, Zipf-like.
        let rank = (rng.random::<f64>().powi(3) * 700.0) as usize;
        city.push(format!("city{rank}"));
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Utf8),
        ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("tier", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("flag", ColumnKind::Boolean, PhysicalType::Boolean),
        ColumnSchema::new(
            "day",
            ColumnKind::Datetime {
                format: "%Y-%m-%d".into(),
            },
            PhysicalType::TimestampMillis,
        ),
        ColumnSchema::new("city", ColumnKind::Categorical, PhysicalType::Utf8),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(id)),
        Arc::new(Int64Array::from(age)),
        Arc::new(Float64Array::from(amount)),
        Arc::new(StringArray::from(tier)),
        Arc::new(BooleanArray::from(flag)),
        Arc::new(TimestampMillisecondArray::from(day)),
        Arc::new(StringArray::from(city)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn config(training: serde_json::Value) -> serde_json::Value {
    let mut training_base =
        json!({"batch_size": 256, "max_epochs": 80, "seed": 3, "learning_rate": 1e-3});
    for (k, v) in training.as_object().cloned().unwrap_or_default() {
        training_base[k] = v;
    }
    json!({
        "hidden": [128, 128],
        "embedding": 128,
        "timesteps": 50,
        "steps": null,
        "max_categories": 50,
        "learning_rate_schedule": "constant",
        "training": training_base,
    })
}

fn rows(model: &dyn Synthesizer, n: usize, seed: u64) -> RecordBatch {
    let batches = sample_all(model, &SampleRequest::new(n, seed)).expect("samples");
    arrow::compute::concat_batches(&model.schema().arrow_schema(), &batches).expect("concat")
}

#[test]
fn a_mixed_table_with_nulls_round_trips_through_the_model() {
    let table = table();
    let model = TabDdpm::fit(&table, &config(json!({})), &mut FitContext::default()).expect("fit");
    // The 700-city column is pooled to 50 classes.
    let city = model
        .column_codecs()
        .iter()
        .find_map(|c| match c {
            ColumnCodec::Categorical(c) if c.other.len() > 100 => Some(c),
            _ => None,
        })
        .expect("pooled city column");
    assert_eq!(city.classes(), 50);
    let batch = rows(&model, 3_000, 1);
    assert_eq!(batch.num_rows(), 3_000);
    assert_eq!(batch.schema(), table.schema().arrow_schema());
    let source = table.to_single_batch().expect("batch");
    for column in ["age", "amount", "tier", "flag", "day"] {
        let share = |b: &RecordBatch| {
            let a = b.column_by_name(column).expect("column");
            a.null_count() as f64 / a.len() as f64
        };
        let (real, fake) = (share(&source), share(&batch));
        eprintln!("{column}: {fake:.3} nulls vs {real:.3}");
        assert!(
            (real - fake).abs() < 0.05,
            "{column}: {fake:.3} nulls vs {real:.3}"
        );
    }
    let amounts = batch
        .column_by_name("amount")
        .and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned())
        .expect("floats");
    let real_amounts = source
        .column_by_name("amount")
        .and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned())
        .expect("floats");
    let (lo, hi) = real_amounts
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    for v in amounts.iter().flatten() {
        assert!((lo..=hi).contains(&v), "{v} outside [{lo}, {hi}]");
        assert!(((v * 100.0) - (v * 100.0).round()).abs() < 1e-6, "{v}");
    }
    let days = batch
        .column_by_name("day")
        .and_then(|a| {
            a.as_any()
                .downcast_ref::<TimestampMillisecondArray>()
                .cloned()
        })
        .expect("days");
    assert!(days.iter().flatten().all(|d| d % DAY == 0));
    let ids = batch
        .column_by_name("id")
        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
        .expect("ids");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 3_000);
    // Restore from the saved parts gives the same rows.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("weights.safetensors");
    assert!(model.save_weights(&path).expect("save"));
    let restored = TabDdpm::restore(
        table.schema().clone(),
        &model.config_json(),
        model.parameters_json().expect("parameters"),
        Some(&std::fs::read(&path).expect("weights")),
    )
    .expect("restore");
    assert_eq!(rows(&restored, 500, 4), rows(&model, 500, 4));
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let table = table();
    let dir = tempfile::tempdir().expect("tempdir");
    let fit = |training: serde_json::Value| {
        TabDdpm::fit(&table, &config(training), &mut FitContext::default()).expect("fit")
    };
    let straight = fit(json!({"max_epochs": 4}));
    fit(json!({"max_epochs": 2, "checkpoint_every": 2, "checkpoint_dir": dir.path()}));
    let resumed = fit(json!({"max_epochs": 4, "resume_from": dir.path().join("epoch-00002")}));
    assert_eq!(rows(&resumed, 400, 9), rows(&straight, 400, 9));
}
