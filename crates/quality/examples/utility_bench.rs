//! Times utility and detection on Adult: `cargo run --release -p mirage-quality --example
//! utility_bench`. Trains a Gaussian copula on half of Adult, then times
//! `evaluate_utility` (target `income`) and `detection` on the full-size inputs.

use std::path::Path;
use std::time::Instant;

use arrow::array::UInt32Array;
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_models::{FitContext, SampleRequest};
use mirage_quality::{DetectionOptions, UtilityOptions, detection, evaluate_utility};

fn rows_of(table: &Table, rows: impl Iterator<Item = usize>) -> Table {
    let batch = table.to_single_batch().expect("one batch");
    let indices = UInt32Array::from(rows.map(|r| r as u32).collect::<Vec<u32>>());
    let batch = arrow::compute::take_record_batch(&batch, &indices).expect("take");
    Table::new(table.schema().clone(), vec![batch]).expect("table")
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult =
        mirage_data::read_table(&path, &mirage_data::ReadOptions::default()).expect("adult");
    let n = adult.num_rows();
    // Even rows train, odd rows hold out.
    let train = rows_of(&adult, (0..n).step_by(2));
    let holdout = rows_of(&adult, (1..n).step_by(2));
    let model = mirage_models::fit(
        ModelKind::GaussianCopula,
        &train,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fit");
    let batches =
        mirage_models::sample_all(model.as_ref(), &SampleRequest::new(n, 1)).expect("sample");
    let synthetic = Table::new(model.schema().clone(), batches).expect("synthetic");

    let started = Instant::now();
    let report = evaluate_utility(&train, &holdout, &synthetic, &UtilityOptions::new("income"))
        .expect("utility");
    let utility = started.elapsed();
    let started = Instant::now();
    let detected = detection(&adult, &synthetic, &DetectionOptions::default()).expect("detection");
    let detection_time = started.elapsed();
    let auc = report.primary().expect("roc-auc");
    println!(
        "utility: {} train, {} synthetic, {} holdout rows; GBDT ROC-AUC real {:.4} synthetic {:.4} \
         in {utility:.2?}",
        report.rows.train_real, report.rows.synthetic, report.rows.holdout, auc.real, auc.synthetic
    );
    println!(
        "detection: {} real and {} synthetic rows, AUC {:.4} in {detection_time:.2?}",
        detected.real_rows, detected.synthetic_rows, detected.auc
    );
}
