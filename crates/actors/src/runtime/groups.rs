//! How actors find each other, on this node or another: `ractor::pg` process groups,
//! which `ractor_cluster` mirrors across connected nodes (a remote member is a proxy that
//! serializes what it is sent).
//!
//! - Each node supervisor joins [`node_group`] for its node; the scheduler finds the
//!   supervisor of a placed node there.
//! - The cluster supervisor joins [`SCHEDULER_GROUP`]; workers and node supervisors relay
//!   their events to its members (best effort).
//!
//! Every group lives in one pg scope ([`DEFAULT_SCOPE`] in production). Tests give each
//! in-process cluster its own scope, since the pg registry is global to the process.

use mirage_core::NodeId;
use ractor::{ActorRef, pg};
use tracing::debug;

use super::cluster::ClusterMsg;
use super::events::{EventSink, RuntimeEvent};
use super::node::NodeMsg;
use super::wire::EventPayload;

/// The pg scope production actors use.
pub const DEFAULT_SCOPE: &str = "mirage";

/// The group the cluster supervisor (on the Raft leader) joins.
pub const SCHEDULER_GROUP: &str = "mirage.scheduler";

/// The group the supervisor of `node` joins: `mirage.node.<id>`.
pub fn node_group(node: NodeId) -> String {
    format!("mirage.node.{}", node.0)
}

/// The pg scope the runtime's actors meet in, and the lookups they make there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActorGroups {
    scope: String,
}

impl Default for ActorGroups {
    fn default() -> Self {
        Self::new(DEFAULT_SCOPE)
    }
}

impl ActorGroups {
    /// The groups of `scope` (every node of a cluster must use the same one).
    pub fn new(scope: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
        }
    }

    /// The pg scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Makes `supervisor` the one the scheduler sends `node`'s work to.
    pub fn join_node(&self, node: NodeId, supervisor: &ActorRef<NodeMsg>) {
        pg::join_scoped(
            self.scope.clone(),
            node_group(node),
            vec![supervisor.get_cell()],
        );
    }

    /// Takes `supervisor` out of `node`'s group (stopping an actor does this too).
    pub fn leave_node(&self, node: NodeId, supervisor: &ActorRef<NodeMsg>) {
        pg::leave_scoped(
            self.scope.clone(),
            node_group(node),
            vec![supervisor.get_cell()],
        );
    }

    /// The supervisor of `node`, local or remote; a local one is preferred when both are
    /// listed (a node restarting while its old session lingers).
    pub fn node_supervisor(&self, node: NodeId) -> Option<ActorRef<NodeMsg>> {
        let members = pg::get_scoped_members(&self.scope, &node_group(node));
        let chosen = members
            .iter()
            .find(|cell| cell.get_id().is_local())
            .or_else(|| members.first())?;
        Some(ActorRef::from(chosen.clone()))
    }

    /// Makes `scheduler` receive the events the workers relay.
    pub fn join_scheduler(&self, scheduler: &ActorRef<ClusterMsg>) {
        pg::join_scoped(
            self.scope.clone(),
            SCHEDULER_GROUP.to_owned(),
            vec![scheduler.get_cell()],
        );
    }

    /// Takes `scheduler` out of the scheduler group (stopping it does this too).
    pub fn leave_scheduler(&self, scheduler: &ActorRef<ClusterMsg>) {
        pg::leave_scoped(
            self.scope.clone(),
            SCHEDULER_GROUP.to_owned(),
            vec![scheduler.get_cell()],
        );
    }

    /// The cluster supervisors in the scheduler group, local or remote (one, once
    /// leadership has settled).
    pub fn schedulers(&self) -> Vec<ActorRef<ClusterMsg>> {
        pg::get_scoped_members(&self.scope, &SCHEDULER_GROUP.to_owned())
            .into_iter()
            .map(ActorRef::from)
            .collect()
    }

    /// Sends `event` to every scheduler, wherever it runs. Best effort: a scheduler that is
    /// gone or unreachable misses it (the Raft state stays the source of truth).
    pub fn relay(&self, event: &RuntimeEvent) {
        for scheduler in self.schedulers() {
            let message = ClusterMsg::Event {
                event: EventPayload(event.clone()),
            };
            if let Err(err) = scheduler.send_message(message) {
                debug!(scheduler = ?scheduler.get_id(), error = %err, "event not relayed");
            }
        }
    }

    /// Emits `event` to `sink` (this node's observers) and relays it to the scheduler.
    pub fn publish(&self, sink: &EventSink, event: RuntimeEvent) {
        self.relay(&event);
        sink.emit(event);
    }
}
