//! The commands Raft replicates: every change to [`super::ClusterState`] is one of these.
//!
//! Commands carry no timestamps of their own: the leader stamps each log entry and
//! [`super::ClusterState::apply`] takes that stamp, so replaying the log gives the same
//! state on every node. Commands are a versioned contract: add variants at the end, never
//! rename.

use mirage_core::{DatasetId, GenerationId, JobId, NodeId, TenantId};
use mirage_privacy::{MechanismEvent, Spend};
use serde::{Deserialize, Serialize};

use super::catalog::{DatasetSpec, ModelSpec};
use super::jobs::JobSpec;
use super::nodes::NodeSpec;
use super::results::{GenerationSpec, ReportSpec};
use super::tenants::Role;

/// A lease a node claims to hold, renewed by its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaim {
    /// The job.
    pub job: JobId,
    /// The fencing token the node was given.
    pub token: u64,
}

/// One change to the cluster state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Adds a node to the registry, or updates its address and resources after a restart
    /// (counts as a heartbeat).
    RegisterNode(NodeSpec),
    /// Marks the node alive now and renews the leases it claims; the answer lists the
    /// claims it no longer holds, whose work it must stop and discard.
    Heartbeat {
        /// The node.
        node: NodeId,
        /// The leases it believes it holds.
        #[serde(default)]
        leases: Vec<LeaseClaim>,
    },
    /// Removes a node; its running jobs are re-queued at once.
    RemoveNode {
        /// The node.
        node: NodeId,
    },
    /// Registers a dataset (idempotent; a different dataset under the same id is refused).
    RegisterDataset(DatasetSpec),
    /// Records a dataset's schema, profile and row count (given fields replace the old).
    SetDatasetProfile {
        /// The dataset.
        dataset: DatasetId,
        /// Its schema, as JSON.
        #[serde(default)]
        schema: Option<serde_json::Value>,
        /// Its profile (or a reference to it in object storage), as JSON.
        #[serde(default)]
        profile: Option<serde_json::Value>,
        /// Its row count.
        #[serde(default)]
        rows: Option<u64>,
    },
    /// Registers an immutable model version (idempotent; different content is refused).
    RegisterModel(ModelSpec),
    /// Queues a job (idempotent by id; a different job under the same id is refused).
    SubmitJob(JobSpec),
    /// Gives a queued job to an alive node that has room for it, under a new lease.
    Assign {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// How long the lease lasts unless renewed.
        lease_ms: u64,
        /// The GPU to use; `None` lets the state pick the smallest free one that fits.
        #[serde(default)]
        gpu: Option<u32>,
    },
    /// Extends a lease by its duration; refused with a stale or expired token.
    RenewLease {
        /// The job.
        job: JobId,
        /// The node holding it.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
    },
    /// Re-queues every running job whose lease has run out (keeping its last checkpoint).
    ExpireLeases,
    /// Records the job's latest checkpoint in object storage.
    Checkpoint {
        /// The job.
        job: JobId,
        /// The lease's fencing token.
        token: u64,
        /// Where the checkpoint is.
        url: String,
    },
    /// Marks the job succeeded with its result (idempotent for the same token).
    Complete {
        /// The job.
        job: JobId,
        /// The lease's fencing token.
        token: u64,
        /// What it produced, as JSON.
        #[serde(default)]
        result: serde_json::Value,
    },
    /// Marks the job failed (idempotent for the same token) — or, when `retry` is set (its
    /// worker crashed rather than reporting an error) and it has had fewer than
    /// [`super::Settings::max_attempts`] leases, puts it back in the queue to run again
    /// from its last checkpoint.
    Fail {
        /// The job.
        job: JobId,
        /// The lease's fencing token.
        token: u64,
        /// Why it failed.
        error: String,
        /// Whether another attempt may succeed (a crash, not an error the work reported).
        #[serde(default)]
        retry: bool,
    },
    /// Stops a queued or running job at a user's request.
    Cancel {
        /// The job.
        job: JobId,
    },
    /// Records a generation (idempotent; different content is refused).
    RecordGeneration(GenerationSpec),
    /// Records a quality report (idempotent; different content is refused).
    RecordReport(ReportSpec),
    /// Creates a tenant (idempotent; a different name under the same id is refused).
    CreateTenant {
        /// The tenant.
        id: TenantId,
        /// Its display name.
        name: String,
    },
    /// Adds an API key for a tenant. Only the key's SHA-256 ([`super::hash_api_key`])
    /// travels through Raft; the key itself is never stored.
    AddApiKey {
        /// The tenant it authenticates.
        tenant: TenantId,
        /// Hex SHA-256 of the key.
        key_hash: String,
        /// A name for the key ("ci", "laptop").
        #[serde(default)]
        label: String,
        /// What the key may do (analyst, read-only, when left out).
        #[serde(default)]
        role: Role,
    },
    /// Revokes an API key (idempotent).
    RevokeApiKey {
        /// Hex SHA-256 of the key.
        key_hash: String,
    },
    /// Sets or changes a dataset's privacy budget (never below what is committed and reserved).
    SetBudget {
        /// The dataset.
        dataset: DatasetId,
        /// The budget.
        budget: Spend,
    },
    /// Holds planned spend for a request before it runs; refused if it would overspend.
    Reserve {
        /// The dataset.
        dataset: DatasetId,
        /// The request (usually the job id).
        request: String,
        /// The planned spend.
        spend: Spend,
    },
    /// Makes a request's actual spend (at most its reservation) permanent.
    Commit {
        /// The dataset.
        dataset: DatasetId,
        /// The request.
        request: String,
        /// The actual spend.
        spend: Spend,
        /// The mechanisms it ran, with their parameters, for the audit log.
        #[serde(default)]
        mechanisms: Vec<MechanismEvent>,
    },
    /// Gives a reservation back unspent (idempotent).
    Release {
        /// The dataset.
        dataset: DatasetId,
        /// The request.
        request: String,
    },
    /// Lets a generation's rows be pulled although its quality gate failed (an admin's
    /// decision, recorded; idempotent).
    ReleaseGeneration {
        /// The generation.
        generation: GenerationId,
    },
    /// Removes a dataset's record (its ledger stays, for audit); refused while a queued or
    /// running job reads it.
    DeleteDataset {
        /// The dataset.
        dataset: DatasetId,
    },
}
