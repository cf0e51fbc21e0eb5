//! DP-TabularARGN through the public API: the privacy report (DP, spent up to the target,
//! preprocessing and DP-SGD events), kept through save and load; generated values only
//! from the DP domains; resume and bad privacy fields refused; a text column under strict
//! mode refused as not private.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table, Value};
use mirage_models::argn::{ColumnCodec, Token};
use mirage_models::columns::value_at;
use mirage_models::dp::OTHER_LABEL;
use mirage_models::{
    FitContext, ModelError, SampleRequest, Synthesizer, TabularArgn, fit, load_model, sample_all,
    save_model,
};
use serde_json::{Value as Json, json};

const COLOURS: [&str; 4] = ["red", "blue", "green", "violet"];

/// `rows` rows: a colour (one rare value), a size that follows it, an integer age with
/// a point mass at 0 and some nulls, and optionally free text.
fn table(rows: usize, with_text: bool) -> Table {
    let colours: Vec<Option<String>> = (0..rows)
        .map(|i| {
            Some(if i == 7 {
                "one-of-a-kind".to_string()
            } else {
                COLOURS[i % 7 % 4].to_string()
            })
        })
        .collect();
    let sizes: Vec<Option<&str>> = (0..rows)
        .map(|i| Some(if i % 7 % 4 < 2 { "small" } else { "large" }))
        .collect();
    let ages: Vec<Option<i64>> = (0..rows)
        .map(|i| match i % 10 {
            0 => None,
            1..=3 => Some(0),
            _ => Some(18 + (i * 37 % 60) as i64),
        })
        .collect();
    let mut fields = vec![
        Field::new("colour", DataType::Utf8, true),
        Field::new("size", DataType::Utf8, true),
        Field::new("age", DataType::Int64, true),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(colours)),
        Arc::new(StringArray::from(sizes)),
        Arc::new(Int64Array::from(ages)),
    ];
    let mut columns = vec![
        ColumnSchema::new("colour", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("size", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
    ];
    if with_text {
        let notes: Vec<Option<String>> = (0..rows).map(|i| Some(format!("note {i}"))).collect();
        fields.push(Field::new("note", DataType::Utf8, true));
        arrays.push(Arc::new(StringArray::from(notes)));
        columns.push(ColumnSchema::new(
            "note",
            ColumnKind::Text,
            PhysicalType::Utf8,
        ));
    }
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).expect("batch");
    Table::new(Schema::new(columns).expect("schema"), vec![batch]).expect("table")
}

fn config(epsilon: f64) -> Json {
    json!({
        "hidden": 16,
        "training": {"max_epochs": 2, "batch_size": 64, "seed": 1},
        "privacy": {"epsilon": epsilon, "delta": 1e-5, "rare_min_count": 5}
    })
}

fn fit_dp(table: &Table, config: &Json) -> Box<dyn Synthesizer> {
    fit(
        ModelKind::TabularArgn,
        table,
        config,
        &mut FitContext::default(),
    )
    .expect("dp fit")
}

#[test]
fn report_is_dp_and_spends_the_target() {
    let model = fit_dp(&table(400, false), &config(3.0));
    let report = model.privacy_report().expect("a DP model has a report");
    assert!(report.differentially_private, "{report:?}");
    assert!(report.not_dp_reasons.is_empty());
    assert_eq!(report.target.epsilon, 3.0);
    // DP-SGD's σ is chosen to land on the target: the spend is at most it, and close.
    assert!(
        report.epsilon_rdp <= 3.0 + 1e-6 && report.epsilon_rdp > 2.9,
        "{}",
        report.epsilon_rdp
    );
    let labels: Vec<&str> = report.events.iter().map(|e| e.label.as_str()).collect();
    for column in ["colour", "size", "age"] {
        assert!(
            labels.iter().any(|l| l.contains(column)),
            "no preprocessing event for {column}: {labels:?}"
        );
    }
    let last = report.events.last().expect("events");
    assert_eq!(last.label, "dp-sgd");
    let json = serde_json::to_value(&last.mechanism).expect("json");
    assert_eq!(json["mechanism"], "subsampled_gaussian", "{json}");
    let steps = json["steps"].as_u64().expect("steps");
    // 2 epochs of expected batch 64 over ≈ 400 noisy rows.
    assert!((10..=20).contains(&steps), "{steps} steps");
    assert!(json["noise_multiplier"].as_f64().expect("σ") > 0.3);
}

#[test]
fn report_survives_save_and_load() {
    let model = fit_dp(&table(300, false), &config(2.0));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model");
    save_model(model.as_ref(), &path).expect("save");
    let loaded = load_model(&path).expect("load");
    assert_eq!(loaded.privacy_report(), model.privacy_report());
    assert!(loaded.privacy_report().is_some());
    let request = SampleRequest::new(50, 5);
    let a = sample_all(loaded.as_ref(), &request).expect("loaded samples");
    let b = sample_all(model.as_ref(), &request).expect("samples");
    assert_eq!(a, b);
}

#[test]
fn samples_only_hold_values_of_the_dp_domains() {
    let table = table(600, false);
    let model = TabularArgn::fit(
        &table,
        mirage_models::ArgnConfig::from_json(&json!({
            "hidden": 16,
            "training": {"max_epochs": 20, "batch_size": 128, "learning_rate": 0.03, "seed": 1},
            "privacy": {"epsilon": 10.0, "delta": 1e-5}
        }))
        .expect("config"),
        &mut FitContext::default(),
    )
    .expect("fit");
    // The encoders hold no raw value the DP statistics did not release: the rare colour
    // (one row) is never a category, and no numeric token lies outside the DP range.
    let mut domains: Vec<HashSet<String>> = Vec::new();
    for codec in model.column_codecs() {
        let ColumnCodec::Tokens(encoder) = codec else {
            panic!("every column is modelled");
        };
        assert!(encoder.private);
        let mut values = HashSet::new();
        for token in &encoder.tokens {
            match token {
                Token::Category { value } | Token::Other { value } => {
                    values.insert(value.to_string());
                }
                Token::Null => {
                    values.insert(Value::Null.to_string());
                }
                Token::Number { .. } | Token::Bin { .. } => {}
                Token::Rare => panic!("a DP encoder has no data-derived rare pool"),
            }
        }
        assert!(!values.contains("one-of-a-kind"));
        domains.push(values);
    }
    // At ε = 10 the selection keeps the four common colours (≈ 150 rows each).
    for colour in COLOURS {
        assert!(domains[0].contains(colour), "{colour}: {:?}", domains[0]);
    }
    let (low, high) = model.numeric_range("age").expect("age is numeric");
    let batches = sample_all(&model, &SampleRequest::new(500, 9)).expect("samples");
    let schema = model.schema().clone();
    let mut others = 0;
    for batch in &batches {
        for (c, column) in schema.columns.iter().enumerate() {
            for row in 0..batch.num_rows() {
                let value = value_at(&column.name, batch.column(c).as_ref(), row).expect("value");
                if column.name == "age" {
                    if let Some(x) = value.as_f64() {
                        assert!(x >= low && x <= high && x.fract() == 0.0, "age {x}");
                    }
                    continue;
                }
                let text = value.to_string();
                assert!(
                    domains[c].contains(&text),
                    "{}: {text} is outside the DP domain {:?}",
                    column.name,
                    domains[c]
                );
                if value == Value::Str(OTHER_LABEL.into()) {
                    others += 1;
                }
            }
        }
    }
    // The OTHER label stays rare: one source row in 600 is outside the category sets.
    assert!(others < 100, "{others} OTHER labels in 1000 cells");
}

#[test]
fn resume_is_refused() {
    let mut config = config(1.0);
    config["training"]["resume_from"] = json!("/tmp/somewhere");
    let err = fit(
        ModelKind::TabularArgn,
        &table(100, false),
        &config,
        &mut FitContext::default(),
    )
    .expect_err("refused");
    match err {
        ModelError::InvalidConfig { field, message, .. } => {
            assert_eq!(field, "training.resume_from");
            assert!(message.contains("DP"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn invalid_privacy_fields_are_named() {
    for (privacy, field) in [
        (json!({"epsilon": -1, "delta": 1e-5}), "privacy.epsilon"),
        (json!({"epsilon": 1, "delta": 2}), "privacy.delta"),
        (
            json!({"epsilon": 1, "delta": 1e-5, "clip_norm": 0}),
            "privacy.clip_norm",
        ),
        (json!({"epsilon": 1, "delta": 1e-5, "bogus": 1}), "privacy"),
    ] {
        let config = json!({"privacy": privacy});
        let err = mirage_models::ArgnConfig::from_json(&config).expect_err("refused");
        assert!(err.to_string().contains(field), "{err} lacks {field}");
    }
}

#[test]
fn strict_mode_refuses_a_text_column() {
    let err = fit(
        ModelKind::TabularArgn,
        &table(100, true),
        &config(1.0),
        &mut FitContext::default(),
    )
    .expect_err("not private");
    match err {
        ModelError::NotPrivate { reasons } => {
            assert!(reasons.iter().any(|r| r.contains("note")), "{reasons:?}");
        }
        other => panic!("unexpected {other}"),
    }
    // Not strict: fitted, and reported as not DP.
    let mut lenient = config(1.0);
    lenient["privacy"]["strict"] = json!(false);
    let model = fit_dp(&table(100, true), &lenient);
    let report = model.privacy_report().expect("report");
    assert!(!report.differentially_private);
    assert!(!report.not_dp_reasons.is_empty());
}

#[test]
fn non_dp_fits_have_no_report() {
    let model = fit(
        ModelKind::TabularArgn,
        &table(100, false),
        &json!({"hidden": 8, "training": {"max_epochs": 1}}),
        &mut FitContext::default(),
    )
    .expect("fit");
    assert!(model.privacy_report().is_none());
    assert!(
        model
            .parameters_json()
            .expect("json")
            .get("privacy")
            .is_none()
    );
}
