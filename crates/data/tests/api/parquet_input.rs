//! Parquet files written by other tools: their types map to Mirage's storage and kinds.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Date32Array, Float32Array, Int32Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt8Array,
};
use arrow::datatypes::{
    DataType, Field, Schema as ArrowSchema, TimeUnit, TimestampMillisecondType,
};
use mirage_core::ColumnKind;
use mirage_core::schema::PhysicalType;
use mirage_data::{ReadOptions, SchemaOverrides, read_table};
use parquet::arrow::ArrowWriter;

use crate::{file, kind, scratch};

fn write_foreign(path: &std::path::Path) {
    let rows = 40;
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("small", DataType::Int32, true),
        Field::new("tiny", DataType::UInt8, false),
        Field::new("ratio", DataType::Float32, false),
        Field::new("city", DataType::Utf8, true),
        Field::new("born", DataType::Date32, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("zip", DataType::Utf8, false),
    ]));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter(
            (0..rows).map(|i| (i != 3).then_some(i * 2)),
        )),
        Arc::new(UInt8Array::from_iter_values(
            (0..rows).map(|i| (i % 3) as u8),
        )),
        Arc::new(Float32Array::from_iter_values(
            (0..rows).map(|i| i as f32 / 4.0),
        )),
        Arc::new(StringArray::from_iter((0..rows).map(|i| {
            (i != 5).then(|| ["Oslo", "Rome", "Lima"][i as usize % 3])
        }))),
        Arc::new(Date32Array::from_iter_values((0..rows).map(|i| 18_000 + i))),
        Arc::new(
            TimestampNanosecondArray::from_iter_values(
                (0..rows).map(|i| i64::from(i) * 1_500_000_000),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("{:05}", 1000 + i % 4)),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("batch");
    let mut writer =
        ArrowWriter::try_new(File::create(path).expect("create"), schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

#[test]
fn foreign_parquet_types_map_to_mirage_storage() {
    let dir = scratch();
    // No .parquet extension: the PAR1 magic is enough.
    let path = dir.path().join("export.bin");
    write_foreign(&path);
    let table = read_table(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(table.num_rows(), 40);
    let physical = |name: &str| table.schema().require(name).expect("column").physical;
    assert_eq!(physical("small"), PhysicalType::Int64);
    assert_eq!(kind(&table, "small"), ColumnKind::Integer);
    assert!(table.schema().require("small").expect("small").nullable);
    assert_eq!(physical("tiny"), PhysicalType::Int64);
    assert!(!table.schema().require("tiny").expect("tiny").nullable);
    assert_eq!(kind(&table, "ratio"), ColumnKind::Float);
    assert_eq!(kind(&table, "city"), ColumnKind::Categorical);
    assert_eq!(
        kind(&table, "born"),
        ColumnKind::Datetime {
            format: "%Y-%m-%d".into()
        }
    );
    assert_eq!(
        kind(&table, "at"),
        ColumnKind::Datetime {
            format: "%Y-%m-%d %H:%M:%S".into()
        }
    );
    let born = table.column_by_name("born").expect("born");
    assert_eq!(
        born.as_primitive::<TimestampMillisecondType>().value(1),
        18_001 * 86_400_000
    );
    let at = table.column_by_name("at").expect("at");
    assert_eq!(
        at.as_primitive::<TimestampMillisecondType>().value(2),
        3_000
    );
    assert_eq!(
        at.data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, None)
    );
}

#[test]
fn overrides_convert_parquet_columns() {
    let dir = scratch();
    let path = dir.path().join("export.parquet");
    write_foreign(&path);
    let schema = file(
        &dir,
        "schema.toml",
        "[columns.zip]\nkind = \"integer\"\n[columns.tiny]\nkind = \"categorical\"\n",
    );
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    let table = read_table(&path, &options).expect("reads");
    assert_eq!(
        table.schema().require("zip").expect("zip").physical,
        PhysicalType::Int64
    );
    assert_eq!(kind(&table, "tiny"), ColumnKind::Categorical);
    let tiny = table.column_by_name("tiny").expect("tiny");
    assert_eq!(tiny.as_string::<i32>().value(2), "2");
    let bad = file(&dir, "bad.toml", "[columns.city]\nkind = \"float\"\n");
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&bad).expect("schema")),
        ..ReadOptions::default()
    };
    let message = read_table(&path, &options)
        .expect_err("cities are not numbers")
        .to_string();
    crate::assert_mentions(
        &message,
        &["export.parquet", "row 1", "\"city\"", "\"Oslo\""],
    );
}

#[test]
fn truncated_parquet_names_the_file() {
    let dir = scratch();
    let path = file(&dir, "cut.parquet", b"PAR1 not really parquet");
    let message = crate::read_error(&path);
    crate::assert_mentions(&message, &["cut.parquet", "parquet"]);
}
