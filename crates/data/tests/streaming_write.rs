//! `TableWriter` writes millions of rows batch by batch in bounded memory.
//!
//! Its own test binary (one test per file format, run one after the other under a lock),
//! so that the process's peak resident memory (`VmHWM`) measures this writer and nothing
//! else running beside it. The peak only rises, so the first test to run measures its
//! writer exactly; the second is held to the same bound from the first one's read-back
//! peak, and both assert on the writer's own buffered bytes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema};
use mirage_data::{DataError, ReadOptions, TableWriter, read_table};

const ROWS: usize = 2_000_000;
const BATCH: usize = 10_000;
const DAY: i64 = 86_400_000;

/// Holds the tests apart so each one's memory peak is its own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn schema() -> Schema {
    Schema::new(vec![
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("amount", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("active", ColumnKind::Boolean, PhysicalType::Boolean),
        ColumnSchema::new("label", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new(
            "day",
            ColumnKind::Datetime {
                format: "%Y-%m-%d".into(),
            },
            PhysicalType::TimestampMillis,
        ),
    ])
    .expect("schema")
}

/// Rows `start..start + BATCH`, values a pure function of the row number.
fn batch(schema: &Schema, start: usize) -> RecordBatch {
    let rows = start as i64..(start + BATCH) as i64;
    let labels = ["alpha", "beta", "gamma", "delta, with comma"];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.clone())),
        Arc::new(Float64Array::from_iter(
            rows.clone()
                .map(|i| (i % 13 != 0).then_some((i % 100_003) as f64 / 100.0)),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.clone().map(|i| Some(i % 3 == 0)),
        )),
        Arc::new(StringArray::from_iter(
            rows.clone().map(|i| Some(labels[(i % 4) as usize])),
        )),
        Arc::new(TimestampMillisecondArray::from_iter(
            rows.map(|i| Some(18_000 * DAY + (i % 3_650) * DAY)),
        )),
    ];
    RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch")
}

/// The process's peak resident set, in KiB, from `/proc/self/status` (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes `ROWS` rows to `path` and checks the writer's buffer and the process's peak
/// memory stay bounded, then that the file reads back whole.
fn write_two_million_rows(path: &Path) {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let schema = schema();
    let before = peak_rss_kib();
    let mut writer = TableWriter::create(path, &schema).expect("creates");
    let mut most_buffered = 0;
    for start in (0..ROWS).step_by(BATCH) {
        writer
            .write_batch(&batch(&schema, start))
            .expect("writes a batch");
        most_buffered = most_buffered.max(writer.buffered_bytes());
    }
    assert_eq!(writer.rows_written(), ROWS as u64);
    assert_eq!(writer.finish().expect("finishes"), ROWS as u64);
    // The writer never holds more than one row group (or the CSV buffer) and a batch.
    let bound = mirage_data::write::ROW_GROUP_BYTES + 4 * 1024 * 1024;
    assert!(
        most_buffered <= bound,
        "{}: the writer buffered {most_buffered} bytes, more than {bound}",
        path.display()
    );
    // The rows as Arrow arrays take about 2,000,000 × 40 bytes = 80 MB; a writer holding
    // them would raise the peak by at least that much.
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        eprintln!(
            "{}: at most {most_buffered} bytes buffered; peak RSS {before} → {after} KiB",
            path.display()
        );
        assert!(
            grown_mib < 64,
            "{}: peak RSS grew by {grown_mib} MiB while writing",
            path.display()
        );
    }
    let table = read_table(path, &ReadOptions::default()).expect("reads back");
    assert_eq!(table.num_rows(), ROWS);
    let column = |name: &str| table.column_by_name(name).expect("column");
    let ids = column("id");
    let ids = ids
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("ids stay integers");
    assert_eq!(ids.value(0), 0);
    assert_eq!(ids.value(ROWS - 1), ROWS as i64 - 1);
    let amounts = column("amount");
    assert_eq!(amounts.null_count(), ROWS.div_ceil(13));
    let kind = &table.schema().column("day").expect("day").kind;
    assert_eq!(
        kind,
        &ColumnKind::Datetime {
            format: "%Y-%m-%d".into()
        }
    );
    assert_eq!(
        table.schema().column("active").expect("active").physical,
        PhysicalType::Boolean
    );
}

#[test]
fn parquet_streams_two_million_rows_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_two_million_rows(&dir.path().join("big.parquet"));
}

#[test]
fn csv_streams_two_million_rows_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_two_million_rows(&dir.path().join("big.csv"));
}

#[test]
fn mismatched_batches_and_bad_paths_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("narrow.csv");
    let mut writer = TableWriter::create(&path, &schema()).expect("creates");
    let other = Schema::new(vec![ColumnSchema::new(
        "id",
        ColumnKind::Identifier,
        PhysicalType::Int64,
    )])
    .expect("schema");
    let narrow = RecordBatch::try_new(
        other.arrow_schema(),
        vec![Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef],
    )
    .expect("batch");
    let err = writer.write_batch(&narrow).expect_err("one column of five");
    assert!(matches!(err, DataError::BatchMismatch { .. }), "{err}");
    assert!(err.to_string().contains("narrow.csv"), "{err}");

    let missing = dir.path().join("no/such/dir/out.parquet");
    let err = TableWriter::create(&missing, &schema()).expect_err("no directory");
    assert!(err.to_string().contains("no/such/dir/out.parquet"), "{err}");
    let err = TableWriter::create(&dir.path().join("out.json"), &schema()).expect_err("json");
    assert!(err.to_string().contains("out.json"), "{err}");
}
