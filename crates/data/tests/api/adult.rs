//! The Adult census file reads with no configuration.

use std::path::Path;
use std::time::Instant;

use arrow::array::AsArray;
use mirage_core::ColumnKind;
use mirage_core::schema::PhysicalType;
use mirage_data::{ProfileOptions, ReadOptions, profile_table, read_table};

use crate::{kind, read};

const ADULT: &str = "/work/shared/datasets/adult.csv";
const ADULT_GZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/adult.csv.gz");

const INTEGERS: [&str; 6] = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
];
const CATEGORICALS: [&str; 9] = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
    "income",
];

fn check_adult(table: &mirage_core::Table) {
    assert_eq!(table.num_rows(), 32_561);
    assert_eq!(table.schema().len(), 15);
    for name in INTEGERS {
        assert_eq!(kind(table, name), ColumnKind::Integer, "{name}");
        assert_eq!(
            table.schema().require(name).expect("column").physical,
            PhysicalType::Int64
        );
    }
    for name in CATEGORICALS {
        assert_eq!(kind(table, name), ColumnKind::Categorical, "{name}");
    }
    let profile = profile_table(table, &ProfileOptions::default()).expect("profile");
    for (name, nulls) in [
        ("workclass", 1_836),
        ("occupation", 1_843),
        ("native-country", 583),
    ] {
        assert!(
            table.schema().require(name).expect("column").nullable,
            "{name}"
        );
        assert_eq!(
            profile.column(name).expect("profiled").null_count,
            nulls,
            "{name}"
        );
    }
    assert!(!table.schema().require("age").expect("age").nullable);
    let workclass = table.column_by_name("workclass").expect("workclass");
    assert_eq!(workclass.as_string::<i32>().value(0), "State-gov");
    let income = profile.column("income").expect("income");
    let labels: Vec<&str> = income.top_values.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(labels, vec!["<=50K", ">50K"]);
    for column in &table.schema().columns {
        assert_eq!(column.pii, None, "{} flagged", column.name);
    }
    for column in &profile.columns {
        assert!(
            column.pii.is_empty(),
            "{} has findings {:?}",
            column.name,
            column.pii
        );
    }
}

#[test]
fn adult_reads_with_the_right_types_nulls_and_no_pii() {
    check_adult(&read(Path::new(ADULT)));
}

#[test]
fn adult_reads_from_gzip() {
    check_adult(&read(Path::new(ADULT_GZ)));
}

#[test]
fn adult_profile_matches_known_figures() {
    let table = read(Path::new(ADULT));
    let profile = profile_table(&table, &ProfileOptions::default()).expect("profile");
    let age = profile.column("age").expect("age");
    assert_eq!(age.min, Some(17.0));
    assert_eq!(age.max, Some(90.0));
    // Published figure for the Adult training set: mean age 38.58, std 13.64.
    assert!(
        (age.mean.expect("mean") - 38.5816).abs() < 1e-3,
        "{:?}",
        age.mean
    );
    assert!(
        (age.std.expect("std") - 13.6404).abs() < 1e-3,
        "{:?}",
        age.std
    );
    let sex = profile.column("sex").expect("sex");
    assert_eq!(sex.top_values[0].value, "Male");
    assert_eq!(sex.top_values[0].count, 21_790);
}

#[test]
fn adult_reads_and_profiles_quickly() {
    let started = Instant::now();
    let table = read_table(Path::new(ADULT), &ReadOptions::default()).expect("reads");
    profile_table(&table, &ProfileOptions::default()).expect("profiles");
    let elapsed = started.elapsed();
    // The target is well under 0.5 s in release; debug builds get slack.
    let limit = if cfg!(debug_assertions) { 5.0 } else { 0.5 };
    assert!(elapsed.as_secs_f64() < limit, "took {elapsed:?}");
}
