//! Each inference outcome, from small files.

use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use mirage_core::ColumnKind;
use mirage_core::schema::PhysicalType;
use mirage_data::ReadOptions;

use crate::{file, kind, read, scratch};

fn datetime(format: &str) -> ColumnKind {
    ColumnKind::Datetime {
        format: format.to_string(),
    }
}

/// A table with one column `name` holding `values` (and a row-number column before it).
fn column_table(name: &str, values: &[&str]) -> mirage_core::Table {
    let dir = scratch();
    let mut content = format!("row,{name}\n");
    for (i, value) in values.iter().enumerate() {
        content.push_str(&format!("{i},{value}\n"));
    }
    read(&file(&dir, "t.csv", content))
}

fn kind_of(name: &str, values: &[&str]) -> ColumnKind {
    kind(&column_table(name, values), name)
}

#[test]
fn integers_floats_and_booleans() {
    assert_eq!(kind_of("n", &["1", "-2", "30", "1"]), ColumnKind::Integer);
    assert_eq!(kind_of("x", &["1.5", "2", "-3e2", "2"]), ColumnKind::Float);
    assert_eq!(
        kind_of("b", &["true", "False", "TRUE", "false"]),
        ColumnKind::Boolean
    );
    assert_eq!(kind_of("b", &["yes", "no", "Yes"]), ColumnKind::Boolean);
    assert_eq!(kind_of("b", &["Y", "n", "y"]), ColumnKind::Boolean);
    assert_eq!(kind_of("b", &["t", "f", "f"]), ColumnKind::Boolean);
    // Mixed pairs are labels, not booleans.
    assert_eq!(
        kind_of("b", &["yes", "false", "no"]),
        ColumnKind::Categorical
    );
    let table = column_table("b", &["yes", "no", ""]);
    let values: Vec<Option<bool>> = table
        .column_by_name("b")
        .expect("b")
        .as_boolean()
        .iter()
        .collect();
    assert_eq!(values, vec![Some(true), Some(false), None]);
}

#[test]
fn integers_with_few_values_stay_integers() {
    let values: Vec<String> = (0..100).map(|i| (i % 3).to_string()).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    assert_eq!(kind_of("level", &refs), ColumnKind::Integer);
}

#[test]
fn leading_zeros_keep_codes_as_text() {
    assert_eq!(
        kind_of("zip", &["02134", "10001", "02134"]),
        ColumnKind::Categorical
    );
}

#[test]
fn categorical_and_high_cardinality_labels() {
    let labels: Vec<String> = (0..1000).map(|i| format!("group{}", i % 40)).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    assert_eq!(kind_of("group", &refs), ColumnKind::Categorical);
    let many: Vec<String> = (0..2000).map(|i| format!("city{}", i % 700)).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(kind_of("city", &refs), ColumnKind::HighCardinality);
    let options = ReadOptions {
        high_cardinality_threshold: 1000,
        ..ReadOptions::default()
    };
    let dir = scratch();
    let content: String = std::iter::once("city\n".to_string())
        .chain(many.iter().map(|c| format!("{c}\n")))
        .collect();
    let table =
        mirage_data::read_table(&file(&dir, "cities.csv", content), &options).expect("reads");
    assert_eq!(kind(&table, "city"), ColumnKind::Categorical);
}

#[test]
fn every_datetime_format() {
    let cases: [(&[&str], &str); 13] = [
        (&["2020-01-31", "1999-12-01"], "%Y-%m-%d"),
        (
            &["2020-01-31 10:11:12", "1999-12-01 00:00:00"],
            "%Y-%m-%d %H:%M:%S",
        ),
        (
            &["2020-01-31 10:11:12.250", "1999-12-01 00:00:00"],
            "%Y-%m-%d %H:%M:%S%.f",
        ),
        (
            &["2020-01-31T10:11:12", "1999-12-01T00:00:00"],
            "%Y-%m-%dT%H:%M:%S",
        ),
        (
            &["2020-01-31T10:11:12.5", "1999-12-01T00:00:00"],
            "%Y-%m-%dT%H:%M:%S%.f",
        ),
        (
            &["2020-01-31T10:11:12Z", "1999-12-01T00:00:00Z"],
            "%Y-%m-%dT%H:%M:%SZ",
        ),
        (
            &["2020-01-31T10:11:12.123Z", "1999-12-01T00:00:00Z"],
            "%Y-%m-%dT%H:%M:%S%.fZ",
        ),
        (&["2020-01-31 10:11", "1999-12-01 00:00"], "%Y-%m-%d %H:%M"),
        (&["2020/01/31", "1999/12/01"], "%Y/%m/%d"),
        (&["31/01/2020", "01/12/1999"], "%d/%m/%Y"),
        (&["01/31/2020", "12/01/1999"], "%m/%d/%Y"),
        (&["31.01.2020", "01.12.1999"], "%d.%m.%Y"),
        (&["31-01-2020", "01-12-1999"], "%d-%m-%Y"),
    ];
    for (values, format) in cases {
        let table = column_table("when", values);
        assert_eq!(kind(&table, "when"), datetime(format), "{values:?}");
        let column = table.schema().require("when").expect("when");
        assert_eq!(column.physical, PhysicalType::TimestampMillis);
    }
}

#[test]
fn datetimes_become_epoch_milliseconds() {
    let table = column_table("when", &["1970-01-02", "1970-01-01"]);
    let array = table.column_by_name("when").expect("when");
    let millis: Vec<i64> = array
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec();
    assert_eq!(millis, vec![86_400_000, 0]);
}

#[test]
fn identifiers_by_name_or_by_shape() {
    let ids: Vec<String> = (100..130).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let table = column_table("customer_id", &refs);
    assert_eq!(kind(&table, "customer_id"), ColumnKind::Identifier);
    assert_eq!(
        table.schema().require("customer_id").expect("id").physical,
        PhysicalType::Int64
    );
    // Unique numbers without a key-like name are just integers.
    assert_eq!(kind_of("amount", &refs), ColumnKind::Integer);
    let codes: Vec<String> = (0..30).map(|i| format!("A{i:04}X")).collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let table = column_table("code", &refs);
    assert_eq!(kind(&table, "code"), ColumnKind::Identifier);
    assert_eq!(
        table.schema().require("code").expect("code").physical,
        PhysicalType::Utf8
    );
    // Too few rows to call unnamed unique words a key.
    assert_eq!(
        kind_of("code", &["a1", "b2", "c3"]),
        ColumnKind::Categorical
    );
    assert_eq!(kind_of("uuid", &["a1", "b2", "c3"]), ColumnKind::Identifier);
}

#[test]
fn text_is_long_or_spaced_and_mostly_unique() {
    let sentences: Vec<String> = (0..30)
        .map(|i| format!("Customer {i} wrote that the parcel arrived late again"))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    assert_eq!(kind_of("review", &refs), ColumnKind::Text);
    let short: Vec<String> = (0..30).map(|i| format!("note number {i}")).collect();
    let refs: Vec<&str> = short.iter().map(String::as_str).collect();
    assert_eq!(kind_of("note", &refs), ColumnKind::Text);
}

#[test]
fn constants_keep_their_storage() {
    let table = column_table("c", &["7", "7", "", "7"]);
    let column = table.schema().require("c").expect("c");
    assert_eq!(column.kind, ColumnKind::Constant);
    assert_eq!(column.physical, PhysicalType::Int64);
    assert!(column.nullable);
    assert_eq!(kind_of("s", &["same", "same"]), ColumnKind::Constant);
}

#[test]
fn nullable_follows_the_data() {
    let table = column_table("n", &["1", "2", "3"]);
    assert!(!table.schema().require("n").expect("n").nullable);
    let table = column_table("n", &["1", "NA", "3"]);
    let column = table.schema().require("n").expect("n");
    assert!(column.nullable);
    let values: Vec<Option<i64>> = table
        .column_by_name("n")
        .expect("n")
        .as_primitive::<Int64Type>()
        .iter()
        .collect();
    assert_eq!(values, vec![Some(1), None, Some(3)]);
}
