//! Why the replicated state refused a command.
//!
//! A refusal is part of the Raft response, so [`StateError`] is serde: the node that
//! proposed the command (perhaps not the leader) gets it back as data.

use mirage_core::{DatasetId, ErrorCode, GenerationId, JobId, ModelId, NodeId, TenantId};
use serde::{Deserialize, Serialize};

/// A command the state machine refused; the state is unchanged (apart from its clock).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum StateError {
    /// The node is not in the registry.
    #[error("node {node} is not registered; register it before sending it work")]
    UnknownNode {
        /// The node.
        node: NodeId,
    },
    /// The job was never submitted.
    #[error("job {job} does not exist")]
    UnknownJob {
        /// The job.
        job: JobId,
    },
    /// The dataset was never registered.
    #[error("dataset {dataset} is not registered; register it first")]
    UnknownDataset {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The model version was never registered.
    #[error("model {model} is not registered")]
    UnknownModel {
        /// The model.
        model: ModelId,
    },
    /// The generation was never recorded.
    #[error("generation {generation} is not recorded")]
    UnknownGeneration {
        /// The generation.
        generation: GenerationId,
    },
    /// The tenant does not exist.
    #[error("tenant {tenant} does not exist; create it first")]
    UnknownTenant {
        /// The tenant.
        tenant: TenantId,
    },
    /// An id already names a record with different content (records are immutable).
    #[error("{record} {id} already exists with a different {field}; use a new id")]
    Conflict {
        /// The kind of record ("job", "model", …).
        record: String,
        /// Its id.
        id: String,
        /// The first field that differs.
        field: String,
    },
    /// A field of the command is malformed.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node has not sent a heartbeat within the state's node timeout.
    #[error(
        "node {node} is not alive (last heartbeat at {last_heartbeat_ms} ms, now {now_ms} ms); place the job elsewhere"
    )]
    NodeNotAlive {
        /// The node.
        node: NodeId,
        /// Its last heartbeat.
        last_heartbeat_ms: u64,
        /// The state's clock.
        now_ms: u64,
    },
    /// Only a queued job can be assigned.
    #[error("job {job} is {status}, not queued")]
    NotQueued {
        /// The job.
        job: JobId,
        /// Its status.
        status: String,
    },
    /// The job has finished and can no longer change.
    #[error("job {job} is already {status}")]
    AlreadyFinished {
        /// The job.
        job: JobId,
        /// Its final status.
        status: String,
    },
    /// The token is not the job's current lease: the sender lost the job and must stop.
    #[error("job {job}: lease token {token} is stale ({}); stop and discard the work", holder(*current))]
    StaleToken {
        /// The job.
        job: JobId,
        /// The token presented.
        token: u64,
        /// The current lease's token, if the job is running.
        current: Option<u64>,
    },
    /// The lease ran out before this command; the job will be re-queued.
    #[error("job {job}: lease {token} expired at {expired_at_ms} ms; stop and discard the work")]
    LeaseExpired {
        /// The job.
        job: JobId,
        /// The token presented.
        token: u64,
        /// When the lease ran out.
        expired_at_ms: u64,
    },
    /// The node lacks the free resources the job asks for.
    #[error("job {job} does not fit on node {node}: it needs {needed} {resource}, {free} free")]
    InsufficientResources {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// Which resource ("cpu cores", "memory bytes", "gpu memory bytes").
        resource: String,
        /// What the job asks for.
        needed: u64,
        /// What the node has free.
        free: u64,
    },
    /// The dataset has no privacy budget yet.
    #[error("dataset {dataset} is read by job {job}; wait for it to end or cancel it first")]
    DatasetInUse {
        /// The dataset.
        dataset: DatasetId,
        /// A job that reads it.
        job: JobId,
    },
    #[error("dataset {dataset} has no privacy budget; set one before reserving")]
    NoBudget {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The reservation would take committed + reserved spend past the budget.
    #[error(
        "dataset {dataset}, request {request}: reserving ε={requested_epsilon}, δ={requested_delta} exceeds the budget (ε={available_epsilon}, δ={available_delta} left)"
    )]
    BudgetExceeded {
        /// The dataset.
        dataset: DatasetId,
        /// The request.
        request: String,
        /// ε asked for.
        requested_epsilon: f64,
        /// δ asked for.
        requested_delta: f64,
        /// ε neither committed nor reserved.
        available_epsilon: f64,
        /// δ neither committed nor reserved.
        available_delta: f64,
    },
    /// Any other refusal of the dataset's ledger (a conflicting commit, a missing reservation).
    #[error("dataset {dataset}: {message}")]
    Ledger {
        /// The dataset.
        dataset: DatasetId,
        /// The ledger's reason.
        message: String,
    },
}

fn holder(current: Option<u64>) -> String {
    match current {
        Some(token) => format!("the current lease is {token}"),
        None => "the job holds no lease".into(),
    }
}

impl StateError {
    /// The API error code this refusal maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            StateError::UnknownNode { .. }
            | StateError::UnknownJob { .. }
            | StateError::UnknownDataset { .. }
            | StateError::UnknownModel { .. }
            | StateError::UnknownGeneration { .. }
            | StateError::UnknownTenant { .. } => ErrorCode::NotFound,
            StateError::Conflict { .. } => ErrorCode::AlreadyExists,
            StateError::InvalidField { .. } => ErrorCode::InvalidArgument,
            StateError::NodeNotAlive { .. }
            | StateError::NotQueued { .. }
            | StateError::AlreadyFinished { .. }
            | StateError::StaleToken { .. }
            | StateError::LeaseExpired { .. }
            | StateError::NoBudget { .. }
            | StateError::DatasetInUse { .. }
            | StateError::Ledger { .. } => ErrorCode::FailedPrecondition,
            StateError::InsufficientResources { .. } => ErrorCode::ResourceExhausted,
            StateError::BudgetExceeded { .. } => ErrorCode::BudgetExceeded,
        }
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        StateError::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(record: &str, id: impl ToString, field: &str) -> Self {
        StateError::Conflict {
            record: record.into(),
            id: id.to_string(),
            field: field.into(),
        }
    }
}

/// The result of the crate's fallible operations.
pub type Result<T> = std::result::Result<T, StateError>;
