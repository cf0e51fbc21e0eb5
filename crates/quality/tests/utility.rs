//! Utility and detection through the public API: Adult with a Gaussian copula's output, the
//! two detection extremes, small constructed tables with known answers, and the errors.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use mirage_core::records::ModelKind;
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema, Table};
use mirage_models::{FitContext, SampleRequest};
use mirage_quality::utility::{UtilityMetric, UtilityModel};
use mirage_quality::{
    DetectionOptions, QualityError, Task, UtilityOptions, UtilityReport, detection,
    evaluate_utility,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn read_adult() -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    mirage_data::read_table(&path, &mirage_data::ReadOptions::default()).expect("adult")
}

/// A table of the rows of `table` listed in `rows`.
fn rows_of(table: &Table, rows: &[usize]) -> Table {
    let batch = table.to_single_batch().expect("one batch");
    let indices = UInt32Array::from(rows.iter().map(|&r| r as u32).collect::<Vec<u32>>());
    let batch = arrow::compute::take_record_batch(&batch, &indices).expect("take");
    Table::new(table.schema().clone(), vec![batch]).expect("table")
}

/// Adult shuffled (seed 11) and cut in two halves.
fn adult_halves() -> (Table, Table) {
    let adult = read_adult();
    let mut rows: Vec<usize> = (0..adult.num_rows()).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(11));
    let (first, second) = rows.split_at(rows.len() / 2);
    (rows_of(&adult, first), rows_of(&adult, second))
}

fn gaussian_copula_sample(train: &Table, rows: usize) -> Table {
    let model = mirage_models::fit(
        ModelKind::GaussianCopula,
        train,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fit");
    let batches =
        mirage_models::sample_all(model.as_ref(), &SampleRequest::new(rows, 7)).expect("sample");
    Table::new(model.schema().clone(), batches).expect("synthetic table")
}

fn print_report(report: &UtilityReport) {
    for model in &report.models {
        for m in &model.metrics {
            println!(
                "{:<20} {:<8?} real {:.4} synthetic {:.4} ratio {:?}",
                model.model.to_string(),
                m.metric,
                m.real,
                m.synthetic,
                m.ratio
            );
        }
    }
    println!(
        "importance spearman {:?}, top {:?}",
        report.feature_importance.spearman,
        &report.feature_importance.features[..3]
    );
}

#[test]
fn adult_income_trtr_tstr_and_detection() {
    let (train, holdout) = adult_halves();
    let synthetic = gaussian_copula_sample(&train, train.num_rows());

    let started = Instant::now();
    let report = evaluate_utility(&train, &holdout, &synthetic, &UtilityOptions::new("income"))
        .expect("utility");
    let utility_time = started.elapsed();
    print_report(&report);

    assert_eq!(report.task, Task::Classification);
    assert_eq!(report.classes.len(), 2);
    assert_eq!(report.features.len(), 14);
    assert_eq!(report.rows.holdout, holdout.num_rows());
    let gbdt = report.primary().expect("gbdt roc-auc");
    assert!(gbdt.real >= 0.85, "TRTR ROC-AUC {}", gbdt.real);
    assert!(gbdt.synthetic > 0.6, "TSTR ROC-AUC {}", gbdt.synthetic);
    for model in &report.models {
        for m in &model.metrics {
            let ratio = m.ratio.expect("ratio");
            assert!(
                ratio > 0.0 && ratio <= 1.1,
                "{} {:?} ratio {ratio}",
                model.model,
                m.metric
            );
        }
    }
    let logistic = report
        .model(UtilityModel::LogisticRegression)
        .expect("logistic");
    let logistic_auc = logistic.metric(UtilityMetric::RocAuc).expect("auc");
    assert!(
        logistic_auc.real > 0.85,
        "logistic TRTR ROC-AUC {}",
        logistic_auc.real
    );
    let importance = &report.feature_importance;
    assert_eq!(importance.features.len(), 14);
    let shares: f64 = importance.features.iter().map(|f| f.real).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    assert!(
        importance
            .spearman
            .is_some_and(|rho| (-1.0..=1.0).contains(&rho))
    );

    let json = serde_json::to_string(&report).expect("json");
    let back: UtilityReport = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, report);

    let started = Instant::now();
    let detected = detection(&train, &synthetic, &DetectionOptions::default()).expect("detection");
    let detection_time = started.elapsed();
    println!(
        "copula detection auc {:.4} folds {:?}; utility {utility_time:?}, detection {detection_time:?}",
        detected.auc, detected.fold_aucs
    );
    assert_eq!(detected.fold_aucs.len(), 5);
    assert!(
        detected.auc > 0.6,
        "a Gaussian copula is detectable: {}",
        detected.auc
    );
}

#[test]
fn detection_cannot_tell_real_halves_apart() {
    let (first, second) = adult_halves();
    let report = detection(&first, &second, &DetectionOptions::default()).expect("detection");
    println!(
        "real vs real: auc {:.4} folds {:?}",
        report.auc, report.fold_aucs
    );
    assert!((report.auc - 0.5).abs() < 0.05, "AUC {}", report.auc);
    assert!(report.score > 0.9, "score {}", report.score);
    assert_eq!(report.real_rows, first.num_rows());
    assert_eq!(report.synthetic_rows, second.num_rows());
}

#[test]
fn detection_spots_a_column_collapsed_to_a_constant() {
    let (real, other) = adult_halves();
    // The other half of the real rows, with age set to 40 in every row.
    let batch = other.to_single_batch().expect("batch");
    let index = other.schema().index_of("age").expect("age");
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(Int64Array::from(vec![40; batch.num_rows()])) as ArrayRef;
    let batch = RecordBatch::try_new(batch.schema(), columns).expect("batch");
    let synthetic = Table::new(other.schema().clone(), vec![batch]).expect("table");
    let options = DetectionOptions {
        max_rows: 5_000,
        ..DetectionOptions::default()
    };
    let report = detection(&real, &synthetic, &options).expect("detection");
    println!("constant age: auc {:.4}", report.auc);
    assert!(report.auc > 0.95, "AUC {}", report.auc);
    assert!(report.score < 0.1, "score {}", report.score);
    assert_eq!(report.real_rows, 5_000);
}

/// A small table: `x` (float), `group` (labels a/b/c), and `label` = "yes" when x > 5.
fn small_table(rows: usize, seed: u64) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..rows).map(|_| rng.random_range(0.0..10.0)).collect();
    let group: Vec<&str> = (0..rows).map(|i| ["a", "b", "c"][i % 3]).collect();
    let label: Vec<&str> = x
        .iter()
        .map(|&v| if v > 5.0 { "yes" } else { "no" })
        .collect();
    let y: Vec<f64> = x.iter().map(|&v| 2.0 * v + 1.0).collect();
    let schema = Schema::new(vec![
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("group", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("label", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("y", ColumnKind::Float, PhysicalType::Float64),
    ])
    .expect("schema");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(StringArray::from(group)),
        Arc::new(StringArray::from(label)),
        Arc::new(Float64Array::from(y)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), columns).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

#[test]
fn a_copy_of_the_training_rows_matches_trtr_exactly() {
    let train = small_table(400, 1);
    let holdout = small_table(200, 2);
    let report =
        evaluate_utility(&train, &holdout, &train, &UtilityOptions::new("label")).expect("utility");
    assert_eq!(report.classes, vec!["no".to_string(), "yes".to_string()]);
    for model in &report.models {
        for m in &model.metrics {
            assert_eq!(m.real, m.synthetic, "{:?}", m.metric);
            assert_eq!(m.ratio, Some(1.0));
        }
    }
    assert_eq!(report.feature_importance.spearman, Some(1.0));
    // x decides the label, so it carries the gain (y = 2x + 1 is as good: one of the two).
    let top = &report.feature_importance.features[0].feature;
    assert!(top == "x" || top == "y", "{top}");
    let accuracy = report.primary().map(|m| m.real).expect("roc-auc");
    assert!(accuracy > 0.99, "{accuracy}");
}

#[test]
fn a_float_target_is_regressed() {
    let train = small_table(400, 3);
    let holdout = small_table(200, 4);
    let report =
        evaluate_utility(&train, &holdout, &train, &UtilityOptions::new("y")).expect("utility");
    assert_eq!(report.task, Task::Regression);
    assert!(report.classes.is_empty());
    let linear = report
        .model(UtilityModel::LinearRegression)
        .expect("linear");
    // y = 2x + 1 exactly: the ridge line is all but perfect.
    let r2 = linear.metric(UtilityMetric::RSquared).expect("r2");
    assert!(r2.real > 0.999, "{}", r2.real);
    let mae = linear
        .metric(UtilityMetric::MeanAbsoluteError)
        .expect("mae");
    assert!(mae.real < 0.05, "{}", mae.real);
    let gbdt = report.primary().expect("gbdt r2");
    assert!(gbdt.real > 0.95, "{}", gbdt.real);
}

#[test]
fn a_small_integer_target_is_classified_with_three_classes() {
    // `band` = ⌊x / 3.4⌋ ∈ {0, 1, 2}: an integer with three values, so a classification.
    let with_band = |table: Table| {
        let batch = table.to_single_batch().expect("batch");
        let x = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("x")
            .clone();
        let band: Vec<i64> = x
            .values()
            .iter()
            .map(|v| (v / 3.4).floor() as i64)
            .collect();
        let mut columns = vec![ColumnSchema::new(
            "band",
            ColumnKind::Integer,
            PhysicalType::Int64,
        )];
        columns.extend(table.schema().columns.iter().cloned());
        let schema = Schema::new(columns).expect("schema");
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(band))];
        arrays.extend(batch.columns().iter().cloned());
        let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
        Table::new(schema, vec![batch]).expect("table")
    };
    let train = with_band(small_table(900, 7));
    let holdout = with_band(small_table(300, 8));
    let report =
        evaluate_utility(&train, &holdout, &train, &UtilityOptions::new("band")).expect("utility");
    assert_eq!(report.task, Task::Classification);
    assert_eq!(report.classes, vec!["0", "1", "2"]);
    let gbdt = report.model(UtilityModel::GradientBoosting).expect("gbdt");
    let accuracy = gbdt.metric(UtilityMetric::Accuracy).expect("accuracy");
    assert!(accuracy.real > 0.95, "{}", accuracy.real);
    let auc = gbdt.metric(UtilityMetric::RocAuc).expect("auc");
    assert!(auc.real > 0.98, "{}", auc.real);
    let logistic = report
        .model(UtilityModel::LogisticRegression)
        .expect("logistic");
    assert_eq!(logistic.metrics.len(), 3);
}

fn utility_error(train: &Table, holdout: &Table, synthetic: &Table, target: &str) -> String {
    let err = evaluate_utility(train, holdout, synthetic, &UtilityOptions::new(target))
        .expect_err("an error");
    assert!(matches!(err, QualityError::Utility(_)), "{err:?}");
    err.to_string()
}

#[test]
fn errors_name_the_column_and_the_table() {
    let train = small_table(60, 5);
    let holdout = small_table(60, 6);

    let message = utility_error(&train, &holdout, &train, "salary");
    assert!(
        message.contains("\"salary\"") && message.contains("real training"),
        "{message}"
    );

    let without_label = {
        let batch = train.to_single_batch().expect("batch");
        let keep = [0usize, 1, 3];
        let schema = train.schema().project(&["x", "group", "y"]);
        let batch = batch.project(&keep).expect("project");
        Table::new(schema, vec![batch]).expect("table")
    };
    let message = utility_error(&train, &holdout, &without_label, "label");
    assert!(
        message.contains("\"label\"") && message.contains("synthetic"),
        "{message}"
    );

    // Every holdout row has x ≤ 5: one class.
    let low: Vec<usize> = {
        let batch = holdout.to_single_batch().expect("batch");
        let x = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("x")
            .clone();
        (0..x.len()).filter(|&r| x.value(r) <= 5.0).collect()
    };
    let one_class = rows_of(&holdout, &low);
    let message = utility_error(&train, &one_class, &train, "label");
    assert!(
        message.contains("one class (\"no\")") && message.contains("holdout"),
        "{message}"
    );

    let empty = rows_of(&holdout, &[]);
    let message = utility_error(&train, &empty, &train, "label");
    assert!(message.contains("holdout table has no rows"), "{message}");
    let message = utility_error(&train, &holdout, &empty, "label");
    assert!(message.contains("synthetic table has no rows"), "{message}");

    let err = detection(&train, &empty, &DetectionOptions::default()).expect_err("empty");
    assert!(
        err.to_string().contains("synthetic table has no rows"),
        "{err}"
    );
    let err = detection(&empty, &train, &DetectionOptions::default()).expect_err("empty");
    assert!(err.to_string().contains("real table has no rows"), "{err}");

    let options = UtilityOptions {
        task: Some(Task::Regression),
        ..UtilityOptions::new("label")
    };
    let err = evaluate_utility(&train, &holdout, &train, &options).expect_err("labels");
    assert!(
        err.to_string().contains("set the task to classification"),
        "{err}"
    );

    let err = evaluate_utility(&train, &holdout, &train, &UtilityOptions::default())
        .expect_err("no target");
    assert!(err.to_string().contains("option target"), "{err}");
    let options = DetectionOptions {
        folds: 1,
        ..DetectionOptions::default()
    };
    let err = detection(&train, &holdout, &options).expect_err("one fold");
    assert!(err.to_string().contains("option folds"), "{err}");
}
