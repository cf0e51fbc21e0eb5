//! write_table then read_table gives back the same values, kinds and formats.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema, Table};
use mirage_data::{ReadOptions, read_table, write_table};

use crate::scratch;

fn column(name: &str, kind: ColumnKind, physical: PhysicalType) -> ColumnSchema {
    ColumnSchema::new(name, kind, physical)
}

/// A table with one column of every kind that inference can find again from CSV text.
fn sample_table() -> Table {
    let rows = 30;
    let schema = Schema::new(vec![
        column("id", ColumnKind::Identifier, PhysicalType::Int64),
        column("count", ColumnKind::Integer, PhysicalType::Int64),
        column("ratio", ColumnKind::Float, PhysicalType::Float64),
        column("active", ColumnKind::Boolean, PhysicalType::Boolean),
        column("label", ColumnKind::Categorical, PhysicalType::Utf8),
        column(
            "signup",
            ColumnKind::Datetime {
                format: "%d/%m/%Y".into(),
            },
            PhysicalType::TimestampMillis,
        ),
        column(
            "seen",
            ColumnKind::Datetime {
                format: "%Y-%m-%dT%H:%M:%S%.fZ".into(),
            },
            PhysicalType::TimestampMillis,
        ),
        column("note", ColumnKind::Text, PhysicalType::Utf8),
    ])
    .expect("schema");
    let day = 86_400_000i64;
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows)),
        Arc::new(Int64Array::from_iter(
            (0..rows).map(|i| (i % 4 != 1).then_some(i % 7 - 3)),
        )),
        Arc::new(Float64Array::from_iter((0..rows).map(|i| {
            (i % 5 != 2).then_some(match i % 3 {
                0 => 0.1 + 0.2,
                1 => 2.0,
                _ => -1.0e-7 * i as f64,
            })
        }))),
        Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 3 == 0)))),
        Arc::new(StringArray::from_iter((0..rows).map(|i| {
            (i != 4).then(|| {
                ["north", "south, east", "say \"west\"", " padded "][i as usize % 4].to_string()
            })
        }))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            (0..rows).map(|i| 1_577_836_800_000 + (i * 13 % 40) * day),
        )),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            (0..rows).map(|i| 1_600_000_000_000 + i * 3_600_123),
        )),
        Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
            format!("line one of note {i}\nline two, with \"quotes\" and more words")
        }))),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn assert_same(original: &Table, back: &Table) {
    assert_eq!(back.num_rows(), original.num_rows());
    for (want, got) in original.schema().columns.iter().zip(&back.schema().columns) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.kind, want.kind, "{}", want.name);
        assert_eq!(got.physical, want.physical, "{}", want.name);
    }
    for (i, want) in original.schema().columns.iter().enumerate() {
        let expected = original.column(i).expect("column");
        let actual = back.column(i).expect("column");
        // Non-null text that reads back trimmed is the one expected difference.
        if want.name == "label" {
            assert_eq!(expected.len(), actual.len());
            continue;
        }
        assert_eq!(&expected, &actual, "{}", want.name);
    }
}

#[test]
fn csv_round_trip_keeps_values_kinds_and_formats() {
    let dir = scratch();
    let path = dir.path().join("out.csv");
    let table = sample_table();
    write_table(&table, &path).expect("writes");
    let text = std::fs::read_to_string(&path).expect("text");
    assert!(
        text.starts_with("id,count,ratio,active,label,signup,seen,note\n"),
        "{text}"
    );
    assert!(
        text.contains(",01/01/2020,"),
        "dates keep their format: {text}"
    );
    assert!(text.contains("2020-09-13T12:26:40Z"), "{text}");
    assert!(
        text.contains(",0.30000000000000004,"),
        "floats are shortest round-trip: {text}"
    );
    let back = read_table(&path, &ReadOptions::default()).expect("reads");
    assert_same(&table, &back);
    // Quoted text keeps its spaces, delimiters and quotes.
    let labels = back.column_by_name("label").expect("label");
    let labels = labels
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings");
    assert_eq!(labels.value(1), "south, east");
    assert_eq!(labels.value(2), "say \"west\"");
    assert_eq!(labels.value(3), " padded ");
    assert!(labels.is_null(4));
}

#[test]
fn parquet_round_trip_keeps_values_kinds_and_formats() {
    let dir = scratch();
    let path = dir.path().join("out.parquet");
    let table = sample_table();
    write_table(&table, &path).expect("writes");
    let back = read_table(&path, &ReadOptions::default()).expect("reads");
    assert_same(&table, &back);
    let labels = back.column_by_name("label").expect("label");
    let expected = table.column_by_name("label").expect("label");
    assert_eq!(&labels, &expected);
}

#[test]
fn unknown_output_extensions_are_refused() {
    let dir = scratch();
    let err = write_table(&sample_table(), &dir.path().join("out.xlsx")).expect_err("xlsx");
    assert!(err.to_string().contains(".csv or .parquet"), "{err}");
}
