//! The serving benchmark (issue 8 §5's targets: p99 < 10 ms for one row including the
//! RPC, ≥ 200,000 rows/s streamed), as an ignored test over a real tonic server on
//! loopback with a warm copula of the whole Adult table. Run in release:
//!
//! ```text
//! cargo test --release -p mirage-node --bin mirage -- --ignored serving_bench --nocapture
//! ```
//!
//! It prints one-row latency percentiles over 2,000 calls from one client after a
//! warm-up, and rows/s for 1,000,000-row requests at several batch sizes, next to the
//! same work without the RPC (sampling alone, sampling + IPC encoding) so the time can be
//! placed.

use std::time::{Duration, Instant};

use mirage_actors::Role;
use mirage_core::config::ServingConfig;
use mirage_models::SampleRequest;
use mirage_proto::v1;
use tokio_stream::StreamExt;

use super::ipc::BatchEncoder;
use super::testing::{LoopbackServer, SampleOnlyService, adult_model, cache};
use crate::gateway::testing::TestGateway;

const ONE_ROW_CALLS: usize = 2000;
const WARM_UP_CALLS: usize = 200;
const LARGE_ROWS: u64 = 1_000_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored serving_bench --nocapture"]
async fn serving_bench() -> anyhow::Result<()> {
    let test = TestGateway::start().await?;
    let caller = test.caller(1, Role::Analyst).await?;
    let fit_started = Instant::now();
    let model = adult_model(&test, &caller, None).await?;
    println!(
        "fit + store of the Adult copula: {:.1} s",
        fit_started.elapsed().as_secs_f64()
    );
    let cache = cache(&test, ServingConfig::default());
    let service = SampleOnlyService::new(test.gateway.clone(), cache.clone(), caller.clone());
    let server = LoopbackServer::start(service).await?;
    let mut client = server.client().await?;
    let one_row = |seed: u64| v1::SampleRowsRequest {
        rebalance: None,
        model_id: model.to_string(),
        rows: 1,
        seed: Some(seed),
        conditions: Vec::new(),
        batch_rows: 0,
    };

    // The first call loads the model (cold).
    let cold = Instant::now();
    let mut stream = client.sample_rows(one_row(0)).await?.into_inner();
    while let Some(batch) = stream.next().await {
        batch?;
    }
    println!(
        "first call (cold model, load from the object store): {:.1} ms",
        ms(cold.elapsed())
    );

    let mut latencies = Vec::with_capacity(ONE_ROW_CALLS);
    for call in 0..WARM_UP_CALLS + ONE_ROW_CALLS {
        let started = Instant::now();
        let mut stream = client.sample_rows(one_row(call as u64)).await?.into_inner();
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            rows += batch?.rows;
        }
        let elapsed = started.elapsed();
        anyhow::ensure!(rows == 1, "one row expected, got {rows}");
        if call >= WARM_UP_CALLS {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    println!(
        "one row over gRPC ({ONE_ROW_CALLS} calls, one client): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );

    let warm = cache.get(model, &format!("models/{model}")).await?;
    for batch_rows in [4096u32, 16_384, 65_536] {
        // 65,536 Adult rows encode to ~10 MB: sent as 3 messages under the 4 MB limit.
        // Sampling alone, then sampling + encoding, on a blocking thread as served.
        let alone = {
            let warm = warm.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<(Duration, Duration)> {
                let request = SampleRequest {
                    batch_size: batch_rows as usize,
                    ..SampleRequest::new(LARGE_ROWS as usize, 7)
                };
                let started = Instant::now();
                let mut batches = Vec::new();
                for batch in mirage_models::sample(warm.as_ref(), &request)? {
                    batches.push(batch?);
                }
                let sampling = started.elapsed();
                let encoder = BatchEncoder::new(warm.schema().arrow_schema());
                let started = Instant::now();
                let mut offset = 0;
                for batch in &batches {
                    offset += encoder.encode(batch, offset)?.rows;
                }
                Ok((sampling, started.elapsed()))
            })
            .await??
        };
        let started = Instant::now();
        let mut stream = client
            .sample_rows(v1::SampleRowsRequest {
                rows: LARGE_ROWS,
                batch_rows,
                ..one_row(7)
            })
            .await?
            .into_inner();
        let (mut rows, mut bytes) = (0u64, 0usize);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.rows;
            bytes += batch.arrow_ipc.len();
        }
        let elapsed = started.elapsed();
        anyhow::ensure!(rows == LARGE_ROWS, "{rows} rows streamed");
        let rate = |d: Duration| LARGE_ROWS as f64 / d.as_secs_f64();
        println!(
            "1,000,000 rows, batches of {batch_rows}: over gRPC {:.0} rows/s ({:.2} s, {:.1} MB); \
             sampling alone {:.0} rows/s ({:.2} s); IPC encoding alone {:.0} rows/s ({:.2} s)",
            rate(elapsed),
            elapsed.as_secs_f64(),
            bytes as f64 / 1e6,
            rate(alone.0),
            alone.0.as_secs_f64(),
            rate(alone.1),
            alone.1.as_secs_f64(),
        );
    }
    drop(client);
    drop(server);
    test.stop().await
}
