//! Throughput, latency and fail-over figures; run in release:
//! `cargo test --release -p mirage-node --bin mirage raft::tests::bench -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use super::{Cluster, fast_config};
use crate::raft::test_support::{LoadFigures, measure_load};
use crate::raft::{NodeId, RaftNodeConfig};

/// `writers` tasks write to the leader back to back for `duration`.
async fn measure_leader_load(
    cluster: &Cluster,
    writers: usize,
    duration: Duration,
) -> anyhow::Result<LoadFigures> {
    let leader = cluster.node(cluster.leader_among(&[], Duration::from_secs(5)).await?)?;
    measure_load(writers, duration, move |writer, _| {
        let node = leader.clone();
        async move {
            node.write(format!("add writer{writer} 1").into_bytes())
                .await?;
            Ok(())
        }
    })
    .await
}

/// Kills the leader `rounds` times and measures kill → first committed write on the survivors.
async fn measure_failover(cluster: &mut Cluster, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let mut figures = Vec::new();
    for _ in 0..rounds {
        let leader = cluster.leader_among(&[], Duration::from_secs(5)).await?;
        let survivors: Vec<NodeId> = cluster
            .nodes
            .keys()
            .copied()
            .filter(|&id| id != leader)
            .collect();
        let killed_at = Instant::now();
        cluster.kill(leader).await?;
        cluster
            .write_among(&survivors, "add failover 1", Duration::from_secs(30))
            .await?;
        figures.push(killed_at.elapsed());
        cluster.start_node(leader).await?;
        cluster.converge(Duration::from_secs(10)).await?;
    }
    Ok(figures)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn bench_three_node_cluster() -> anyhow::Result<()> {
    let duration = Duration::from_secs(3);
    for flush_on_write in [true, false] {
        let config = RaftNodeConfig {
            flush_on_write,
            ..fast_config()
        };
        let mut cluster = Cluster::start(&[1, 2, 3], config).await?;
        for writers in [1, 16, 64] {
            let figures = measure_leader_load(&cluster, writers, duration).await?;
            println!(
                "flush_on_write={flush_on_write} writers={writers}: {} writes, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                figures.writes,
                figures.per_second,
                figures.p50.as_secs_f64() * 1e3,
                figures.p99.as_secs_f64() * 1e3,
            );
        }
        cluster.converge(Duration::from_secs(10)).await?;
        cluster.shutdown().await?;
    }
    for (name, config) in [
        ("fast (50/150-300 ms)", fast_config()),
        ("default (100/500-1000 ms)", RaftNodeConfig::default()),
    ] {
        let mut cluster = Cluster::start(&[1, 2, 3], config).await?;
        let mut figures = measure_failover(&mut cluster, 5).await?;
        figures.sort();
        let shown: Vec<String> = figures
            .iter()
            .map(|time| format!("{:.0}", time.as_secs_f64() * 1e3))
            .collect();
        println!(
            "fail-over kill → first commit, {name}: [{}] ms",
            shown.join(", ")
        );
        cluster.shutdown().await?;
    }
    Ok(())
}
