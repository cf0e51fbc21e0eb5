//! End-to-end flows through the scheduler, node supervisors and workers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::ActorStatus;
use serde_json::json;

use super::runners::{Counting, Gate, Gated, Instant};
use super::{Cluster, node_id};
use crate::placement::ConcurrencyLimit;
use crate::runtime::{NodeMsg, RuntimeEvent};
use crate::state::{JobState, LeaseClaim};
use crate::testing::{cpu_job, gpu_job, job, node};

const ONE_PER_CORE: ConcurrencyLimit = ConcurrencyLimit::PerCore { jobs_per_core: 1 };

/// The job's final state once it is terminal.
fn finished(id: u128) -> impl Fn(&crate::state::ClusterState) -> Option<JobState> {
    move |state| {
        state
            .job(job(id))
            .filter(|j| j.state.is_terminal())
            .map(|j| j.state.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_job_is_placed_runs_and_completes() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    let worker_node = cluster
        .add_node(node(1, 4, 8, &[]), Arc::new(Instant { label: "node-1" }))
        .await;
    cluster.submit(cpu_job(1, 1, 0, 1)).await;

    let state = cluster.wait_for("job 1 to finish", finished(1)).await;
    let JobState::Succeeded {
        node,
        token,
        result,
    } = state
    else {
        panic!("job 1 did not succeed: {state:?}");
    };
    assert_eq!(node, node_id(1));
    assert_eq!(result, json!({ "by": "node-1" }));
    let assigned = cluster
        .wait_event("the assignment", |e| {
            matches!(e, RuntimeEvent::JobAssigned { .. })
        })
        .await;
    assert_eq!(
        assigned,
        RuntimeEvent::JobAssigned {
            job: job(1),
            node: node_id(1),
            token
        }
    );
    let started = cluster
        .wait_event("the worker start", |e| {
            matches!(e, RuntimeEvent::WorkerStarted { .. })
        })
        .await;
    assert!(matches!(
        started,
        RuntimeEvent::WorkerStarted {
            resumed_from: None,
            ..
        }
    ));
    cluster
        .wait_event(
            "the completion",
            |e| matches!(e, RuntimeEvent::JobCompleted { token: t, .. } if *t == token),
        )
        .await;
    // The finished worker is gone from its node.
    let mut running: Vec<LeaseClaim> = vec![LeaseClaim { job: job(1), token }];
    for _ in 0..100 {
        running = worker_node
            .call(
                |reply| NodeMsg::Running { reply },
                Some(Duration::from_secs(1)),
            )
            .await
            .expect("node supervisor answers")
            .success_or("no answer")
            .expect("answered")
            .0;
        if running.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running.is_empty(), "{running:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_job_goes_to_the_gpu_node() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    cluster
        .add_node(node(1, 8, 32, &[]), Arc::new(Instant { label: "cpu" }))
        .await;
    cluster
        .add_node(node(2, 8, 32, &[24]), Arc::new(Instant { label: "gpu" }))
        .await;
    cluster.submit(gpu_job(1, 1, 0, 16)).await;
    cluster.submit(cpu_job(2, 1, 0, 1)).await;

    let gpu = cluster.wait_for("the gpu job", finished(1)).await;
    let cpu = cluster.wait_for("the cpu job", finished(2)).await;
    assert!(
        matches!(&gpu, JobState::Succeeded { node, result, .. } if *node == node_id(2) && *result == json!({ "by": "gpu" })),
        "{gpu:?}"
    );
    // CPU work stays off the node whose GPU is free.
    assert!(
        matches!(&cpu, JobState::Succeeded { node, .. } if *node == node_id(1)),
        "{cpu:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_fails_its_job_and_the_node_keeps_serving() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    let supervisor = cluster
        .add_node(node(1, 4, 8, &[]), Arc::new(Instant { label: "node-1" }))
        .await;
    let mut panics = cpu_job(1, 1, 0, 1);
    panics.payload = json!({ "panic": true });
    cluster.submit(panics).await;
    let state = cluster.wait_for("the panicking job", finished(1)).await;
    assert!(
        matches!(&state, JobState::Failed { node, error, .. } if *node == node_id(1) && error.contains("boom")),
        "{state:?}"
    );

    let mut fails = cpu_job(2, 1, 0, 1);
    fails.payload = json!({ "fail": true });
    cluster.submit(fails).await;
    let state = cluster.wait_for("the failing job", finished(2)).await;
    assert!(
        matches!(&state, JobState::Failed { error, .. } if error == "asked to fail"),
        "{state:?}"
    );

    cluster.submit(cpu_job(3, 1, 0, 1)).await;
    let state = cluster.wait_for("the healthy job", finished(3)).await;
    assert!(
        matches!(&state, JobState::Succeeded { node, .. } if *node == node_id(1)),
        "{state:?}"
    );
    assert_eq!(supervisor.get_status(), ActorStatus::Running);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_loses_its_job_which_resumes_elsewhere_and_its_late_result_is_refused() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    let first_gate = Arc::new(Gate::default());
    let first = Arc::new(Gated {
        label: "node-1",
        checkpoint: Some("mem://jobs/1/step-1"),
        gate: first_gate.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let first_node = cluster.add_node(node(1, 4, 8, &[]), first.clone()).await;
    cluster.submit(cpu_job(1, 1, 0, 1)).await;

    // Node 1 runs the job and records a checkpoint, then stalls.
    let first_token = cluster
        .wait_for("node 1's checkpoint", |state| {
            let job = state.job(job(1))?;
            job.checkpoint.as_ref().map(|c| c.token)
        })
        .await;
    // Node 1 goes silent: its supervisor (and heartbeat) stops, its run goes on.
    first_node
        .stop_and_wait(None, Some(Duration::from_secs(2)))
        .await
        .expect("node 1 stops");

    let second_gate = Arc::new(Gate::default());
    second_gate.open();
    let second = Arc::new(Gated {
        label: "node-2",
        checkpoint: None,
        gate: second_gate,
        seen: Mutex::new(Vec::new()),
    });
    cluster.add_node(node(2, 4, 8, &[]), second.clone()).await;

    let state = cluster
        .wait_for("the job to finish on node 2", finished(1))
        .await;
    let JobState::Succeeded {
        node,
        token,
        result,
    } = state
    else {
        panic!("job 1 did not succeed: {state:?}");
    };
    assert_eq!(node, node_id(2));
    assert!(
        token > first_token,
        "a new lease: {token} after {first_token}"
    );
    assert_eq!(result, json!({ "by": "node-2" }));
    assert_eq!(
        *second.seen.lock().expect("seen lock"),
        vec![Some("mem://jobs/1/step-1".to_owned())],
        "node 2 resumed from node 1's checkpoint"
    );
    let attempts = cluster
        .wait_for("the record", |state| state.job(job(1)).map(|j| j.attempts))
        .await;
    assert_eq!(attempts, 2);

    // Node 1's run finally ends: its result is refused for its stale token and dropped.
    first_gate.open();
    let discarded = cluster
        .wait_event(
            "node 1's late result",
            |e| matches!(e, RuntimeEvent::OutcomeDiscarded { node, .. } if *node == node_id(1)),
        )
        .await;
    assert!(
        matches!(&discarded, RuntimeEvent::OutcomeDiscarded { token, reason, .. } if *token == first_token && reason.contains("stale")),
        "{discarded:?}"
    );
    let state = cluster.wait_for("the record", finished(1)).await;
    assert!(
        matches!(&state, JobState::Succeeded { node, token: kept, .. } if *node == node_id(2) && *kept == token),
        "node 2's result stands: {state:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_never_runs_more_jobs_than_its_concurrency_limit() {
    let mut cluster = Cluster::start(ConcurrencyLimit::Fixed { jobs: 2 }).await;
    let runner = Arc::new(Counting {
        work: Duration::from_millis(60),
        ..Counting::default()
    });
    cluster.add_node(node(1, 8, 16, &[]), runner.clone()).await;
    for n in 1..=6 {
        cluster.submit(cpu_job(n, 1, 0, 1)).await;
    }
    for n in 1..=6 {
        let state = cluster.wait_for("every job to finish", finished(n)).await;
        assert!(
            matches!(state, JobState::Succeeded { .. }),
            "job {n}: {state:?}"
        );
    }
    assert_eq!(runner.runs.load(Ordering::SeqCst), 6);
    assert_eq!(
        runner.most.load(Ordering::SeqCst),
        2,
        "two at a time, never more"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_relay_their_progress_and_outcome_to_the_scheduler() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    // The node's own observers are elsewhere: whatever the scheduler's sink sees of the
    // run came through the scheduler group.
    let (node_sink, mut node_events) = crate::runtime::EventSink::channel();
    cluster
        .add_node_with_sink(
            node(1, 4, 8, &[]),
            Arc::new(Instant { label: "node-1" }),
            node_sink,
        )
        .await;
    let mut reports = cpu_job(1, 1, 0, 1);
    reports.payload = json!({ "progress": true });
    cluster.submit(reports).await;

    let relayed = cluster
        .wait_event("the relayed progress", |e| {
            matches!(e, RuntimeEvent::JobProgress { .. })
        })
        .await;
    let RuntimeEvent::JobProgress {
        job: id,
        node: from,
        progress,
        ..
    } = &relayed
    else {
        unreachable!("matched above");
    };
    assert_eq!((*id, *from), (job(1), node_id(1)));
    assert_eq!(progress.epoch, Some(1));
    assert_eq!(progress.losses, vec![("loss".to_owned(), 0.5)]);
    cluster
        .wait_event(
            "the relayed completion",
            |e| matches!(e, RuntimeEvent::JobCompleted { node, .. } if *node == node_id(1)),
        )
        .await;
    // The node still emits locally, as before.
    let local = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match node_events.recv().await {
                Some(event @ RuntimeEvent::JobProgress { .. }) => return event,
                Some(_) => {}
                None => panic!("node events closed"),
            }
        }
    })
    .await
    .expect("local progress");
    assert_eq!(local, relayed);
    cluster.shutdown().await;
}

/// A state client that can be cut off, as a partition would.
struct Cuttable {
    inner: Arc<crate::runtime::LocalState>,
    cut: std::sync::atomic::AtomicBool,
}

impl crate::runtime::StateClient for Cuttable {
    fn apply(
        &self,
        command: crate::state::Command,
    ) -> crate::runtime::ClientFuture<'_, crate::state::Response> {
        if self.cut.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(crate::runtime::ClientError::Unavailable {
                    reason: "cut off".into(),
                })
            });
        }
        self.inner.apply(command)
    }

    fn read(&self) -> crate::runtime::ClientFuture<'_, crate::state::ClusterState> {
        if self.cut.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(crate::runtime::ClientError::Unavailable {
                    reason: "cut off".into(),
                })
            });
        }
        self.inner.read()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_state_stops_its_worker_once_its_lease_can_have_run_out() {
    let mut cluster = Cluster::start(ONE_PER_CORE).await;
    let client = Arc::new(Cuttable {
        inner: cluster.state.clone(),
        cut: std::sync::atomic::AtomicBool::new(false),
    });
    let gate = Arc::new(Gate::default());
    let runner = Arc::new(Gated {
        label: "node-1",
        checkpoint: None,
        gate: gate.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let crate::state::Command::RegisterNode(spec) = node(1, 4, 8, &[]) else {
        panic!("a node command");
    };
    let mut supervisor =
        super::node_supervisor(spec, &cluster.state, runner, &cluster.sink, &cluster.groups);
    supervisor.client = client.clone();
    let (_node, _) = ractor::Actor::spawn(None, supervisor, ())
        .await
        .expect("node starts");
    cluster.submit(cpu_job(1, 1, 0, 1)).await;
    let token = cluster
        .wait_for("the job running on node 1", |state| {
            state.job(job(1)).and_then(|j| j.lease_token())
        })
        .await;

    // Cut off: heartbeats fail, nothing renews the lease; the node stops the worker itself
    // once a lease's length has passed since its last renewal.
    let cut_at = tokio::time::Instant::now();
    client.cut.store(true, Ordering::SeqCst);
    let lost = cluster
        .wait_event(
            "node 1 stopping its worker",
            |e| matches!(e, RuntimeEvent::LeaseLost { node, .. } if *node == node_id(1)),
        )
        .await;
    let waited = cut_at.elapsed();
    assert!(
        matches!(lost, RuntimeEvent::LeaseLost { token: lost, .. } if lost == token),
        "{lost:?}"
    );
    assert!(
        waited <= super::LEASE + 4 * super::HEARTBEAT,
        "stopped {waited:?} after the cut"
    );
    gate.open();
    cluster.shutdown().await;
}
