//! The full assessment on Adult (issue 3's budget: under 15 s on this machine): fidelity,
//! plots, detection, utility (target `income`) and privacy, with a GaussianCopula's output
//! as the synthetic table. Train 26,049 rows, holdout 6,512, synthetic 26,049.
//!
//! Run with `cargo bench -p mirage-benches --bench assessment`. The exact nearest-neighbour
//! engine's 100k × 100k × 15 figure comes from
//! `cargo run --release -p mirage-quality --example knn_bench`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_data::{ReadOptions, read_table};
use mirage_models::{FitContext, SampleRequest, fit, sample_all};
use mirage_quality::{AssessmentOptions, assess};

fn adult_split() -> (Table, Table) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/adult.csv.gz");
    let table = read_table(&path, &ReadOptions::default()).expect("the demo dataset reads");
    // A fixed interleaving: every fifth row is held out (6,512 of 32,561).
    let (mut train, mut holdout) = (Vec::new(), Vec::new());
    for row in 0..table.num_rows() as u32 {
        if row % 5 == 4 {
            holdout.push(row)
        } else {
            train.push(row)
        }
    }
    (
        table.take_rows(&train).expect("rows"),
        table.take_rows(&holdout).expect("rows"),
    )
}

fn assessment(c: &mut Criterion) {
    let (train, holdout) = adult_split();
    let model = fit(
        ModelKind::GaussianCopula,
        &train,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fits");
    let synthetic = Table::new(
        model.schema().clone(),
        sample_all(model.as_ref(), &SampleRequest::new(train.num_rows(), 1)).expect("samples"),
    )
    .expect("table");
    let options = AssessmentOptions {
        target: Some("income".into()),
        ..AssessmentOptions::default()
    };
    let mut group = c.benchmark_group("adult");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("full_assessment", |b| {
        b.iter(|| assess(&train, Some(&holdout), &synthetic, &options).expect("assesses"))
    });
    group.finish();
}

criterion_group!(benches, assessment);
criterion_main!(benches);
