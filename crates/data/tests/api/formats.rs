//! Text formats the kind does not carry survive read_table → write_table: boolean spellings
//! and the format of a constant datetime column, through CSV and through Parquet.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use mirage_core::schema::{ColumnFormat, PhysicalType};
use mirage_core::{ColumnKind, Table};
use mirage_data::{ReadOptions, SchemaOverrides, read_table, write_table};
use parquet::arrow::ArrowWriter;

use crate::{file, read, scratch};

/// A CSV text with an `id` column and a `flag` column holding `values`.
fn flag_csv(values: &[&str]) -> String {
    let mut text = String::from("id,flag\n");
    for (i, value) in values.iter().enumerate() {
        text.push_str(&format!("{},{value}\n", i + 1));
    }
    text
}

/// The table written as CSV, as text.
fn csv_text(table: &Table) -> String {
    let dir = scratch();
    let path = dir.path().join("out.csv");
    write_table(table, &path).expect("writes csv");
    std::fs::read_to_string(&path).expect("reads csv text")
}

/// The table written to Parquet and read back.
fn through_parquet(table: &Table) -> Table {
    let dir = scratch();
    let path = dir.path().join("out.parquet");
    write_table(table, &path).expect("writes parquet");
    read(&path)
}

fn format_of(table: &Table, column: &str) -> Option<ColumnFormat> {
    table
        .schema()
        .require(column)
        .expect("column")
        .format
        .clone()
}

fn labels(true_label: &str, false_label: &str) -> Option<ColumnFormat> {
    Some(ColumnFormat::Boolean {
        true_label: true_label.into(),
        false_label: false_label.into(),
    })
}

#[test]
fn booleans_are_written_as_the_source_spelled_them() {
    let dir = scratch();
    for (values, true_label, false_label) in [
        (&["yes", "no", "no", "yes", ""][..], "yes", "no"),
        (&["Y", "N", "Y", "Y"][..], "Y", "N"),
        (&["True", "False", "False"][..], "True", "False"),
        (&["T", "F", "T"][..], "T", "F"),
        (&["FALSE", "TRUE"][..], "TRUE", "FALSE"),
    ] {
        let source = flag_csv(values);
        let table = read(&file(&dir, "flags.csv", &source));
        let column = table.schema().require("flag").expect("flag");
        assert_eq!(column.kind, ColumnKind::Boolean, "{values:?}");
        assert_eq!(column.physical, PhysicalType::Boolean, "{values:?}");
        assert_eq!(column.format, labels(true_label, false_label), "{values:?}");
        assert_eq!(csv_text(&table), source, "{values:?}");
        let back = through_parquet(&table);
        assert_eq!(
            format_of(&back, "flag"),
            labels(true_label, false_label),
            "{values:?}"
        );
        assert_eq!(csv_text(&back), source, "through parquet: {values:?}");
    }
}

#[test]
fn each_value_takes_the_case_seen_most_often() {
    let dir = scratch();
    let table = read(&file(
        &dir,
        "flags.csv",
        flag_csv(&["Yes", "no", "yes", "Yes", "No", "No", "YES"]),
    ));
    assert_eq!(format_of(&table, "flag"), labels("Yes", "No"));
    assert_eq!(
        csv_text(&table),
        flag_csv(&["Yes", "No", "Yes", "Yes", "No", "No", "Yes"])
    );
}

#[test]
fn ones_and_zeros_declared_boolean_stay_ones_and_zeros() {
    let dir = scratch();
    let source = flag_csv(&["1", "0", "0", "1"]);
    let overrides = SchemaOverrides::from_toml_str(
        "[columns.flag]\nkind = \"boolean\"\n",
        Path::new("schema.toml"),
    )
    .expect("overrides");
    let options = ReadOptions {
        overrides: Some(overrides),
        ..ReadOptions::default()
    };
    let table = read_table(&file(&dir, "flags.csv", &source), &options).expect("reads");
    assert_eq!(
        table.schema().require("flag").expect("flag").physical,
        PhysicalType::Boolean
    );
    assert_eq!(format_of(&table, "flag"), labels("1", "0"));
    assert_eq!(csv_text(&table), source);
}

#[test]
fn a_constant_datetime_column_keeps_its_format() {
    let dir = scratch();
    for (day, format) in [
        ("2021-03-31", "%Y-%m-%d"),
        ("31/03/2021", "%d/%m/%Y"),
        ("2021-03-31T08:15:00Z", "%Y-%m-%dT%H:%M:%SZ"),
    ] {
        let source = format!("id,snapshot\n1,{day}\n2,{day}\n3,\n4,{day}\n");
        let table = read(&file(&dir, "snapshot.csv", &source));
        let column = table.schema().require("snapshot").expect("snapshot");
        assert_eq!(column.kind, ColumnKind::Constant, "{day}");
        assert_eq!(column.physical, PhysicalType::TimestampMillis, "{day}");
        assert_eq!(column.datetime_format(), Some(format), "{day}");
        assert_eq!(csv_text(&table), source, "{day}");
        let back = through_parquet(&table);
        assert_eq!(
            format_of(&back, "snapshot"),
            Some(ColumnFormat::Datetime {
                format: format.into()
            }),
            "{day}"
        );
        assert_eq!(csv_text(&back), source, "through parquet: {day}");
    }
}

#[test]
fn booleans_without_a_spelling_are_written_true_and_false() {
    let dir = scratch();
    let path = dir.path().join("strings.parquet");
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("native", DataType::Boolean, false),
        Field::new("spelled", DataType::Utf8, false),
    ]));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(arrow::array::BooleanArray::from(vec![true, false, true])),
        Arc::new(StringArray::from(vec!["Y", "N", "Y"])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("batch");
    let mut writer =
        ArrowWriter::try_new(File::create(&path).expect("create"), schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");

    let overrides = SchemaOverrides::from_toml_str(
        "[columns.spelled]\nkind = \"boolean\"\n",
        Path::new("schema.toml"),
    )
    .expect("overrides");
    let options = ReadOptions {
        overrides: Some(overrides),
        ..ReadOptions::default()
    };
    let table = read_table(&path, &options).expect("reads");
    assert_eq!(format_of(&table, "native"), None);
    assert_eq!(format_of(&table, "spelled"), labels("Y", "N"));
    assert_eq!(
        csv_text(&table),
        "native,spelled\ntrue,Y\nfalse,N\ntrue,Y\n"
    );
}
