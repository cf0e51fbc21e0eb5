//! Ledger reservations per second through the Raft-replicated state, in process and over
//! gRPC forwarding; run in release:
//! `cargo test --release -p mirage-node --bin mirage cluster::tests::bench -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Duration;

use mirage_actors::{Command, Outcome, Settings, StateClient};
use mirage_privacy::Spend;

use super::grpc::GrpcStateCluster;
use super::{RaftCluster, TestCluster, dataset_id, fast_config, register_dataset};
use crate::cluster::{RaftStateClient, RetryPolicy};
use crate::raft::test_support::{LoadFigures, measure_load};

/// `writers` tasks reserve back to back on dataset `n` for `duration`, writer `w` through
/// `clients[w % len]`.
async fn measure(
    clients: &[Arc<RaftStateClient>],
    n: u128,
    writers: usize,
    duration: Duration,
) -> anyhow::Result<LoadFigures> {
    let clients: Arc<[Arc<RaftStateClient>]> = clients.into();
    measure_load(writers, duration, move |writer, i| {
        let client = clients[writer % clients.len()].clone();
        async move {
            let command = Command::Reserve {
                dataset: dataset_id(n),
                request: format!("w{writer}-{i}"),
                spend: Spend::new(1e-6, 0.0),
            };
            let answer = client.apply(command).await?;
            anyhow::ensure!(answer == Ok(Outcome::Applied), "refused: {answer:?}");
            Ok(())
        }
    })
    .await
}

/// Registers dataset `n` with a budget no run exhausts, then [`measure`]s `writers` on it
/// for three seconds.
async fn register_and_measure(
    clients: &[Arc<RaftStateClient>],
    n: u128,
    writers: usize,
) -> anyhow::Result<LoadFigures> {
    clients[0].apply(register_dataset(n)).await??;
    clients[0]
        .apply(Command::SetBudget {
            dataset: dataset_id(n),
            budget: Spend::new(1e6, 0.0),
        })
        .await??;
    measure(clients, n, writers, Duration::from_secs(3)).await
}

/// One row of the figures table.
fn print_row(label: &str, writers: usize, figures: &LoadFigures) {
    println!(
        "| {label} | {writers} | {} | {:.0} | {:.2} ms | {:.2} ms |",
        figures.writes,
        figures.per_second,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn bench_ledger_reservations_over_raft() -> anyhow::Result<()> {
    println!("| entry point | writers | reservations | reservations/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    let mut dataset = 0_u128;
    for (label, through) in [("leader only", false), ("all three nodes", true)] {
        for writers in [1, 16, 64] {
            let cluster =
                RaftCluster::start(&[1, 2, 3], fast_config(), Settings::default()).await?;
            let leader = cluster.leader(Duration::from_secs(5)).await?;
            let ids = if through { vec![1, 2, 3] } else { vec![leader] };
            let clients: Vec<_> = ids
                .iter()
                .map(|&id| cluster.client(id, RetryPolicy::default()))
                .collect();
            dataset += 1;
            let figures = register_and_measure(&clients, dataset, writers).await?;
            print_row(label, writers, &figures);
            cluster.shutdown().await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn bench_ledger_reservations_over_grpc_forwarding() -> anyhow::Result<()> {
    println!(
        "| entry point (gRPC loopback) | writers | reservations | reservations/s | p50 | p99 |"
    );
    println!("|---|---|---|---|---|---|");
    let writers = 16;
    for (dataset, (label, through)) in (1..).zip([
        ("leader's client only", false),
        ("all three clients (followers forward)", true),
    ]) {
        let cluster = GrpcStateCluster::start(&[1, 2, 3], fast_config()).await?;
        let leader = cluster.leader(Duration::from_secs(5)).await?;
        let ids = if through { vec![1, 2, 3] } else { vec![leader] };
        let clients = ids
            .iter()
            .map(|&id| cluster.client(id, RetryPolicy::default()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let figures = register_and_measure(&clients, dataset, writers).await?;
        let forwarded: u64 = clients.iter().map(|client| client.stats().forwarded).sum();
        print_row(label, writers, &figures);
        println!("  ({forwarded} attempts forwarded)");
        cluster.shutdown().await?;
    }
    Ok(())
}
