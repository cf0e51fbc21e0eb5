use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::*;

fn table(rows: usize) -> Table {
    let colours: Vec<Option<&str>> = (0..rows)
        .map(|i| match i % 10 {
            0..=5 => Some("red"),
            6..=8 => Some("blue"),
            _ if i == 9 => Some("unique"),
            _ => None,
        })
        .collect();
    let ages: Vec<Option<i64>> = (0..rows)
        .map(|i| {
            if i % 20 == 0 {
                None
            } else {
                Some((i % 50) as i64 + 20)
            }
        })
        .collect();
    let notes: Vec<Option<String>> = (0..rows).map(|i| Some(format!("note {i}"))).collect();
    let arrow = Arc::new(ArrowSchema::new(vec![
        Field::new("colour", DataType::Utf8, true),
        Field::new("age", DataType::Int64, true),
        Field::new("note", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        arrow,
        vec![
            Arc::new(StringArray::from(colours)) as ArrayRef,
            Arc::new(Int64Array::from(ages)) as ArrayRef,
            Arc::new(StringArray::from(notes)) as ArrayRef,
        ],
    )
    .expect("batch");
    let column = |name: &str, kind: ColumnKind, physical: PhysicalType| {
        ColumnSchema::new(name, kind, physical)
    };
    let schema = Schema::new(vec![
        column("colour", ColumnKind::Categorical, PhysicalType::Utf8),
        column("age", ColumnKind::Integer, PhysicalType::Int64),
        column("note", ColumnKind::Text, PhysicalType::Utf8),
    ])
    .expect("schema");
    Table::new(schema, vec![batch]).expect("table")
}

fn settings(epsilon: f64) -> DpSettings {
    DpSettings::from_config(
        "test",
        &json!({"privacy": {"epsilon": epsilon, "delta": 1e-5}}),
    )
    .expect("settings")
    .expect("some")
}

#[test]
fn statistics_are_charged_and_close_at_a_large_budget() {
    let table = table(5000);
    let settings = settings(50.0);
    let mut tracker = settings.tracker().expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let stats =
        DpStatistics::measure(&table, &[0, 1], &settings, &mut tracker, &mut rng).expect("measure");
    assert!((stats.rows - 5000.0).abs() < 50.0, "{}", stats.rows);
    let Some(ColumnStats::Discrete {
        categories,
        counts,
        other,
        null_count,
    }) = stats.column("colour")
    else {
        panic!("discrete colour");
    };
    let names: Vec<String> = categories.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        names,
        vec!["blue", "red"],
        "the singleton is merged into other"
    );
    assert!((counts[1] - 3000.0).abs() < 50.0);
    assert!(*other);
    assert!((null_count - 499.0).abs() < 50.0);
    let age = stats.column("age").expect("age");
    let bins = NumericBins::from_stats(age).expect("bins");
    let (low, high) = bins.range();
    assert!(
        (20.0..=22.0).contains(&low) && (67.0..=69.0).contains(&high),
        "{low} {high}"
    );
    assert!((age.null_count() - 250.0).abs() < 50.0);
    let report = finish(&tracker, &settings).expect("report");
    assert!(report.differentially_private);
    assert!(report.epsilon_rdp > 0.0 && report.epsilon_rdp < 0.5 * 50.0);
    assert!(
        report
            .events
            .iter()
            .any(|e| e.label == "category set of colour")
    );
    assert!(report.events.iter().any(|e| e.label == "quantiles of age"));
    assert_eq!(
        age.discrete_code(&Value::Int(3)),
        None,
        "numeric columns have no codes"
    );
    let colour = stats.column("colour").expect("colour");
    assert_eq!(colour.discrete_code(&Value::from("red")), Some(1));
    assert_eq!(colour.discrete_code(&Value::from("unique")), Some(2));
    assert_eq!(colour.discrete_code(&Value::Null), Some(3));
}

#[test]
fn text_columns_make_a_strict_fit_refuse() {
    let table = table(200);
    let settings = settings(1.0);
    let mut tracker = settings.tracker().expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    DpStatistics::measure(&table, &[0, 1, 2], &settings, &mut tracker, &mut rng).expect("measure");
    let err = finish(&tracker, &settings).expect_err("not private");
    assert!(err.to_string().contains("\"note\""), "{err}");
    let lenient = DpSettings {
        strict: false,
        ..settings
    };
    let report = finish(&tracker, &lenient).expect("report");
    assert!(!report.differentially_private);
}

#[test]
fn declared_facts_are_used_as_given() {
    let table = table(1000);
    let settings = DpSettings::from_config(
        "test",
        &json!({"privacy": {"epsilon": 5, "delta": 1e-5, "public": {"columns": {
            "colour": {"categories": ["red", "blue", "green"]},
            "age": {"bounds": [0, 120]}
        }}}}),
    )
    .expect("settings")
    .expect("some");
    let mut tracker = settings.tracker().expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let stats =
        DpStatistics::measure(&table, &[0, 1], &settings, &mut tracker, &mut rng).expect("measure");
    let Some(ColumnStats::Discrete { categories, .. }) = stats.column("colour") else {
        panic!("discrete");
    };
    assert_eq!(categories.len(), 3);
    assert!(
        !tracker
            .events()
            .iter()
            .any(|e| e.label.starts_with("range of"))
    );
    assert!(
        !tracker
            .events()
            .iter()
            .any(|e| e.label.starts_with("category set"))
    );
}

#[test]
fn a_declared_category_of_the_wrong_type_is_named() {
    // Age as a categorical column stored as integers: "young" cannot be one of its values.
    let (schema, batches) = table(100).into_parts();
    let mut columns = schema.columns.clone();
    columns[1].kind = ColumnKind::Categorical;
    let table = Table::new(Schema::new(columns).expect("schema"), batches).expect("table");
    let settings = DpSettings::from_config(
        "test",
        &json!({"privacy": {"epsilon": 5, "delta": 1e-5, "public": {"columns": {
            "age": {"categories": ["21", "young"]}
        }}}}),
    )
    .expect("settings")
    .expect("some");
    let mut tracker = settings.tracker().expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let err = DpStatistics::measure(&table, &[1], &settings, &mut tracker, &mut rng)
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("public.columns.age.categories") && text.contains("young"),
        "{text}"
    );
}
