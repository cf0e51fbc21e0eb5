//! The Flight throughput benchmark (ignored by default; run it in release):
//!
//! ```text
//! cargo test --release -p mirage-node --bin mirage -- --ignored flight_bench --nocapture
//! ```
//!
//! `MIRAGE_FLIGHT_BENCH_MIB` sets the table size (default 1024). The table is numeric
//! (8 Int64 and 8 Float64 columns); MiB/s counts its in-memory Arrow size. Each figure
//! is the median of 3 runs, with the parts measured alone beside it (Parquet decode,
//! IPC encode and decode, Parquet encode) to show where the time goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_flight::FlightDescriptor;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use futures::TryStreamExt;
use mirage_actors::{Command, Role};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::harness::{Harness, get, put, record_generation};
use super::stored::BATCH_ROWS;

const INT_COLUMNS: usize = 8;
const FLOAT_COLUMNS: usize = 8;
const ROW_BYTES: usize = (INT_COLUMNS + FLOAT_COLUMNS) * 8;
const MIB: f64 = 1024.0 * 1024.0;

fn schema() -> Arc<Schema> {
    let mut fields = Vec::new();
    for i in 0..INT_COLUMNS {
        fields.push(Field::new(format!("i{i}"), DataType::Int64, false));
    }
    for i in 0..FLOAT_COLUMNS {
        fields.push(Field::new(format!("f{i}"), DataType::Float64, false));
    }
    Arc::new(Schema::new(fields))
}

/// `rows` rows starting at `first`, with values that do not compress to nothing.
fn numbers(first: usize, rows: usize) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = Vec::new();
    for c in 0..INT_COLUMNS {
        let values: Int64Array = (first..first + rows)
            .map(|r| (r as i64).wrapping_mul(6364136223846793005 + c as i64) >> 7)
            .collect();
        columns.push(Arc::new(values));
    }
    for c in 0..FLOAT_COLUMNS {
        let values: Float64Array = (first..first + rows)
            .map(|r| (r as f64 * 0.618_033 + c as f64).sin() * 1e6)
            .collect();
        columns.push(Arc::new(values));
    }
    RecordBatch::try_new(schema(), columns).unwrap_or_else(|e| panic!("{e}"))
}

fn table(total_rows: usize) -> Vec<RecordBatch> {
    (0..total_rows)
        .step_by(BATCH_ROWS)
        .map(|first| numbers(first, BATCH_ROWS.min(total_rows - first)))
        .collect()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn rate(bytes: usize, took: Duration) -> String {
    format!(
        "{:8.1} MiB/s ({:.2} s)",
        bytes as f64 / MIB / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

fn write_parquet(
    path: &std::path::Path,
    batches: &[RecordBatch],
    compression: Compression,
) -> anyhow::Result<()> {
    let properties = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path)?, schema(), Some(properties))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(())
}

fn decode_parquet(path: &std::path::Path) -> anyhow::Result<usize> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?
        .with_batch_size(BATCH_ROWS)
        .build()?;
    let mut rows = 0;
    for batch in reader {
        rows += batch?.num_rows();
    }
    Ok(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a throughput benchmark: run it in release with --ignored flight_bench --nocapture"]
async fn flight_bench() -> anyhow::Result<()> {
    let mib: usize = std::env::var("MIRAGE_FLIGHT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let total_rows = mib * 1024 * 1024 / ROW_BYTES;
    let bytes = total_rows * ROW_BYTES;
    let harness = Harness::start().await?;
    let (caller, mut client) = harness.client(1, Role::Admin).await?;
    let batches = table(total_rows);
    println!(
        "flight_bench: {total_rows} rows x 16 numeric columns = {mib} MiB in memory, batches of {BATCH_ROWS} rows"
    );

    for compression in [Compression::UNCOMPRESSED, Compression::SNAPPY] {
        let generation = record_generation(
            &harness,
            &caller,
            "generations/{id}/data.parquet",
            total_rows as u64,
        )
        .await?;
        let key = format!("generations/{generation}/data.parquet");
        let path = harness
            .test
            .gateway
            .storage()
            .local_file(&key)
            .ok_or_else(|| anyhow::anyhow!("the test store is local"))?;
        std::fs::create_dir_all(path.parent().ok_or_else(|| anyhow::anyhow!("no parent"))?)?;
        let started = Instant::now();
        let to_write = batches.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_parquet(&target, &to_write, compression))
            .await??;
        let encode = started.elapsed();
        let size = std::fs::metadata(&path)?.len();

        let mut decode_runs = Vec::new();
        for _ in 0..3 {
            let source = path.clone();
            let started = Instant::now();
            let rows = tokio::task::spawn_blocking(move || decode_parquet(&source)).await??;
            assert_eq!(rows, total_rows);
            decode_runs.push(started.elapsed());
        }
        let mut get_runs = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let got = get(&mut client, &format!("generation/{generation}")).await?;
            get_runs.push(started.elapsed());
            assert_eq!(
                got.iter().map(RecordBatch::num_rows).sum::<usize>(),
                total_rows
            );
        }
        println!(
            "{compression:?} Parquet ({:.0} MiB): encode {} | decode alone {} | DoGet {}",
            size as f64 / MIB,
            rate(bytes, encode),
            rate(bytes, median(decode_runs)),
            rate(bytes, median(get_runs)),
        );
        std::fs::remove_file(&path)?;
    }

    // IPC encode and decode alone (no network, no Parquet).
    let mut ipc_runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let data = FlightDataEncoderBuilder::new()
            .build(futures::stream::iter(batches.clone().into_iter().map(Ok)));
        let decoded: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await?;
        assert_eq!(
            decoded.iter().map(RecordBatch::num_rows).sum::<usize>(),
            total_rows
        );
        ipc_runs.push(started.elapsed());
    }
    println!(
        "IPC encode + decode in process, no network: {}",
        rate(bytes, median(ipc_runs))
    );

    let mut put_runs = Vec::new();
    for run in 0..3 {
        let descriptor =
            FlightDescriptor::new_path(vec!["datasets".into(), format!("bench {run}")]);
        let started = Instant::now();
        let metadata = put(&mut client, Some(descriptor), batches.clone()).await?;
        put_runs.push(started.elapsed());
        assert_eq!(metadata["rows"].as_u64(), Some(total_rows as u64));
        // The ingest job would read the whole table on these two cores: stop it, and
        // drop the upload so the disk stays free.
        let job = metadata["job_id"].as_str().unwrap_or_default().parse()?;
        let _ = harness.test.gateway.apply(Command::Cancel { job }).await;
        let upload = metadata["upload"]
            .as_str()
            .unwrap_or_default()
            .replace("upload/", "uploads/");
        if let Some(file) = harness
            .test
            .gateway
            .storage()
            .local_file(&format!("{upload}/data.parquet"))
        {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = std::fs::remove_file(file);
        }
    }
    println!(
        "DoPut (decode, Parquet encode, store, create the dataset): {}",
        rate(bytes, median(put_runs))
    );
    harness.stop().await
}
