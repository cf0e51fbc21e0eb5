//! Schema files in TOML and JSON change kinds, formats, PII policies and the key.

use arrow::array::AsArray;
use arrow::datatypes::TimestampMillisecondType;
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, PiiKind, PiiPolicy};
use mirage_data::{ReadOptions, SchemaOverrides, read_table};

use crate::{file, kind, scratch};

const DATA: &str = "id,zip,signup,email,score\n\
1,02134,01/02/2020,ann@example.com,3\n\
2,10001,02/02/2020,bob@example.org,4\n\
3,02134,03/02/2020,cy@example.net,5\n\
4,94105,04/02/2020,dee@example.com,3\n";

fn read_with(schema_name: &str, schema: &str) -> mirage_core::Table {
    let dir = scratch();
    let data = file(&dir, "data.csv", DATA);
    let schema = file(&dir, schema_name, schema);
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema file")),
        ..ReadOptions::default()
    };
    read_table(&data, &options).expect("reads")
}

fn check(table: &mirage_core::Table) {
    assert_eq!(table.schema().primary_key.as_deref(), Some("id"));
    assert_eq!(kind(table, "zip"), ColumnKind::Categorical);
    assert_eq!(
        kind(table, "signup"),
        ColumnKind::Datetime {
            format: "%m/%d/%Y".into()
        }
    );
    let signup = table.column_by_name("signup").expect("signup");
    let day = 86_400_000;
    let first = signup.as_primitive::<TimestampMillisecondType>().value(0);
    assert_eq!(
        signup.as_primitive::<TimestampMillisecondType>().value(1) - first,
        31 * day
    );
    assert_eq!(kind(table, "score"), ColumnKind::Float);
    assert_eq!(
        table.schema().require("score").expect("score").physical,
        PhysicalType::Float64
    );
    let email = table.schema().require("email").expect("email");
    assert_eq!(email.pii.map(|f| f.kind), Some(PiiKind::Email));
    assert_eq!(email.pii_policy, PiiPolicy::Keep);
    assert!(email.is_modelled());
}

#[test]
fn toml_overrides_apply() {
    check(&read_with(
        "schema.toml",
        r#"
primary_key = "id"
[columns.zip]
kind = "categorical"
[columns.signup]
kind = "datetime"
format = "%m/%d/%Y"
[columns.email]
pii = "keep"
[columns.score]
kind = "float"
"#,
    ));
}

#[test]
fn json_overrides_apply() {
    check(&read_with(
        "schema.json",
        r#"{
  "primary_key": "id",
  "columns": {
    "zip": {"kind": "categorical"},
    "signup": {"kind": "datetime", "format": "%m/%d/%Y"},
    "email": {"pii": "keep"},
    "score": {"kind": "float"}
  }
}"#,
    ));
}

#[test]
fn without_overrides_inference_decides() {
    let dir = scratch();
    let table = mirage_data::read_table(&file(&dir, "data.csv", DATA), &ReadOptions::default())
        .expect("reads");
    // Day-first wins when both orders parse every value.
    assert_eq!(
        kind(&table, "signup"),
        ColumnKind::Datetime {
            format: "%d/%m/%Y".into()
        }
    );
    assert_eq!(kind(&table, "score"), ColumnKind::Integer);
    let email = table.schema().require("email").expect("email");
    assert_eq!(email.pii.map(|f| f.kind), Some(PiiKind::Email));
    assert_eq!(email.pii_policy, PiiPolicy::Exclude);
    assert!(!email.is_modelled());
}

#[test]
fn overrides_can_mark_and_fake_a_column() {
    let table = read_with(
        "schema.toml",
        "[columns.zip]\nkind = \"categorical\"\npii = \"fake\"\npii_kind = \"street_address\"\n",
    );
    let zip = table.schema().require("zip").expect("zip");
    assert_eq!(zip.pii.map(|f| f.kind), Some(PiiKind::StreetAddress));
    assert_eq!(zip.pii_policy, PiiPolicy::Fake);
}

#[test]
fn a_datetime_kind_without_a_format_keeps_the_inferred_one() {
    let table = read_with("schema.toml", "[columns.signup]\nkind = \"datetime\"\n");
    assert_eq!(
        kind(&table, "signup"),
        ColumnKind::Datetime {
            format: "%d/%m/%Y".into()
        }
    );
}
