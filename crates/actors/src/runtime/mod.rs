//! The actor runtime (ractor, networked by ractor_cluster), on top of the pure state
//! machine and placement.
//!
//! - [`StateClient`]: how actors reach the cluster state. [`LocalState`] keeps it in this
//!   process's memory; the Raft-replicated store will implement the same trait.
//! - [`ClusterSupervisor`]: the scheduler on a timer: expire leases, [`crate::place`],
//!   `Assign`, then tell the node's supervisor to start the job.
//! - [`NodeSupervisor`]: one per node: registers it, heartbeats with its leases (the only
//!   renewal), stops workers whose lease is lost, starts and supervises one [`Worker`] per
//!   job and marks a failed worker's job failed.
//! - [`Worker`]: runs a [`JobRunner`] on a blocking thread and writes its checkpoints and
//!   outcome under the lease's fencing token; a refused outcome is thrown away.
//! - [`ActorGroups`]: where actors find each other (pg groups, mirrored across nodes).
//! - [`ActorNet`]: the node server that connects this node's actors to its peers'.
//!
//! Observers can follow what happens through an [`EventSink`]; the cluster supervisor's
//! sink also gets the events relayed by workers on every node.

pub mod client;
pub mod cluster;
pub mod error;
pub mod events;
pub mod groups;
pub mod net;
pub mod node;
pub mod runner;
pub mod wire;
pub mod worker;

#[cfg(test)]
mod tests;

pub use client::{ClientFuture, LocalState, StateClient, command_name};
pub use cluster::{Assignment, ClusterMsg, ClusterSupervisor, SchedulerConfig};
pub use error::{ClientError, RuntimeError, RuntimeResult};
pub use events::{EventSink, RuntimeEvent};
pub use groups::{ActorGroups, DEFAULT_SCOPE, SCHEDULER_GROUP, node_group};
pub use net::{ActorNet, LinkConfig, PeerSession, actor_node_name};
pub use node::{NodeConfig, NodeMsg, NodeSupervisor};
pub use runner::{CheckpointUrl, JobProgress, JobRunner, RunContext};
pub use wire::{EventPayload, JobPayload, LeaseClaims};
pub use worker::{Worker, WorkerArgs, WorkerMsg};
