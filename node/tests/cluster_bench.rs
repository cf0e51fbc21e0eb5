//! Benchmarks of a three-process loopback cluster (ignored by default; figures go to
//! BENCHMARKS.md):
//!
//! ```text
//! cargo test --release -p mirage-node --test cluster_bench -- --ignored --nocapture
//! ```
//!
//! - committed ledger reservations per second and their p50/p99 latency, 16 concurrent
//!   clients writing through the leader's internal `ClientWrite`;
//! - leader fail-over: from SIGKILL of the leader to the first committed write, five times,
//!   each from a steady state (every node up and caught up).

mod cluster;

use std::time::{Duration, Instant};

use cluster::{
    Layout, LocalCluster, client_write, json, runtime, status, wait_until_caught_up,
    wait_until_formed, write_to_leader, write_via,
};
use mirage_actors::{Command, DatasetSpec, Outcome, Response};
use mirage_core::{DatasetId, TenantId};
use mirage_privacy::Spend;

async fn dataset_with_budget(cluster: &LocalCluster, epsilon: f64) -> DatasetId {
    let id = DatasetId::new();
    let register = Command::RegisterDataset(DatasetSpec {
        id,
        tenant: TenantId::from_uuid(uuid::Uuid::nil()),
        name: "bench".to_owned(),
        url: "file:///bench.csv".to_owned(),
    });
    write_to_leader(cluster, &json(&register), Duration::from_secs(10)).await;
    let budget = Command::SetBudget {
        dataset: id,
        budget: Spend::new(epsilon, 1e-3),
    };
    let answer: Response = serde_json::from_value(
        write_to_leader(cluster, &json(&budget), Duration::from_secs(10)).await,
    )
    .expect("answer");
    assert_eq!(answer, Ok(Outcome::Applied));
    id
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_ledger_reservations_on_three_processes() {
    runtime().block_on(async {
        let cluster = LocalCluster::start(&Layout::nodes(3));
        let leader = wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let dataset = dataset_with_budget(&cluster, 1e9).await;
        let leader_addr = cluster.addr(leader);
        const WRITERS: usize = 16;
        let run_for = Duration::from_secs(8);
        for round in 0..3 {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for writer in 0..WRITERS {
                let addr = leader_addr.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = 0u64;
                    while started.elapsed() < run_for {
                        let command = json(&Command::Reserve {
                            dataset,
                            request: format!("r{round}-w{writer}-{i}"),
                            spend: Spend::new(1e-6, 0.0),
                        });
                        let sent = Instant::now();
                        let answer = client_write(&addr, &command).await.expect("write");
                        let answer: Response = serde_json::from_value(answer).expect("answer");
                        assert_eq!(answer, Ok(Outcome::Applied));
                        latencies.push(sent.elapsed());
                        i += 1;
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.expect("writer"));
            }
            let elapsed = started.elapsed();
            latencies.sort();
            println!(
                "round {round}: {} reservations in {:.2} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms ({WRITERS} clients, 3 processes)",
                latencies.len(),
                elapsed.as_secs_f64(),
                latencies.len() as f64 / elapsed.as_secs_f64(),
                quantile(&latencies, 0.5).as_secs_f64() * 1e3,
                quantile(&latencies, 0.99).as_secs_f64() * 1e3,
            );
        }
    });
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_leader_failover_on_three_processes() {
    runtime().block_on(async {
        let mut cluster = LocalCluster::start(&Layout::nodes(3));
        wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let dataset = dataset_with_budget(&cluster, 1e9).await;
        let mut times = Vec::new();
        for round in 0..5 {
            // Steady state first: every node up and caught up (the one restarted last too).
            let leader = wait_until_caught_up(&cluster, Duration::from_secs(30)).await;
            cluster.kill(leader);
            let killed = Instant::now();
            let survivor = cluster.ids().into_iter().find(|id| *id != leader).expect("survivor");
            let command = json(&Command::Reserve {
                dataset,
                request: format!("failover-{round}"),
                spend: Spend::new(1e-6, 0.0),
            });
            let answer = write_via(&cluster, survivor, &command, Duration::from_secs(20)).await;
            let elapsed = killed.elapsed();
            let answer: Response = serde_json::from_value(answer).expect("answer");
            assert_eq!(answer, Ok(Outcome::Applied));
            let new_leader = status(&cluster.addr(survivor)).await.and_then(|s| s.leader_id);
            println!(
                "round {round}: leader {leader} killed; first commit after {:.0} ms (new leader {new_leader:?})",
                elapsed.as_secs_f64() * 1e3
            );
            times.push(elapsed);
            cluster.restart(leader);
        }
        times.sort();
        println!(
            "fail-over to first commit: median {:.0} ms, max {:.0} ms over {} kills",
            quantile(&times, 0.5).as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            times.len()
        );
    });
}
