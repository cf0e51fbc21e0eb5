//! The Adult census table (32,561 rows × 15 columns, 105 pairs): scores a known distortion
//! of it against SDMetrics' figures for the same tables, and checks the time budget.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema, Table};
use mirage_quality::{PairMetric, QualityOptions, evaluate};

const NUMERIC: [&str; 6] = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
];

/// The header and the rows of `data/adult.csv.gz` (no quoted fields in it).
fn adult_rows() -> (Vec<String>, Vec<Vec<String>>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/adult.csv.gz");
    let file = std::fs::File::open(path).expect("data/adult.csv.gz in the repository");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gzip csv");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect();
    (header, rows)
}

/// A table of the given rows, where `cell(column, row)` picks each value.
fn build(header: &[String], rows: usize, cell: impl Fn(usize, usize) -> String) -> Table {
    let mut schemas = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (c, name) in header.iter().enumerate() {
        if NUMERIC.contains(&name.as_str()) {
            schemas.push(ColumnSchema::new(
                name,
                ColumnKind::Integer,
                PhysicalType::Int64,
            ));
            let values: Vec<i64> = (0..rows)
                .map(|r| cell(c, r).parse().expect("integer"))
                .collect();
            arrays.push(Arc::new(Int64Array::from(values)));
        } else {
            schemas.push(ColumnSchema::new(
                name,
                ColumnKind::Categorical,
                PhysicalType::Utf8,
            ));
            let values: Vec<String> = (0..rows).map(|r| cell(c, r)).collect();
            arrays.push(Arc::new(StringArray::from(values)));
        }
    }
    let schema = Schema::new(schemas).expect("schema");
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

#[test]
fn adult_scores_a_known_distortion_in_time() {
    let (header, rows) = adult_rows();
    let n = rows.len();
    assert_eq!((n, header.len()), (32_561, 15));
    let real = build(&header, n, |c, r| rows[r][c].clone());
    // Column c of synthetic row r is real row (r + 1009·c) mod n: every column keeps its
    // values but the rows no longer line up. Numbers then move by (r mod 5) − 2 and every
    // tenth categorical value becomes "Other". Only 32,000 rows.
    let synthetic_rows = 32_000;
    let synthetic = build(&header, synthetic_rows, |c, r| {
        let value = &rows[(r + 1009 * c) % n][c];
        if NUMERIC.contains(&header[c].as_str()) {
            let v: i64 = value.parse().expect("integer");
            (v + (r % 5) as i64 - 2).to_string()
        } else if r % 10 == 0 {
            "Other".to_string()
        } else {
            value.clone()
        }
    });

    let started = Instant::now();
    let identical = evaluate(&real, &real, &QualityOptions::default()).expect("report");
    let identical_time = started.elapsed();
    let started = Instant::now();
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    let elapsed = started.elapsed();
    println!(
        "adult: identical in {identical_time:?}, distorted in {elapsed:?}: overall {:.6}, \
         shapes {:.6}, trends {:.6}, diagnostic {:.6}",
        report.overall,
        report.column_shapes.score,
        report.column_pair_trends.score,
        report.diagnostic.score
    );

    assert!((identical.overall - 1.0).abs() < 1e-12);
    assert!((identical.diagnostic.score - 1.0).abs() < 1e-12);
    assert_eq!(report.column_shapes.columns.len(), 15);
    assert_eq!(report.column_pair_trends.pairs.len(), 105);
    let correlations = report
        .column_pair_trends
        .pairs
        .iter()
        .filter(|p| p.metric == PairMetric::CorrelationSimilarity)
        .count();
    assert_eq!(correlations, 15, "6 numeric columns make 15 numeric pairs");
    // Every tenth categorical value is new: TVD ≥ 0.1 and CategoryAdherence = 0.9.
    for column in &report.column_shapes.columns {
        assert!(column.score > 0.5 && column.score < 1.0, "{column:?}");
    }
    for check in &report.diagnostic.checks {
        assert!(check.score > 0.5 && check.score <= 1.0, "{check:?}");
    }
    // Rolling the columns apart destroys the real relations (e.g. education ↔ education-num).
    assert!(report.column_pair_trends.score < 0.95);
    assert!(report.overall > 0.5 && report.overall < 1.0);
    if !cfg!(debug_assertions) {
        assert!(elapsed.as_secs_f64() < 2.0, "took {elapsed:?}");
    }

    // Reference figures from SDMetrics 0.32 on the same two tables: KSComplement and
    // TVComplement per column, CorrelationSimilarity, and ContingencySimilarity with
    // `continuous_column_names` (bins over the real range). TVComplement there gives a
    // synthetic-only category a 1e-6 pseudo-count, hence the looser tolerance on shapes.
    assert!((report.column_shapes.score - 0.866_387_749_420_059_5).abs() < 1e-9);
    assert!((report.column_pair_trends.score - 0.833_508_979_978_475_5).abs() < 1e-12);
    let pair = |a: &str, b: &str| {
        report
            .column_pair_trends
            .pairs
            .iter()
            .find(|p| p.column_a == a && p.column_b == b)
            .map(|p| p.score)
            .expect("pair scored")
    };
    assert!((pair("age", "fnlwgt") - 0.956_303_007_334_030_2).abs() < 1e-12);
    assert!((pair("education-num", "income") - 0.660_470_132_021_436_7).abs() < 1e-12);
    let shape = |name: &str| {
        report
            .column_shapes
            .columns
            .iter()
            .find(|c| c.column == name)
            .map(|c| c.score)
            .expect("column scored")
    };
    assert!((shape("fnlwgt") - 0.999_399_798_647_154_6).abs() < 1e-12);
    assert!((shape("workclass") - 0.899_996_231_143_078_6).abs() < 1e-5);
}
