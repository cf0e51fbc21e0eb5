//! Runtime tests: a [`LocalState`], the cluster supervisor and node supervisors in one
//! process, with fake [`JobRunner`]s. The scheduler finds the node supervisors through pg,
//! in a scope of each cluster's own (the pg registry is global to the test process). Real (short) timers: a runner blocked on a thread
//! keeps tokio's paused clock from advancing, and these tests need leases to run out while
//! a runner is blocked.

mod flows;
mod local_state;
mod runners;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mirage_core::NodeId;
use ractor::{Actor, ActorRef};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    ActorGroups, ClusterMsg, ClusterSupervisor, EventSink, JobRunner, LocalState, NodeConfig,
    NodeMsg, NodeSupervisor, RuntimeEvent, SchedulerConfig, StateClient,
};
use crate::placement::{ConcurrencyLimit, PlacementConfig};
use crate::state::{ClusterState, Command, JobSpec, NodeSpec, Settings};

const HEARTBEAT: Duration = Duration::from_millis(25);
const TICK: Duration = Duration::from_millis(20);
const LEASE: Duration = Duration::from_millis(400);
/// A node silent this long is dead (for placement and the state alike).
const ALIVE_WINDOW_MS: u64 = 250;
const WAIT: Duration = Duration::from_secs(5);

/// A pg scope no other test uses.
fn fresh_groups() -> ActorGroups {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    ActorGroups::new(format!(
        "runtime-test-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// One in-process cluster: the state, the scheduler and an event stream.
struct Cluster {
    groups: ActorGroups,
    state: Arc<LocalState>,
    scheduler: ActorRef<ClusterMsg>,
    sink: EventSink,
    events: UnboundedReceiver<RuntimeEvent>,
    nodes: Vec<ActorRef<NodeMsg>>,
}

impl Cluster {
    async fn start(concurrency: ConcurrencyLimit) -> Self {
        let state = Arc::new(LocalState::new(Settings {
            node_timeout_ms: ALIVE_WINDOW_MS,
            ..Settings::default()
        }));
        let (sink, events) = EventSink::channel();
        let groups = fresh_groups();
        let supervisor = ClusterSupervisor {
            client: state.clone(),
            config: SchedulerConfig {
                placement: PlacementConfig {
                    alive_window_ms: ALIVE_WINDOW_MS,
                    concurrency,
                },
                lease: LEASE,
                tick_interval: TICK,
            },
            events: sink.clone(),
            groups: groups.clone(),
        };
        let (scheduler, _) = Actor::spawn(None, supervisor, ())
            .await
            .expect("cluster supervisor starts");
        Self {
            groups,
            state,
            scheduler,
            sink,
            events,
            nodes: Vec::new(),
        }
    }

    /// Starts a node supervisor for `spec` (a `testing::node` command); it joins its pg
    /// group, where the scheduler finds it.
    async fn add_node(&mut self, node: Command, runner: Arc<dyn JobRunner>) -> ActorRef<NodeMsg> {
        self.add_node_with_sink(node, runner, self.sink.clone())
            .await
    }

    /// [`Self::add_node`] with the node's events going to `sink` (the scheduler's sink
    /// still gets them, relayed).
    async fn add_node_with_sink(
        &mut self,
        node: Command,
        runner: Arc<dyn JobRunner>,
        sink: EventSink,
    ) -> ActorRef<NodeMsg> {
        let Command::RegisterNode(spec) = node else {
            panic!("not a node: {node:?}");
        };
        let (supervisor, _) = Actor::spawn(
            None,
            node_supervisor(spec, &self.state, runner, &sink, &self.groups),
            (),
        )
        .await
        .expect("node supervisor starts");
        self.nodes.push(supervisor.clone());
        supervisor
    }

    async fn submit(&self, spec: JobSpec) {
        self.state
            .apply(Command::SubmitJob(spec))
            .await
            .expect("local state answers")
            .expect("job accepted");
    }

    /// Polls the state until `check` returns something, or panics after [`WAIT`].
    async fn wait_for<T>(&self, what: &str, check: impl Fn(&ClusterState) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let snapshot = self.state.read().await.expect("local state answers");
            if let Some(found) = check(&snapshot) {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; jobs: {:#?}", snapshot.jobs());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the first event matching `wanted` (skipping others), or panics after [`WAIT`].
    async fn wait_event(
        &mut self,
        what: &str,
        wanted: impl Fn(&RuntimeEvent) -> bool,
    ) -> RuntimeEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) if wanted(&event) => return event,
                Ok(Some(_)) => {}
                Ok(None) => panic!("event stream closed waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    async fn shutdown(self) {
        for node in &self.nodes {
            node.stop(None);
        }
        self.scheduler.stop(None);
    }
}

fn node_supervisor(
    spec: NodeSpec,
    state: &Arc<LocalState>,
    runner: Arc<dyn JobRunner>,
    sink: &EventSink,
    groups: &ActorGroups,
) -> NodeSupervisor {
    NodeSupervisor {
        spec,
        client: state.clone(),
        runner,
        config: NodeConfig {
            heartbeat_interval: HEARTBEAT,
            lease: LEASE,
        },
        events: sink.clone(),
        groups: groups.clone(),
    }
}

fn node_id(n: u64) -> NodeId {
    NodeId(n)
}
