//! Mirage's cluster runtime.
//!
//! - [`state`]: the replicated state machine as a deterministic pure type. Raft carries
//!   [`Command`]s with a leader-assigned timestamp; every node applies them in log order
//!   with [`ClusterState::apply`] and reaches the same [`ClusterState`], which is also the
//!   Raft snapshot (serde). Refusals are typed [`StateError`]s, never panics.
//! - [`placement`]: the scheduler's decision as a pure function of that state: which queued
//!   job goes to which node (GPUs, memory, concurrency, liveness, priority, tenant fairness).
//! - [`runtime`]: the ractor actors on top of these (cluster supervisor running the
//!   scheduler, node supervisors, workers), reaching the state through [`StateClient`] and
//!   each other, across nodes, through `ractor_cluster` ([`ActorNet`], [`ActorGroups`]).
//!
//! `state` and `placement` never run on an executor or do I/O; only `runtime` does.

pub mod error;
pub mod placement;
pub mod runtime;
pub mod state;

#[cfg(test)]
mod testing;

pub use error::{Result, StateError};
pub use placement::{ClusterView, ConcurrencyLimit, Placement, PlacementConfig, place};
pub use runtime::{
    ActorGroups, ActorNet, CheckpointUrl, ClientError, ClusterSupervisor, EventSink, JobProgress,
    JobRunner, LocalState, NodeSupervisor, RunContext, RuntimeError, RuntimeEvent, StateClient,
    Worker,
};
pub use state::{
    ApiKey, Checkpoint, ClusterState, Command, Dataset, DatasetSpec, Generation, GenerationSpec,
    Gpu, Job, JobSpec, JobState, Lease, LeaseClaim, ModelSpec, ModelVersion, Node, NodeSpec,
    NodeUsage, Outcome, QualityReport, ReportSpec, Resources, Response, Role, Settings, Tenant,
    hash_api_key,
};
