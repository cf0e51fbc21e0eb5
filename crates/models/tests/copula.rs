//! The GaussianCopula against the common model contract: determinism, bounded batches,
//! conditions, save/load, cancellation, and the statistics it must keep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Condition, ConditionOp, Schema, Table, Value};
use mirage_models::stats::normal;
use mirage_models::{
    CancellationToken, FitContext, ModelError, SampleRequest, fit, load_model, sample, sample_all,
    save_model,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const DAY: i64 = 86_400_000;

/// 4,000 rows: x ~ N(50, 10²), y = 0.7·x-score + noise (ρ ≈ 0.7), a category tied to x,
/// a datetime at day granularity, an integer key, and 10 % nulls in `y`.
fn table() -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 4_000;
    let (mut x, mut y, mut c, mut t, mut id) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let a: f64 = rng.sample(StandardNormal);
        let b: f64 = rng.sample(StandardNormal);
        x.push(50.0 + 10.0 * a);
        let yv = 0.7 * a + (1.0f64 - 0.49).sqrt() * b;
        y.push(if rng.random::<f64>() < 0.1 {
            None
        } else {
            Some((yv * 100.0).round() / 100.0)
        });
        c.push(if a > 0.5 {
            "high"
        } else if a < -0.5 {
            "low"
        } else {
            "mid"
        });
        t.push(18_000 * DAY + (rng.random_range(0..365) as i64) * DAY);
        id.push(1_000 + i as i64);
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("y", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("c", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new(
            "t",
            ColumnKind::Datetime {
                format: "%Y-%m-%d".into(),
            },
            PhysicalType::TimestampMillis,
        ),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(id)),
        Arc::new(Float64Array::from(x)),
        Arc::new(Float64Array::from(y)),
        Arc::new(StringArray::from(c)),
        Arc::new(TimestampMillisecondArray::from(t)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn fitted() -> Box<dyn mirage_models::Synthesizer> {
    fit(
        ModelKind::GaussianCopula,
        &table(),
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fits")
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let array = batch.column_by_name(name).expect("column");
    let array = array
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("floats");
    array.iter().collect()
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pairs.iter().map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = pairs.iter().map(|(a, _)| (a - mx).powi(2)).sum();
    let syy: f64 = pairs.iter().map(|(_, b)| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

fn one_batch(model: &dyn mirage_models::Synthesizer, request: &SampleRequest) -> RecordBatch {
    let batches = sample_all(model, request).expect("samples");
    arrow::compute::concat_batches(&model.schema().arrow_schema(), &batches).expect("concat")
}

#[test]
fn same_seed_same_rows_and_batches_are_bounded() {
    let model = fitted();
    let request = SampleRequest {
        batch_size: 700,
        ..SampleRequest::new(2_500, 7)
    };
    let first = sample_all(model.as_ref(), &request).expect("samples");
    let second = sample_all(model.as_ref(), &request).expect("samples");
    assert_eq!(first, second);
    assert!(first.iter().all(|b| b.num_rows() <= 700));
    assert_eq!(
        first.iter().map(RecordBatch::num_rows).sum::<usize>(),
        2_500
    );
    let other = sample_all(model.as_ref(), &SampleRequest { seed: 8, ..request }).expect("samples");
    assert_ne!(first, other);
}

#[test]
fn keeps_marginals_correlation_nulls_bounds_and_keys() {
    let model = fitted();
    let batch = one_batch(model.as_ref(), &SampleRequest::new(20_000, 1));
    let x = floats(&batch, "x");
    let y = floats(&batch, "y");
    let xs: Vec<f64> = x.iter().flatten().copied().collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let std = (xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
    assert!((mean - 50.0).abs() < 0.6, "mean {mean}");
    assert!((std - 10.0).abs() < 0.6, "std {std}");
    let null_share = y.iter().filter(|v| v.is_none()).count() as f64 / y.len() as f64;
    assert!((null_share - 0.1).abs() < 0.015, "nulls {null_share}");
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(&y)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .collect();
    let rho = pearson(&pairs);
    assert!((rho - 0.7).abs() < 0.04, "rho {rho}");
    // y keeps its two decimals.
    assert!(
        y.iter()
            .flatten()
            .all(|v| ((v * 100.0).round() - v * 100.0).abs() < 1e-6)
    );
    // The training range bounds x.
    let source = table();
    let sx = source.column_by_name("x").expect("x");
    let sx = sx.as_any().downcast_ref::<Float64Array>().expect("floats");
    let (lo, hi) = (
        arrow::compute::min(sx).expect("min"),
        arrow::compute::max(sx).expect("max"),
    );
    assert!(xs.iter().all(|v| *v >= lo && *v <= hi));
    // Keys are unique and dates fall on day boundaries.
    let ids = batch.column_by_name("id").expect("id");
    let ids = ids.as_any().downcast_ref::<Int64Array>().expect("ints");
    let unique: std::collections::HashSet<i64> = ids.iter().flatten().collect();
    assert_eq!(unique.len(), 20_000);
    let t = batch.column_by_name("t").expect("t");
    let t = t
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .expect("ts");
    assert!(t.iter().flatten().all(|v| v % DAY == 0));
    // Categories come from the source and keep their link to x.
    let c = batch.column_by_name("c").expect("c");
    let c = c.as_any().downcast_ref::<StringArray>().expect("strings");
    let high: Vec<f64> = c
        .iter()
        .zip(&x)
        .filter(|(c, _)| *c == Some("high"))
        .filter_map(|(_, x)| *x)
        .collect();
    assert!(c.iter().all(|v| matches!(v, Some("high" | "mid" | "low"))));
    let high_mean = high.iter().sum::<f64>() / high.len() as f64;
    assert!(high_mean > 58.0, "high mean {high_mean}");
}

#[test]
fn conditions_hold_on_every_row() {
    let model = fitted();
    let conditions = vec![
        Condition::parse("x > 60").expect("cond"),
        Condition::new("c", ConditionOp::In(vec!["high".into(), "mid".into()])),
        Condition::parse("t between 2019-04-01 and 2019-06-30").expect("cond"),
    ];
    let request = SampleRequest {
        conditions,
        batch_size: 300,
        ..SampleRequest::new(1_000, 3)
    };
    let batch = one_batch(model.as_ref(), &request);
    assert_eq!(batch.num_rows(), 1_000);
    assert!(
        floats(&batch, "x")
            .iter()
            .all(|v| v.is_some_and(|v| v > 60.0))
    );
    let t = batch.column_by_name("t").expect("t");
    let t = t
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .expect("ts");
    let (lo, hi) = (1_554_076_800_000, 1_561_852_800_000); // 2019-04-01, 2019-06-30
    assert!(t.iter().flatten().all(|v| (lo..=hi).contains(&v)));
}

#[test]
fn impossible_and_hopeless_conditions_say_why() {
    let model = fitted();
    let err = |text: &str| {
        let request = SampleRequest {
            conditions: vec![Condition::parse(text).expect("parses")],
            max_draws: Some(200_000),
            ..SampleRequest::new(5_000, 1)
        };
        match sample(model.as_ref(), &request) {
            Err(e) => e,
            Ok(iter) => iter.collect::<Result<Vec<_>, _>>().expect_err(text),
        }
    };
    let e = err("x > 1000");
    assert!(e.to_string().contains("ranges over"), "{e}");
    let e = err("c = medium");
    assert!(
        e.to_string().contains("no such value") && e.to_string().contains("high"),
        "{e}"
    );
    let e = err("nope = 1");
    assert!(e.to_string().contains("no column \"nope\""), "{e}");
    let e = err("x = abc");
    assert!(e.to_string().contains("not a number"), "{e}");
    let e = err("t > 31/12/2019");
    assert!(e.to_string().contains("%Y-%m-%d"), "{e}");
    // x > 85 is 3.5σ: about 1 row in 4,300, so 5,000 rows need ~21M draws > 200k.
    let e = err("x > 85");
    assert!(matches!(e, ModelError::HopelessConditions { .. }), "{e}");
    assert!(e.to_string().contains("loosen the conditions"), "{e}");
}

#[test]
fn saved_models_load_and_sample_identically_and_are_immutable() {
    let model = fitted();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("copula-v1");
    let manifest = save_model(model.as_ref(), &path).expect("saves");
    assert_eq!(manifest.kind, ModelKind::GaussianCopula);
    let loaded = load_model(&path).expect("loads");
    let request = SampleRequest::new(500, 11);
    assert_eq!(
        sample_all(model.as_ref(), &request).expect("samples"),
        sample_all(loaded.as_ref(), &request).expect("samples")
    );
    let again = save_model(model.as_ref(), &path).expect_err("exists");
    assert!(matches!(again, ModelError::AlreadyExists { .. }), "{again}");

    // A changed parameters file is detected.
    let params = path.join("parameters.json");
    let mut permissions = std::fs::metadata(&params).expect("meta").permissions();
    assert!(permissions.readonly());
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&params, permissions).expect("chmod");
    let text = std::fs::read_to_string(&params).expect("read");
    std::fs::write(&params, text.replacen("0.", "1.", 1)).expect("write");
    let err = load_model(&path).expect_err("tampered");
    assert!(err.to_string().contains("checksum"), "{err}");
    let err = load_model(&dir.path().join("missing")).expect_err("missing");
    assert!(err.to_string().contains("model.json"), "{err}");
}

#[test]
fn fitting_reports_progress_and_stops_when_cancelled() {
    let events = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&events);
    let mut context = FitContext::new(
        move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        },
        CancellationToken::new(),
    );
    fit(
        ModelKind::GaussianCopula,
        &table(),
        &serde_json::Value::Null,
        &mut context,
    )
    .expect("fits");
    assert_eq!(
        events.load(Ordering::Relaxed),
        6,
        "one per column and one for the correlation"
    );

    let token = CancellationToken::new();
    token.cancel();
    let mut context = FitContext::new(|_| {}, token);
    let err = fit(
        ModelKind::GaussianCopula,
        &table(),
        &serde_json::Value::Null,
        &mut context,
    )
    .expect_err("cancelled");
    assert!(matches!(err, ModelError::Cancelled));
}

#[test]
fn bad_configs_and_empty_tables_are_refused() {
    let err = fit(
        ModelKind::GaussianCopula,
        &table(),
        &serde_json::json!({"quantile_points": 0}),
        &mut FitContext::default(),
    )
    .expect_err("bad config");
    assert!(err.to_string().contains("quantile_points"), "{err}");
    let empty = Table::new(table().schema().clone(), vec![]).expect("empty table");
    let err = fit(
        ModelKind::GaussianCopula,
        &empty,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect_err("empty");
    assert!(err.to_string().contains("empty table"), "{err}");
    let err = fit(
        ModelKind::Dgan,
        &table(),
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect_err("not built yet");
    assert!(err.to_string().contains("gaussian-copula"), "{err}");
}

#[test]
fn parametric_marginal_is_chosen_for_normal_data() {
    let model = fit(
        ModelKind::GaussianCopula,
        &table(),
        &serde_json::json!({"marginals": "auto", "parametric_tolerance": 0.02}),
        &mut FitContext::default(),
    )
    .expect("fits");
    let params = model.parameters_json().expect("params");
    let x = &params["columns"][1];
    assert_eq!(x["family"]["family"], "normal", "{x}");
    let mean = x["family"]["mean"].as_f64().expect("mean");
    assert!((mean - 50.0).abs() < 0.5);
    // Φ⁻¹ sanity used by the copula.
    assert!((normal::quantile(0.5)).abs() < 1e-15);
    let _ = Value::Null;
}
