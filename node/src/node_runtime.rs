//! The actor runtime of one node: its [`NodeSupervisor`] (always), the
//! [`ClusterSupervisor`] (only while this node leads Raft: it moves when leadership moves),
//! and the hub where the runtime's events land for the node's services.
//!
//! The supervisor of a node is started once the cluster state is reachable (it registers
//! the node in `pre_start`); until then the runtime keeps trying. The leadership watcher
//! polls the Raft metrics: on becoming leader it starts a scheduler, on losing leadership it
//! stops it. Two schedulers for a moment (an old leader that has not noticed yet) are safe:
//! every assignment goes through the replicated state, which refuses a second lease.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mirage_actors::placement::PlacementConfig;
use mirage_actors::runtime::{
    ActorGroups, ClusterMsg, ClusterSupervisor, EventSink, JobProgress, JobRunner,
    NodeConfig as ActorNodeConfig, NodeMsg, NodeSupervisor, RuntimeEvent, SchedulerConfig,
};
use mirage_actors::{NodeSpec, StateClient};
use mirage_core::JobId;
use mirage_core::config::ClusterTimingConfig;
use ractor::{Actor, ActorRef};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cluster::ClusterNode;
use crate::raft::RaftRole;

/// How often the watcher looks at who leads.
const LEADERSHIP_POLL: Duration = Duration::from_millis(150);

/// How long to wait between attempts to start the node supervisor.
const START_RETRY: Duration = Duration::from_millis(500);

/// The events of this node's runtime, kept for its services: the latest progress of each
/// job seen here.
#[derive(Debug, Clone)]
pub struct EventHub {
    latest: Arc<Mutex<BTreeMap<JobId, JobProgress>>>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self {
            latest: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// A sink for the runtime and the task that feeds this hub from it.
    pub fn sink(&self) -> (EventSink, JoinHandle<()>) {
        let (sink, receiver) = EventSink::channel();
        let hub = self.clone();
        (sink, tokio::spawn(hub.feed(receiver)))
    }

    async fn feed(self, mut receiver: mpsc::UnboundedReceiver<RuntimeEvent>) {
        while let Some(event) = receiver.recv().await {
            self.record(event);
        }
    }

    /// Takes one event.
    pub fn record(&self, event: RuntimeEvent) {
        tracing::debug!(?event, "runtime event");
        if let RuntimeEvent::JobProgress { job, progress, .. } = &event {
            let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            latest.insert(*job, progress.clone());
        }
    }

    /// The latest progress this node saw for `job`.
    pub fn progress(&self, job: JobId) -> Option<JobProgress> {
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.get(&job).cloned()
    }
}

/// The runtime's timings, from the node's `[cluster]` section.
pub fn scheduler_config(timing: &ClusterTimingConfig) -> SchedulerConfig {
    SchedulerConfig {
        placement: PlacementConfig {
            // A node is considered gone once it missed heartbeats for a lease's length.
            alive_window_ms: timing.lease_ms,
            ..PlacementConfig::default()
        },
        lease: Duration::from_millis(timing.lease_ms),
        tick_interval: Duration::from_millis(timing.schedule_ms),
    }
}

/// The node supervisor's settings from the node's `[cluster]` section.
pub fn node_actor_config(timing: &ClusterTimingConfig) -> ActorNodeConfig {
    ActorNodeConfig {
        heartbeat_interval: Duration::from_millis(timing.node_heartbeat_ms),
        lease: Duration::from_millis(timing.lease_ms),
    }
}

/// One node's actors.
pub struct NodeRuntime {
    tasks: Vec<JoinHandle<()>>,
    supervisor: Arc<Mutex<Option<ActorRef<NodeMsg>>>>,
    scheduler: Arc<Mutex<Option<ActorRef<ClusterMsg>>>>,
    hub: EventHub,
}

impl std::fmt::Debug for NodeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRuntime").finish_non_exhaustive()
    }
}

/// What the runtime is started with.
pub struct RuntimeParts {
    /// This node's description (registered by its supervisor).
    pub spec: NodeSpec,
    /// This node's Raft member (for leadership).
    pub raft: Arc<ClusterNode>,
    /// The replicated state.
    pub client: Arc<dyn StateClient>,
    /// The work.
    pub runner: Arc<dyn JobRunner>,
    /// Timings.
    pub timing: ClusterTimingConfig,
    /// The process groups where the scheduler finds node supervisors (on any node linked
    /// through ractor_cluster) and workers relay progress to the scheduler.
    pub groups: ActorGroups,
}

impl NodeRuntime {
    /// Starts the node supervisor (retrying until the state is reachable) and the
    /// leadership watcher. Returns at once.
    pub fn start(parts: RuntimeParts) -> Self {
        let hub = EventHub::new();
        let (events, feeder) = hub.sink();
        let supervisor = Arc::new(Mutex::new(None));
        let scheduler = Arc::new(Mutex::new(None));
        let starter = tokio::spawn(start_node_supervisor(
            NodeSupervisorParts {
                spec: parts.spec.clone(),
                client: Arc::clone(&parts.client),
                runner: Arc::clone(&parts.runner),
                config: node_actor_config(&parts.timing),
                events: events.clone(),
                groups: parts.groups.clone(),
            },
            Arc::clone(&supervisor),
        ));
        let watcher = tokio::spawn(follow_leadership(
            parts.raft,
            Arc::clone(&parts.client),
            scheduler_config(&parts.timing),
            events,
            parts.groups,
            Arc::clone(&scheduler),
            parts.spec,
        ));
        Self {
            tasks: vec![feeder, starter, watcher],
            supervisor,
            scheduler,
            hub,
        }
    }

    /// The node's event hub.
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// Stops the actors. Blocking runs go on until their threads end; whatever they write
    /// afterwards is fenced by their lease tokens.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        let scheduler = self
            .scheduler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(scheduler) = scheduler {
            let _ = scheduler
                .stop_and_wait(Some("node stopping".into()), Some(Duration::from_secs(2)))
                .await;
        }
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor
                .stop_and_wait(Some("node stopping".into()), Some(Duration::from_secs(2)))
                .await;
        }
    }
}

struct NodeSupervisorParts {
    spec: NodeSpec,
    client: Arc<dyn StateClient>,
    runner: Arc<dyn JobRunner>,
    config: ActorNodeConfig,
    events: EventSink,
    groups: ActorGroups,
}

/// Spawns the node supervisor, retrying while its registration cannot reach the state.
async fn start_node_supervisor(
    parts: NodeSupervisorParts,
    slot: Arc<Mutex<Option<ActorRef<NodeMsg>>>>,
) {
    loop {
        let supervisor = NodeSupervisor {
            spec: parts.spec.clone(),
            client: Arc::clone(&parts.client),
            runner: Arc::clone(&parts.runner),
            config: parts.config,
            events: parts.events.clone(),
            groups: parts.groups.clone(),
        };
        match Actor::spawn(None, supervisor, ()).await {
            Ok((actor, _)) => {
                tracing::info!(node = %parts.spec.id, "node supervisor started");
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(actor);
                return;
            }
            Err(error) => {
                tracing::warn!(node = %parts.spec.id, %error, "node supervisor could not start yet; retrying");
                tokio::time::sleep(START_RETRY).await;
            }
        }
    }
}

/// Starts a scheduler when this node becomes leader and stops it when it steps down. The
/// scheduler finds the node supervisors (here and on the linked nodes) through `groups`.
async fn follow_leadership(
    raft: Arc<ClusterNode>,
    client: Arc<dyn StateClient>,
    config: SchedulerConfig,
    events: EventSink,
    groups: ActorGroups,
    slot: Arc<Mutex<Option<ActorRef<ClusterMsg>>>>,
    own: NodeSpec,
) {
    let mut ticks = tokio::time::interval(LEADERSHIP_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Ok(metrics) = raft.metrics().await else {
            return;
        };
        let leading = metrics.role == RaftRole::Leader;
        let running = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match (leading, running) {
            (true, None) => {
                let scheduler = ClusterSupervisor {
                    client: Arc::clone(&client),
                    config,
                    events: events.clone(),
                    groups: groups.clone(),
                };
                match Actor::spawn(None, scheduler, ()).await {
                    Ok((actor, _)) => {
                        tracing::info!(node = %own.id, term = metrics.term, "leading: scheduler started");
                        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(actor);
                    }
                    Err(error) => {
                        tracing::warn!(node = %own.id, %error, "scheduler could not start");
                    }
                }
            }
            (false, Some(actor)) => {
                tracing::info!(node = %own.id, term = metrics.term, "no longer leading: scheduler stopped");
                actor.stop(Some("leadership lost".into()));
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            _ => {}
        }
    }
}
