//! The deep models on the Adult census data (32,561 rows × 15 columns): the data
//! transformer's fit + transform, and one training epoch (batch 500, the models'
//! defaults) of each deep model this build has.
//!
//! Run with `cargo bench -p mirage-benches --bench deep_models`. An epoch's time is the
//! training loop's own clock (the transformer's fit and the encoding are not counted),
//! read from the fitted model's training record. Targets (issue 5, release, 2 cores):
//! transformer < 1.5 s; per epoch no slower than the PyTorch reference (CTGAN 3.1 s,
//! TVAE 0.50 s), aiming at half of it.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_data::{ReadOptions, read_table};
use mirage_models::transformer::{DataTransformer, TransformerOptions};
use mirage_models::{FitContext, available_models, fit};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn adult() -> Table {
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
    read_table(&target, &ReadOptions::default()).expect("reads")
}

/// Seconds of training per epoch of one fit of `epochs` epochs.
fn epoch_seconds(kind: ModelKind, table: &Table, epochs: usize) -> f64 {
    let config = serde_json::json!({"training": {"max_epochs": epochs}});
    let model = fit(kind, table, &config, &mut FitContext::default()).expect("fits");
    let parameters = model.parameters_json().expect("parameters");
    let training = &parameters["training"];
    let seconds = training["seconds"].as_f64().expect("training seconds");
    let done = training["epochs"].as_f64().expect("epochs");
    seconds / done
}

fn deep_models(c: &mut Criterion) {
    let table = adult();
    let mut group = c.benchmark_group("adult_deep");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("transformer_fit_transform", |b| {
        b.iter(|| {
            let transformer =
                DataTransformer::fit(&table, &TransformerOptions::default()).expect("fits");
            transformer
                .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
                .expect("transforms")
        })
    });
    for kind in [
        ModelKind::Tvae,
        ModelKind::Ctgan,
        ModelKind::CopulaGan,
        ModelKind::TabDdpm,
    ] {
        if !available_models().contains(&kind) {
            continue;
        }
        group.bench_function(format!("{kind}_epoch"), |b| {
            b.iter_custom(|iterations| {
                let seconds: f64 = (0..iterations)
                    .map(|_| epoch_seconds(kind, &table, 2))
                    .sum();
                Duration::from_secs_f64(seconds)
            })
        });
    }
    group.finish();
}

/// The matrix products of a TVAE step on Adult (batch 500, encoded width 138, hidden
/// 128): forward `x·W`, the weight gradient `xᵀ·dy` and the input gradient `dy·Wᵀ`, as
/// FLOP/s (criterion's "elements" are floating-point operations here).
fn matmul_kernels(c: &mut Criterion) {
    use criterion::Throughput;
    use mirage_models::nn::{Operand, matmul};
    let mut group = c.benchmark_group("matmul");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    for (name, m, k, n) in [
        ("forward_500x138x128", 500, 138, 128),
        ("forward_500x128x256", 500, 128, 256),
        ("forward_500x1024x1024", 500, 1024, 1024),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(name, |bench| {
            bench.iter(|| {
                matmul(
                    &mut out,
                    Operand::plain(&a, m, k),
                    Operand::plain(&b, k, n),
                    false,
                )
            })
        });
        // The weight gradient: (k × m) · (m × n) with the left operand transposed.
        let mut grad = vec![0.0f32; k * n];
        let dy: Vec<f32> = (0..m * n).map(|i| (i % 3) as f32 * 0.1).collect();
        group.bench_function(format!("{name}_weight_gradient"), |bench| {
            bench.iter(|| {
                matmul(
                    &mut grad,
                    Operand::transposed(&a, m, k),
                    Operand::plain(&dy, m, n),
                    true,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, matmul_kernels, deep_models);
criterion_main!(benches);
