//! The public API on small tables whose scores are worked out by hand.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema, Table};
use mirage_quality::{
    DiagnosticCheckKind, PairMetric, QualityError, QualityOptions, QualityReport, ShapeMetric,
    SkipReason, evaluate,
};

const EPS: f64 = 1e-12;

/// A column for [`table`]: its schema and its values.
fn column(name: &str, kind: ColumnKind, values: ArrayRef) -> (ColumnSchema, ArrayRef) {
    let physical = PhysicalType::from_arrow(values.data_type()).expect("mirage type");
    (ColumnSchema::new(name, kind, physical), values)
}

fn table(columns: Vec<(ColumnSchema, ArrayRef)>) -> Table {
    let (schemas, arrays): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
    let schema = Schema::new(schemas).expect("schema");
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn ints(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn floats(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn labels(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn datetime() -> ColumnKind {
    ColumnKind::Datetime {
        format: "%Y-%m-%d".into(),
    }
}

fn shape_score(report: &QualityReport, column: &str) -> f64 {
    report
        .column_shapes
        .columns
        .iter()
        .find(|c| c.column == column)
        .map(|c| c.score)
        .expect("column scored")
}

fn check_score(report: &QualityReport, column: &str, check: DiagnosticCheckKind) -> f64 {
    report
        .diagnostic
        .checks
        .iter()
        .find(|c| c.column == column && c.check == check)
        .map(|c| c.score)
        .expect("check run")
}

/// Every kind Mirage scores, plus an identifier and free text.
fn mixed_table() -> Table {
    table(vec![
        column("id", ColumnKind::Identifier, ints(&[1, 2, 3, 4, 5])),
        column("age", ColumnKind::Integer, ints(&[30, 41, 25, 41, 60])),
        column(
            "score",
            ColumnKind::Float,
            floats(&[0.5, 1.5, -2.0, 3.25, 0.0]),
        ),
        column(
            "city",
            ColumnKind::Categorical,
            strings(&[Some("Oslo"), Some("Rome"), None, Some("Oslo"), Some("Lima")]),
        ),
        column(
            "member",
            ColumnKind::Boolean,
            Arc::new(BooleanArray::from(vec![true, false, true, true, false])),
        ),
        column(
            "joined",
            datetime(),
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_000),
                None,
                Some(86_400_000),
                Some(5_000),
                Some(2_000),
            ])),
        ),
        column(
            "country",
            ColumnKind::Constant,
            labels(&["NO", "NO", "NO", "NO", "NO"]),
        ),
        column(
            "note",
            ColumnKind::Text,
            labels(&["a b", "c d", "e f", "g h", "i j"]),
        ),
    ])
}

#[test]
fn identical_tables_score_one_everywhere() {
    let real = mixed_table();
    let report = evaluate(&real, &real.clone(), &QualityOptions::default()).expect("report");
    assert_eq!(report.column_shapes.columns.len(), 6);
    assert_eq!(report.column_pair_trends.pairs.len(), 15);
    assert!((report.overall - 1.0).abs() < EPS, "{}", report.overall);
    assert!((report.column_shapes.score - 1.0).abs() < EPS);
    assert!((report.column_pair_trends.score - 1.0).abs() < EPS);
    assert!((report.diagnostic.score - 1.0).abs() < EPS);
    assert_eq!((report.real_rows, report.synthetic_rows), (5, 5));
    // The constant is a category; numbers and datetimes are scored by KS.
    let metric = |name: &str| {
        report
            .column_shapes
            .columns
            .iter()
            .find(|c| c.column == name)
            .map(|c| c.metric)
    };
    assert_eq!(metric("country"), Some(ShapeMetric::TvComplement));
    assert_eq!(metric("joined"), Some(ShapeMetric::KsComplement));
    assert_eq!(metric("member"), Some(ShapeMetric::TvComplement));
}

#[test]
fn skipped_columns_say_why() {
    let real = mixed_table();
    let synthetic = table(vec![
        column("id", ColumnKind::Identifier, ints(&[1, 2, 3])),
        column("age", ColumnKind::Integer, ints(&[30, 41, 25])),
        column("note", ColumnKind::Text, labels(&["x y", "z w", "v u"])),
    ]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    let skipped: Vec<(&str, SkipReason)> = report
        .skipped
        .iter()
        .map(|s| (s.column.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("id", SkipReason::Identifier),
            ("score", SkipReason::MissingFromSynthetic),
            ("city", SkipReason::MissingFromSynthetic),
            ("member", SkipReason::MissingFromSynthetic),
            ("joined", SkipReason::MissingFromSynthetic),
            ("country", SkipReason::MissingFromSynthetic),
            ("note", SkipReason::Text),
        ]
    );
    // One scored column: no pairs, so overall is the shapes score.
    assert!(report.column_pair_trends.pairs.is_empty());
    assert_eq!(report.overall, report.column_shapes.score);
    // The identifier still gets its uniqueness check.
    assert_eq!(
        check_score(&report, "id", DiagnosticCheckKind::KeyUniqueness),
        1.0
    );
}

#[test]
fn known_ks_statistics() {
    let real = table(vec![
        column("x", ColumnKind::Float, floats(&[1.0, 2.0, 3.0, 4.0])),
        column("t", ColumnKind::Integer, ints(&[1, 1, 2, 2])),
    ]);
    // x: F_real − F_synth peaks at 2 with 0.5 − 0 → D = 0.5.
    // t: ties: F_real(1) = 0.5, F_synth(1) = 0.25, both 1 at 2 → D = 0.25.
    // The synthetic x is stored as integers: numeric types may differ.
    let synthetic = table(vec![
        column("x", ColumnKind::Integer, ints(&[3, 4, 5, 6])),
        column("t", ColumnKind::Integer, ints(&[2, 1, 2, 2])),
    ]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    assert!((shape_score(&report, "x") - 0.5).abs() < EPS);
    assert!((shape_score(&report, "t") - 0.75).abs() < EPS);
    assert!((report.column_shapes.score - 0.625).abs() < EPS);
    // BoundaryAdherence: 3 and 4 lie in [1, 4], 5 and 6 do not.
    assert!((check_score(&report, "x", DiagnosticCheckKind::BoundaryAdherence) - 0.5).abs() < EPS);
}

#[test]
fn known_total_variation_with_nulls_as_a_category() {
    let real = table(vec![
        column("c", ColumnKind::Categorical, labels(&["a", "a", "b", "b"])),
        column(
            "n",
            ColumnKind::Categorical,
            strings(&[Some("a"), None, None, Some("b")]),
        ),
    ]);
    let synthetic = table(vec![
        column("c", ColumnKind::Categorical, labels(&["a", "a", "a", "b"])),
        column(
            "n",
            ColumnKind::Categorical,
            strings(&[Some("a"), Some("a"), None, Some("b")]),
        ),
    ]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    // c: ½(|0.5 − 0.75| + |0.5 − 0.25|) = 0.25.
    assert!((shape_score(&report, "c") - 0.75).abs() < EPS);
    // n: a 0.25 → 0.5, null 0.5 → 0.25, b 0.25 → 0.25: TVD 0.25.
    assert!((shape_score(&report, "n") - 0.75).abs() < EPS);
    // Every synthetic category, null included, occurs in the real data.
    assert_eq!(
        check_score(&report, "n", DiagnosticCheckKind::CategoryAdherence),
        1.0
    );
}

#[test]
fn disjoint_categories_score_zero() {
    let real = table(vec![column(
        "c",
        ColumnKind::Categorical,
        labels(&["a", "b"]),
    )]);
    let synthetic = table(vec![column(
        "c",
        ColumnKind::Categorical,
        labels(&["x", "y", "y"]),
    )]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    assert_eq!(shape_score(&report, "c"), 0.0);
    assert_eq!(
        check_score(&report, "c", DiagnosticCheckKind::CategoryAdherence),
        0.0
    );
    assert_eq!(report.overall, 0.0);
}

#[test]
fn opposite_correlations_score_zero() {
    let real = table(vec![
        column("x", ColumnKind::Float, floats(&[1.0, 2.0, 3.0])),
        column("y", ColumnKind::Float, floats(&[10.0, 20.0, 30.0])),
    ]);
    let synthetic = table(vec![
        column("x", ColumnKind::Float, floats(&[1.0, 2.0, 3.0])),
        column("y", ColumnKind::Float, floats(&[30.0, 20.0, 10.0])),
    ]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    let pair = &report.column_pair_trends.pairs[0];
    assert_eq!(pair.metric, PairMetric::CorrelationSimilarity);
    assert_eq!((pair.column_a.as_str(), pair.column_b.as_str()), ("x", "y"));
    assert!((pair.real_correlation.expect("rho") - 1.0).abs() < EPS);
    assert!((pair.synthetic_correlation.expect("rho") + 1.0).abs() < EPS);
    assert!(pair.score.abs() < EPS);
    // Marginals are identical, so overall = (1 + 0) / 2.
    assert!((report.overall - 0.5).abs() < EPS);
}

#[test]
fn contingency_bins_numbers_over_the_real_range() {
    // 2 bins over the real [0, 10]: [0, 5) and [5, 10], the maximum 10 in the last bin.
    // Synthetic 12 is clipped to 10 (bin 2), -4 to 0 (bin 1).
    // real  cells: (1,a) (1,a) (2,b) (2,b)
    // synth cells: (2,b) (1,a) (2,a) (2,b)
    // TVD = ½(|0.5 − 0.25| + |0 − 0.25| + |0.5 − 0.5|) = 0.25.
    let real = table(vec![
        column("x", ColumnKind::Integer, ints(&[0, 4, 10, 6])),
        column("c", ColumnKind::Categorical, labels(&["a", "a", "b", "b"])),
    ]);
    let synthetic = table(vec![
        column("x", ColumnKind::Integer, ints(&[12, -4, 10, 5])),
        column("c", ColumnKind::Categorical, labels(&["b", "a", "a", "b"])),
    ]);
    let options = QualityOptions {
        bins: 2,
        ..QualityOptions::default()
    };
    let report = evaluate(&real, &synthetic, &options).expect("report");
    let pair = &report.column_pair_trends.pairs[0];
    assert_eq!(pair.metric, PairMetric::ContingencySimilarity);
    assert_eq!(pair.real_correlation, None);
    assert!((pair.score - 0.75).abs() < EPS, "{}", pair.score);
    // 12 and -4 lie outside [0, 10].
    assert!((check_score(&report, "x", DiagnosticCheckKind::BoundaryAdherence) - 0.5).abs() < EPS);
}

#[test]
fn key_uniqueness_covers_identifiers_and_the_primary_key() {
    let schema_columns = |ids: &[i64], codes: &[&str]| {
        vec![
            column("id", ColumnKind::Identifier, ints(ids)),
            column("code", ColumnKind::Categorical, labels(codes)),
            column("n", ColumnKind::Integer, ints(&[1, 2, 3, 4])),
        ]
    };
    let with_key = |columns: Vec<(ColumnSchema, ArrayRef)>| {
        let table = table(columns);
        let (mut schema, batches) = table.into_parts();
        schema.primary_key = Some("code".into());
        Table::new(schema, batches).expect("table")
    };
    let real = with_key(schema_columns(&[1, 2, 3, 4], &["a", "b", "c", "d"]));
    let synthetic = with_key(schema_columns(&[1, 1, 1, 2], &["a", "b", "b", "b"]));
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    // id: 2 distinct of 4; code: 2 distinct of 4.
    assert_eq!(
        check_score(&report, "id", DiagnosticCheckKind::KeyUniqueness),
        0.5
    );
    assert_eq!(
        check_score(&report, "code", DiagnosticCheckKind::KeyUniqueness),
        0.5
    );
}

#[test]
fn incompatible_types_name_the_column() {
    let real = table(vec![column("flag", ColumnKind::Boolean, ints(&[0, 1]))]);
    let synthetic = table(vec![column(
        "flag",
        ColumnKind::Boolean,
        labels(&["no", "yes"]),
    )]);
    let err = evaluate(&real, &synthetic, &QualityOptions::default()).expect_err("types");
    assert!(
        matches!(err, QualityError::IncompatibleColumn { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"flag\""), "{err}");

    let real = table(vec![column("n", ColumnKind::Float, floats(&[1.0]))]);
    let synthetic = table(vec![column("n", ColumnKind::Float, labels(&["1.0"]))]);
    let err = evaluate(&real, &synthetic, &QualityOptions::default()).expect_err("types");
    assert!(err.to_string().contains("\"n\""), "{err}");
}

#[test]
fn nothing_to_score_is_an_error() {
    let real = table(vec![column("note", ColumnKind::Text, labels(&["a b"]))]);
    let err = evaluate(&real, &real.clone(), &QualityOptions::default()).expect_err("empty");
    assert!(
        matches!(err, QualityError::NoComparableColumns { skipped: 1 }),
        "{err}"
    );
    let bad = QualityOptions {
        bins: 0,
        ..QualityOptions::default()
    };
    let table = mixed_table();
    assert!(matches!(
        evaluate(&table, &table, &bad),
        Err(QualityError::InvalidOptions { .. })
    ));
}

/// A table of `rows` rows with a weak x–y relation, from a tiny deterministic generator.
fn noisy_table(rows: usize, salt: u64) -> Table {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ salt;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1_000) as f64 / 1_000.0
    };
    let mut x = Vec::with_capacity(rows);
    let mut y = Vec::with_capacity(rows);
    let mut c = Vec::with_capacity(rows);
    for _ in 0..rows {
        let a = next();
        x.push(a);
        y.push(a + next());
        c.push(if next() < a { "hi" } else { "lo" });
    }
    table(vec![
        column("x", ColumnKind::Float, floats(&x)),
        column("y", ColumnKind::Float, floats(&y)),
        column("c", ColumnKind::Categorical, labels(&c)),
    ])
}

#[test]
fn subsampling_is_deterministic_per_seed() {
    let real = noisy_table(400, 1);
    let synthetic = noisy_table(300, 2);
    let options = |seed| QualityOptions {
        max_rows: 100,
        seed,
        ..QualityOptions::default()
    };
    let first = evaluate(&real, &synthetic, &options(3)).expect("report");
    let again = evaluate(&real, &synthetic, &options(3)).expect("report");
    assert_eq!(first, again);
    let other = evaluate(&real, &synthetic, &options(4)).expect("report");
    // Shapes use every row whatever the seed; trends see other rows.
    assert_eq!(first.column_shapes, other.column_shapes);
    assert_ne!(first.column_pair_trends, other.column_pair_trends);
    let whole = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    assert_ne!(first.column_pair_trends, whole.column_pair_trends);
    assert_eq!((first.real_rows, first.synthetic_rows), (400, 300));
}

#[test]
fn reports_round_trip_through_json_and_rank_worst_columns() {
    let real = noisy_table(200, 5);
    let synthetic = table(vec![
        column("x", ColumnKind::Float, floats(&[0.1, 0.2, 0.3])),
        column("y", ColumnKind::Float, floats(&[5.0, 6.0, 7.0])),
        column("c", ColumnKind::Categorical, labels(&["hi", "lo", "lo"])),
    ]);
    let report = evaluate(&real, &synthetic, &QualityOptions::default()).expect("report");
    let worst = report.worst_columns(2);
    assert_eq!(worst.len(), 2);
    // y is entirely outside the real range: D = 1.
    assert_eq!(worst[0].column, "y");
    assert_eq!(worst[0].score, 0.0);
    assert!(worst[0].score <= worst[1].score);
    let back = QualityReport::from_json(&report.to_json_pretty()).expect("json");
    assert_eq!(back, report);
}
