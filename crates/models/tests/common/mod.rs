//! Fixtures the DP model tests share: the small table, fitting through the public API,
//! the DP-SGD event of a report, and save → restore.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table};
use mirage_models::{FitContext, ModelError, SampleRequest, Synthesizer, sample_all};
use mirage_privacy::{Mechanism, PrivacyReport};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub const COLORS: [&str; 3] = ["red", "green", "blue"];

/// A colour index: red 60 %, green 30 %, blue 10 %.
pub fn color(rng: &mut ChaCha8Rng) -> usize {
    match rng.random::<f64>() {
        u if u < 0.6 => 0,
        u if u < 0.9 => 1,
        _ => 2,
    }
}

/// The table of `columns` and `arrays` of `rows` rows, plus a free-text column when
/// `with_text`.
pub fn table(
    mut columns: Vec<ColumnSchema>,
    mut arrays: Vec<ArrayRef>,
    rows: usize,
    with_text: bool,
) -> Table {
    if with_text {
        columns.push(ColumnSchema::new(
            "note",
            ColumnKind::Text,
            PhysicalType::Utf8,
        ));
        let text: Vec<&str> = (0..rows)
            .map(|i| {
                if i % 2 == 0 {
                    "a quick fox"
                } else {
                    "the lazy dog"
                }
            })
            .collect();
        arrays.push(Arc::new(StringArray::from(text)));
    }
    let schema = Schema::new(columns).expect("schema");
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

/// Fits `kind` through the public API.
pub fn fit(
    kind: ModelKind,
    table: &Table,
    config: &serde_json::Value,
) -> mirage_models::Result<Box<dyn Synthesizer>> {
    mirage_models::fit(kind, table, config, &mut FitContext::default())
}

/// The report's DP-SGD event: (sample rate, noise multiplier, steps).
pub fn dpsgd(report: &PrivacyReport) -> (f64, f64, u64) {
    let event = report
        .events
        .iter()
        .find(|e| e.label.contains("dp-sgd"))
        .expect("a DP-SGD event");
    let Mechanism::SubsampledGaussian {
        sample_rate,
        noise_multiplier,
        steps,
    } = event.mechanism
    else {
        panic!("DP-SGD is a subsampled Gaussian: {event:?}");
    };
    (sample_rate, noise_multiplier, steps)
}

/// Sampling gives the rows asked for, and save → restore keeps `report` and the samples.
/// (The first sample: `rows` rows drawn with `seed`.)
pub fn assert_samples_and_restores(
    model: &dyn Synthesizer,
    report: PrivacyReport,
    rows: usize,
    seed: u64,
) {
    let batches = sample_all(model, &SampleRequest::new(rows, seed)).expect("sample");
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        rows
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model");
    mirage_models::save_model(model, &path).expect("save");
    let restored = mirage_models::load_model(&path).expect("load");
    assert_eq!(restored.privacy_report(), Some(report));
    assert_eq!(
        sample_all(restored.as_ref(), &SampleRequest::new(50, 9)).expect("sample"),
        sample_all(model, &SampleRequest::new(50, 9)).expect("sample")
    );
}

/// A strict fit of a table with free text is refused, naming the column.
pub fn assert_refuses_free_text<T: std::fmt::Debug>(result: mirage_models::Result<T>) {
    match result {
        Err(ModelError::NotPrivate { reasons }) => {
            assert!(reasons.iter().any(|r| r.contains("note")), "{reasons:?}");
        }
        other => panic!("{other:?}"),
    }
}
