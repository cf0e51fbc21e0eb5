//! The actor runtime (scheduler, node supervisors, workers) on the Raft-replicated state:
//! jobs complete, and a job running while the Raft leader dies completes exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mirage_actors::placement::{ConcurrencyLimit, PlacementConfig};
use mirage_actors::runtime::{
    ActorGroups, ClusterMsg, ClusterSupervisor, EventSink, JobRunner, NodeConfig, NodeMsg,
    NodeSupervisor, RunContext, RuntimeEvent, SchedulerConfig,
};
use mirage_actors::{
    CheckpointUrl, ClusterState, Command, Job, JobSpec, JobState, NodeSpec, Outcome, Resources,
    Settings, StateClient, StateError,
};
use mirage_core::JobId;
use mirage_core::records::JobKind;
use ractor::{Actor, ActorRef};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

use super::{RaftCluster, TestCluster, fast_config, tenant_id};
use crate::cluster::{RaftStateClient, RetryPolicy};
use crate::raft::NodeId;

const LEASE: Duration = Duration::from_secs(3);
const ALIVE_WINDOW_MS: u64 = 3_000;
const WAIT: Duration = Duration::from_secs(10);

fn job_id(n: u128) -> JobId {
    JobId::from_uuid(Uuid::from_u128(n))
}

fn job(n: u128, gated: bool) -> JobSpec {
    JobSpec {
        id: job_id(n),
        tenant: tenant_id(1),
        kind: JobKind::Train,
        priority: 0,
        resources: Resources::default(),
        payload: json!({ "gated": gated }),
    }
}

/// Finishes at once, or (payload `"gated": true`) once the test opens the gate; counts runs.
#[derive(Debug, Default)]
struct GatedRunner {
    open: Mutex<bool>,
    changed: Condvar,
    runs: Mutex<BTreeMap<JobId, usize>>,
    running: AtomicUsize,
}

impl GatedRunner {
    fn open(&self) {
        *self.open.lock().expect("gate lock") = true;
        self.changed.notify_all();
    }

    fn runs(&self, job: JobId) -> usize {
        self.runs
            .lock()
            .expect("runs lock")
            .get(&job)
            .copied()
            .unwrap_or_default()
    }
}

impl JobRunner for GatedRunner {
    fn run(&self, job: &Job, context: &RunContext<'_>) -> Result<Value, String> {
        *self
            .runs
            .lock()
            .expect("runs lock")
            .entry(job.spec.id)
            .or_default() += 1;
        if job.spec.payload["gated"] == json!(true) {
            // Counted before the checkpoint, which the test waits for: once the checkpoint
            // is in the state, the run is counted.
            self.running.fetch_add(1, Ordering::SeqCst);
            context.record_checkpoint(CheckpointUrl::new(format!("file:///ckpt/{}", job.spec.id)));
            let guard = self.open.lock().expect("gate lock");
            let _open = self
                .changed
                .wait_timeout_while(guard, Duration::from_secs(15), |open| !*open)
                .expect("gate lock");
        }
        Ok(json!({ "job": job.spec.id.to_string() }))
    }
}

struct Runtime {
    scheduler: ActorRef<ClusterMsg>,
    nodes: Vec<ActorRef<NodeMsg>>,
    events: UnboundedReceiver<RuntimeEvent>,
    client: Arc<RaftStateClient>,
}

impl Runtime {
    /// The scheduler on node 1's client and one node supervisor per Raft member, each on
    /// its own member's client.
    async fn start(cluster: &RaftCluster, ids: &[NodeId], runner: Arc<GatedRunner>) -> Self {
        let (sink, events) = EventSink::channel();
        // The scheduler finds the node supervisors through pg; a scope of this runtime's
        // own keeps other tests' actors (the registry is global to the process) apart.
        let groups = ActorGroups::new(format!("jobs-test-{}", Uuid::new_v4()));
        let client = cluster.client(1, RetryPolicy::default());
        let supervisor = ClusterSupervisor {
            client: client.clone(),
            config: SchedulerConfig {
                placement: PlacementConfig {
                    alive_window_ms: ALIVE_WINDOW_MS,
                    concurrency: ConcurrencyLimit::PerCore { jobs_per_core: 1 },
                },
                lease: LEASE,
                tick_interval: Duration::from_millis(50),
            },
            events: sink.clone(),
            groups: groups.clone(),
        };
        let (scheduler, _) = Actor::spawn(None, supervisor, ())
            .await
            .expect("the cluster supervisor starts");
        let mut nodes = Vec::new();
        for &id in ids {
            let spec = NodeSpec {
                id: mirage_core::NodeId(id),
                address: super::address(id),
                cpu_cores: 2,
                memory_bytes: 8 << 30,
                gpus: Vec::new(),
            };
            let supervisor = NodeSupervisor {
                spec,
                client: cluster.client(id, RetryPolicy::default()),
                runner: runner.clone(),
                config: NodeConfig {
                    heartbeat_interval: Duration::from_millis(100),
                    lease: LEASE,
                },
                // The workers' events reach the test through the scheduler, which they
                // relay them to (as a gateway on the leader sees them).
                events: EventSink::none(),
                groups: groups.clone(),
            };
            let (node, _) = Actor::spawn(None, supervisor, ())
                .await
                .expect("a node supervisor starts");
            nodes.push(node);
        }
        Self {
            scheduler,
            nodes,
            events,
            client,
        }
    }

    async fn wait_for<T>(&self, what: &str, check: impl Fn(&ClusterState) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(state) = self.client.read().await
                && let Some(found) = check(&state)
            {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every event emitted so far.
    fn drain(&mut self) -> Vec<RuntimeEvent> {
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
        }
        events
    }

    fn stop(&self) {
        for node in &self.nodes {
            node.stop(None);
        }
        self.scheduler.stop(None);
    }
}

fn finished(n: u128) -> impl Fn(&ClusterState) -> Option<JobState> {
    move |state| {
        state
            .job(job_id(n))
            .filter(|job| job.state.is_terminal())
            .map(|job| job.state.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_complete_exactly_once_across_a_raft_leader_death() -> anyhow::Result<()> {
    let settings = Settings {
        node_timeout_ms: ALIVE_WINDOW_MS,
        ..Settings::default()
    };
    let cluster = RaftCluster::start(&[1, 2, 3], fast_config(), settings).await?;
    let runner = Arc::new(GatedRunner::default());
    let mut runtime = Runtime::start(&cluster, &[1, 2, 3], runner.clone()).await;

    // A job submitted through a follower's client runs and completes.
    let submitter = cluster.client(3, RetryPolicy::default());
    assert_eq!(
        submitter.apply(Command::SubmitJob(job(1, false))).await?,
        Ok(Outcome::Applied)
    );
    let state = runtime.wait_for("job 1 to finish", finished(1)).await;
    assert!(matches!(state, JobState::Succeeded { .. }), "{state:?}");

    // A job is running when the Raft leader dies.
    submitter
        .apply(Command::SubmitJob(job(2, true)))
        .await?
        .map_err(anyhow::Error::from)?;
    let (node, token) = runtime
        .wait_for("job 2 to run", |state| {
            let job = state.job(job_id(2))?;
            job.checkpoint.as_ref()?;
            Some((job.running_on()?, job.lease_token()?))
        })
        .await;
    assert_eq!(runner.running.load(Ordering::SeqCst), 1);
    let leader = cluster.leader(Duration::from_secs(5)).await?;
    cluster.kill(leader).await?;
    let new_leader = cluster.leader(Duration::from_secs(5)).await?;
    assert_ne!(new_leader, leader);
    println!(
        "job 2 runs on node {node} under token {token}; raft leader {leader} killed, {new_leader} elected"
    );

    // The job finishes under its first lease, once.
    runner.open();
    let state = runtime.wait_for("job 2 to finish", finished(2)).await;
    let JobState::Succeeded {
        node: done_on,
        token: done_token,
        result,
    } = state
    else {
        panic!("job 2 did not succeed: {state:?}");
    };
    assert_eq!((done_on, done_token), (node, token));
    assert_eq!(runner.runs(job_id(2)), 1);
    let final_state = runtime.client.read().await?;
    assert_eq!(final_state.job(job_id(2)).map(|job| job.attempts), Some(1));

    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = runtime.drain();
    let completions = events
        .iter()
        .filter(
            |event| matches!(event, RuntimeEvent::JobCompleted { job, .. } if *job == job_id(2)),
        )
        .count();
    let discarded: Vec<_> = events
        .iter()
        .filter(|event| matches!(event, RuntimeEvent::OutcomeDiscarded { .. }))
        .collect();
    assert_eq!(completions, 1, "{events:?}");
    assert!(discarded.is_empty(), "{discarded:?}");

    // No second completion is accepted: the same one again changes nothing, another
    // result or another token is refused.
    let again = Command::Complete {
        job: job_id(2),
        token,
        result: result.clone(),
    };
    assert_eq!(submitter.apply(again).await?, Ok(Outcome::Unchanged));
    let other_result = Command::Complete {
        job: job_id(2),
        token,
        result: json!({ "job": "someone else" }),
    };
    assert!(matches!(
        submitter.apply(other_result).await?,
        Err(StateError::Conflict { .. })
    ));
    let other_token = Command::Complete {
        job: job_id(2),
        token: token + 1,
        result,
    };
    assert!(submitter.apply(other_token).await?.is_err());

    runtime.stop();
    let states = cluster.converge(Duration::from_secs(5)).await;
    cluster.shutdown().await?;
    let states = states?;
    for (id, state) in states {
        assert_eq!(
            state.job(job_id(2)).map(|job| &job.state),
            final_state.job(job_id(2)).map(|job| &job.state),
            "node {id}"
        );
    }
    Ok(())
}
