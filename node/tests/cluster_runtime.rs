//! Three `mirage node` processes on loopback: a training job survives the death of the
//! node running it, a follower's death and return do not disturb clients (it catches up,
//! from a snapshot when the log it missed is compacted), and the privacy ledger never
//! overspends under 200 concurrent reservations, with the leader killed mid-burst.

mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cluster::{
    Layout, LocalCluster, json, response, runtime, status, wait_for, wait_until_formed,
    write_to_leader,
};
use mirage_actors::{Command, DatasetSpec, Outcome, StateError};
use mirage_core::{DatasetId, TenantId};
use mirage_privacy::Spend;
use mirage_proto::v1::job_service_client::JobServiceClient;
use mirage_proto::v1::{GetJobRequest, JobStatus, ModelKind, SubmitTrainingRequest};

async fn register_dataset(cluster: &LocalCluster, url: String) -> DatasetId {
    let id = DatasetId::new();
    let command = Command::RegisterDataset(DatasetSpec {
        id,
        tenant: TenantId::from_uuid(uuid::Uuid::nil()),
        name: "adult-sample".to_owned(),
        url,
    });
    let answer = response(write_to_leader(cluster, &json(&command), Duration::from_secs(10)).await);
    assert_eq!(answer, Ok(Outcome::Applied));
    // As if ingested: training waits for a dataset's row count.
    let ingested = Command::SetDatasetProfile {
        dataset: id,
        schema: None,
        profile: None,
        rows: Some(2000),
    };
    let answer =
        response(write_to_leader(cluster, &json(&ingested), Duration::from_secs(10)).await);
    assert_eq!(answer, Ok(Outcome::Applied));
    id
}

async fn job(addr: &str, id: &str) -> Option<mirage_proto::v1::Job> {
    JobServiceClient::new(cluster::admin_channel(addr))
        .get_job(GetJobRequest {
            job_id: id.to_owned(),
        })
        .await
        .ok()?
        .into_inner()
        .job
}

/// Polls the job through any running node until `check` holds.
async fn wait_for_job(
    cluster: &LocalCluster,
    id: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(&mirage_proto::v1::Job) -> bool,
) -> mirage_proto::v1::Job {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        for node in cluster.ids() {
            if !cluster.is_running(node) {
                continue;
            }
            if let Some(job) = job(&cluster.addr(node), id).await {
                if check(&job) {
                    return job;
                }
                last = Some(job);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what} not seen within {timeout:?}; last: {last:?}\n{}",
        cluster.logs()
    );
}

/// The epoch in a checkpoint key `.../epoch-<n>...`.
fn checkpoint_epoch(key: &str) -> Option<u64> {
    let rest = &key[key.rfind("epoch-")? + "epoch-".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_training_job_resumes_from_its_checkpoint_when_its_node_is_killed() {
    runtime().block_on(async {
        let mut cluster = LocalCluster::start(&Layout::nodes(3));
        let leader = wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let sample = cluster::adult_sample(cluster.dir.path(), 2000);
        let dataset = register_dataset(&cluster, sample.display().to_string()).await;

        // Submitted through a node that may not lead: the write is forwarded.
        let entry = if leader == 1 { 2 } else { 1 };
        let submitted = JobServiceClient::new(cluster::admin_channel(&cluster.addr(entry)))
            .submit_training(SubmitTrainingRequest {
                dataset_id: dataset.to_string(),
                model_kind: ModelKind::TabularArgn as i32,
                hyperparameters_json:
                    r#"{"training": {"max_epochs": 40, "patience": 1000, "seed": 7}}"#.to_owned(),
                privacy: None,
                priority: 0,
            })
            .await
            .expect("submit")
            .into_inner()
            .job
            .expect("a job");
        let id = submitted.id.clone();

        // Let it get two checkpoints in, then kill the node running it.
        let running = wait_for_job(
            &cluster,
            &id,
            Duration::from_secs(60),
            "two checkpoints",
            |job| {
                job.status == JobStatus::Running as i32
                    && job
                        .checkpoint
                        .as_deref()
                        .and_then(checkpoint_epoch)
                        .is_some_and(|epoch| epoch >= 2)
            },
        )
        .await;
        let victim = running.node_id.expect("a running job has a node");
        let checkpoint_before = running.checkpoint.clone().expect("a checkpoint");
        let was_leader = victim == leader;
        cluster.kill(victim);
        let killed_at = Instant::now();

        let survivor = cluster
            .ids()
            .into_iter()
            .find(|id| *id != victim)
            .expect("survivor");
        if was_leader {
            let status = wait_for(
                &cluster.addr(survivor),
                Duration::from_secs(10),
                "a new leader",
                |s| s.leader_id.is_some_and(|id| id != victim),
            )
            .await;
            eprintln!(
                "new leader {:?} {:.2} s after the kill",
                status.leader_id,
                killed_at.elapsed().as_secs_f64()
            );
        }

        // The lease runs out, the job goes back to the queue and runs on a survivor.
        let resumed = wait_for_job(
            &cluster,
            &id,
            Duration::from_secs(30),
            "the job running elsewhere",
            |job| {
                job.status == JobStatus::Running as i32 && job.node_id.is_some_and(|n| n != victim)
            },
        )
        .await;
        let resumed_after = killed_at.elapsed();
        eprintln!(
            "job resumed on node {:?} {:.2} s after its node (leader: {was_leader}) was killed",
            resumed.node_id,
            resumed_after.as_secs_f64()
        );

        let done = wait_for_job(
            &cluster,
            &id,
            Duration::from_secs(180),
            "the job finishing",
            |job| job.status != JobStatus::Running as i32 && job.status != JobStatus::Queued as i32,
        )
        .await;
        assert_eq!(
            done.status,
            JobStatus::Succeeded as i32,
            "{done:?}\n{}",
            cluster.logs()
        );
        assert_ne!(done.node_id, Some(victim), "{done:?}");

        // The outcome says it resumed from a recorded checkpoint, not from scratch.
        let result: serde_json::Value =
            serde_json::from_str(done.result_json.as_deref().expect("a result")).expect("JSON");
        let resumed_from = result["resumed_from_epoch"]
            .as_u64()
            .expect("resumed from an epoch");
        let before = checkpoint_epoch(&checkpoint_before).expect("epoch");
        assert!(
            resumed_from >= before,
            "resumed from {resumed_from}, checkpoint was {before}: {result}"
        );
        assert_eq!(result["epochs"], 40, "{result}");
    });
}

#[test]
fn a_follower_dies_without_disturbing_clients_and_catches_up_from_a_snapshot() {
    runtime().block_on(async {
        let mut layout = Layout::nodes(3);
        layout.snapshot_after_logs = 40;
        let mut cluster = LocalCluster::start(&layout);
        let leader = wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let follower = cluster
            .ids()
            .into_iter()
            .find(|id| *id != leader)
            .expect("follower");
        let dataset = register_dataset(&cluster, "file:///data/census.csv".to_owned()).await;
        let budget = Command::SetBudget {
            dataset,
            budget: Spend::new(1000.0, 1e-3),
        };
        let answer =
            response(write_to_leader(&cluster, &json(&budget), Duration::from_secs(10)).await);
        assert_eq!(answer, Ok(Outcome::Applied));
        let before = status(&cluster.addr(follower))
            .await
            .expect("follower status");

        cluster.kill(follower);
        // Clients keep committing with one node gone: every write succeeds promptly.
        let mut slowest = Duration::ZERO;
        for i in 0..150 {
            let started = Instant::now();
            let command = Command::Reserve {
                dataset,
                request: format!("request-{i}"),
                spend: Spend::new(0.5, 0.0),
            };
            let answer =
                response(write_to_leader(&cluster, &json(&command), Duration::from_secs(5)).await);
            assert_eq!(answer, Ok(Outcome::Applied), "write {i}");
            slowest = slowest.max(started.elapsed());
        }
        assert!(
            slowest < Duration::from_secs(2),
            "slowest write {slowest:?}"
        );
        // Snapshots and compaction run in the background: wait until the leader's log no
        // longer holds what the follower lacks, so only a snapshot can bring it back.
        let leader_status = wait_for(
            &cluster.addr(leader),
            Duration::from_secs(20),
            "the leader compacting past the follower",
            |s| s.purged_index > before.last_applied,
        )
        .await;

        cluster.restart(follower);
        let target = leader_status.commit_index;
        let caught_up = wait_for(
            &cluster.addr(follower),
            Duration::from_secs(30),
            "the follower caught up",
            |s| s.last_applied >= target,
        )
        .await;
        assert!(
            caught_up.snapshot_index >= leader_status.purged_index,
            "{caught_up:?}"
        );
        assert_eq!(caught_up.ledgers, 1);
        assert!(caught_up.ledgers_verified, "{caught_up:?}");
        assert_eq!(caught_up.leader_id, Some(leader));

        // The HTTP side: health, readiness and the Prometheus exposition.
        let (code, _) = cluster::http_get(&cluster, leader, "/health");
        assert_eq!(code, 200);
        let (code, body) = cluster::http_get(&cluster, follower, "/ready");
        assert_eq!(code, 200, "{body}");
        let (code, metrics) = cluster::http_get(&cluster, leader, "/metrics");
        assert_eq!(code, 200);
        assert!(
            metrics.lines().any(|l| l == "mirage_raft_is_leader 1"),
            "{metrics}"
        );
        assert!(
            metrics.lines().any(|l| l
                == format!("mirage_ledger_epsilon{{dataset=\"{dataset}\",kind=\"reserved\"}} 75")),
            "{metrics}"
        );
    });
}

#[test]
fn two_hundred_reservations_from_all_nodes_never_overspend_even_when_the_leader_dies() {
    runtime().block_on(async {
        let cluster = LocalCluster::start(&Layout::nodes(3));
        let leader = wait_until_formed(&cluster, Duration::from_secs(40)).await;
        let dataset = register_dataset(&cluster, "file:///data/census.csv".to_owned()).await;
        // Exactly 20 reservations of 0.5 fit.
        let budget = Command::SetBudget {
            dataset,
            budget: Spend::new(10.0, 1e-3),
        };
        let answer =
            response(write_to_leader(&cluster, &json(&budget), Duration::from_secs(10)).await);
        assert_eq!(answer, Ok(Outcome::Applied));

        let cluster = Arc::new(tokio::sync::RwLock::new(cluster));
        let granted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for i in 0..200usize {
            let cluster = Arc::clone(&cluster);
            let granted = Arc::clone(&granted);
            let refused = Arc::clone(&refused);
            writers.push(tokio::spawn(async move {
                // Spread the clients over the three nodes; each follows refusals itself.
                tokio::time::sleep(Duration::from_millis((i % 50) as u64 * 4)).await;
                let command = Command::Reserve {
                    dataset,
                    request: format!("job-{i}"),
                    spend: Spend::new(0.5, 0.0),
                };
                let answer = {
                    let cluster = cluster.read().await;
                    cluster::write_via(
                        &cluster,
                        1 + (i % 3) as u64,
                        &json(&command),
                        Duration::from_secs(20),
                    )
                    .await
                };
                match response(answer) {
                    Ok(Outcome::Applied) => granted.fetch_add(1, Ordering::SeqCst),
                    Err(StateError::BudgetExceeded { .. }) => {
                        refused.fetch_add(1, Ordering::SeqCst)
                    }
                    other => panic!("unexpected answer {other:?}"),
                };
            }));
        }
        // Kill the leader in the middle of the burst.
        tokio::time::sleep(Duration::from_millis(60)).await;
        cluster.write().await.kill(leader);
        for writer in writers {
            writer.await.expect("writer");
        }
        assert_eq!(granted.load(Ordering::SeqCst), 20);
        assert_eq!(refused.load(Ordering::SeqCst), 180);

        let mut cluster = Arc::try_unwrap(cluster)
            .ok()
            .expect("sole owner")
            .into_inner();
        cluster.restart(leader);
        let new_leader = wait_until_formed(&cluster, Duration::from_secs(30)).await;
        let target = status(&cluster.addr(new_leader))
            .await
            .expect("status")
            .commit_index;
        for id in cluster.ids() {
            let seen = wait_for(
                &cluster.addr(id),
                Duration::from_secs(20),
                "caught up",
                |s| s.last_applied >= target,
            )
            .await;
            assert_eq!(seen.ledgers, 1, "node {id}");
            assert!(
                seen.ledgers_verified,
                "node {id}: the hash chain does not verify"
            );
        }
    });
}
