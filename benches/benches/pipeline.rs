//! The foundation pipeline on the Adult census data (32,561 rows × 15 columns):
//! read + profile, GaussianCopula fit, sampling 100,000 rows, and the quality report.
//!
//! Run with `cargo bench -p mirage-benches --bench pipeline`. Targets (release, 2 cores):
//! read + profile < 0.5 s, fit < 0.5 s, sample 100k < 0.5 s, quality report < 2 s.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mirage_core::records::ModelKind;
use mirage_data::{ProfileOptions, ReadOptions, profile_table, read_table};
use mirage_models::{FitContext, SampleRequest, fit, sample_all};
use mirage_quality::{QualityOptions, evaluate};

/// The committed demo file, decompressed once into the temporary directory so that the
/// benchmark measures CSV reading, not gzip.
fn adult_csv() -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/adult.csv.gz");
    let target = std::env::temp_dir().join("mirage-bench-adult.csv");
    if !target.exists() {
        let file = std::fs::File::open(&source).expect("the demo dataset is committed");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut text)
            .expect("valid gzip");
        std::fs::write(&target, text).expect("temp dir is writable");
    }
    target
}

fn pipeline(c: &mut Criterion) {
    let path = adult_csv();
    let mut group = c.benchmark_group("adult");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));

    group.bench_function("read_and_profile", |b| {
        b.iter(|| {
            let table = read_table(&path, &ReadOptions::default()).expect("reads");
            profile_table(&table, &ProfileOptions::default()).expect("profiles")
        })
    });

    let table = read_table(&path, &ReadOptions::default()).expect("reads");
    group.bench_function("gaussian_copula_fit", |b| {
        b.iter(|| {
            fit(
                ModelKind::GaussianCopula,
                &table,
                &serde_json::Value::Null,
                &mut FitContext::default(),
            )
            .expect("fits")
        })
    });

    let model = fit(
        ModelKind::GaussianCopula,
        &table,
        &serde_json::Value::Null,
        &mut FitContext::default(),
    )
    .expect("fits");
    group.bench_function("sample_100k", |b| {
        b.iter(|| sample_all(model.as_ref(), &SampleRequest::new(100_000, 7)).expect("samples"))
    });

    let synthetic = mirage_core::Table::new(
        model.schema().clone(),
        sample_all(model.as_ref(), &SampleRequest::new(table.num_rows(), 7)).expect("samples"),
    )
    .expect("table");
    group.bench_function("quality_report", |b| {
        b.iter(|| evaluate(&table, &synthetic, &QualityOptions::default()).expect("scores"))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
