//! Shared by the cluster's tests and benchmarks: waiting for a leader, and load
//! measurement (writers issuing requests back to back for a fixed time, and the
//! throughput and latency quantiles they saw).

use std::future::Future;
use std::ops::Deref;
use std::time::{Duration, Instant};

use super::{NodeId, RaftNode, RaftRole, StateMachine};

/// The leader with the highest term among the nodes `nodes()` lists (asked again on every
/// poll, so nodes may stop and start meanwhile); an error after `timeout`.
pub(crate) async fn wait_for_leader<S, R, F>(
    timeout: Duration,
    mut nodes: F,
) -> anyhow::Result<NodeId>
where
    S: StateMachine,
    R: Deref<Target = RaftNode<S>>,
    F: FnMut() -> Vec<(NodeId, R)>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let mut best: Option<(u64, NodeId)> = None;
        for (id, node) in nodes() {
            let metrics = node.metrics().await?;
            if metrics.role == RaftRole::Leader && best.is_none_or(|(term, _)| metrics.term > term)
            {
                best = Some((metrics.term, id));
            }
        }
        if let Some((_, id)) = best {
            return Ok(id);
        }
        if Instant::now() > deadline {
            anyhow::bail!("no leader within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a load run saw.
pub(crate) struct LoadFigures {
    /// Requests completed.
    pub writes: usize,
    /// Requests per second.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
}

/// Runs `writers` tasks for `duration`; task `w` calls `request(w, i)` for i = 0, 1, …
/// back to back, each call timed. The first failed request fails the run.
pub(crate) async fn measure_load<F, Fut>(
    writers: usize,
    duration: Duration,
    request: F,
) -> anyhow::Result<LoadFigures>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0_u64;
            while started.elapsed() < duration {
                let sent = Instant::now();
                request(writer, i).await?;
                latencies.push(sent.elapsed());
                i += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |quantile: f64| {
        let position = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
        latencies.get(position).copied().unwrap_or_default()
    };
    Ok(LoadFigures {
        writes: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}
