//! What the runtime did, for observers (tests, metrics, the operator console).

use mirage_core::{JobId, NodeId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::runner::JobProgress;

/// One thing the runtime did. Workers and node supervisors relay theirs to the scheduler
/// (serialized), so variants are only ever added at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RuntimeEvent {
    /// The scheduler gave a job to a node under a new lease.
    JobAssigned {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
    },
    /// A worker started running a job.
    WorkerStarted {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
        /// The checkpoint it resumes from.
        resumed_from: Option<String>,
    },
    /// A worker's checkpoint was recorded.
    CheckpointRecorded {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
        /// Where the checkpoint is.
        url: String,
    },
    /// A running job reported progress.
    JobProgress {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
        /// How far it is.
        progress: JobProgress,
    },
    /// A job's result was recorded.
    JobCompleted {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
    },
    /// A job was marked failed.
    JobFailed {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lease's fencing token.
        token: u64,
        /// Why.
        error: String,
    },
    /// A worker's outcome was refused (its lease was gone) and thrown away.
    OutcomeDiscarded {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The stale fencing token.
        token: u64,
        /// The refusal.
        reason: String,
    },
    /// A node's heartbeat found it no longer holds a lease; its worker was stopped.
    LeaseLost {
        /// The job.
        job: JobId,
        /// The node.
        node: NodeId,
        /// The lost token.
        token: u64,
    },
}

/// Where the runtime sends its [`RuntimeEvent`]s; the default sends nowhere.
#[derive(Debug, Clone, Default)]
pub struct EventSink(Option<mpsc::UnboundedSender<RuntimeEvent>>);

impl EventSink {
    /// A sink that drops every event.
    pub fn none() -> Self {
        Self(None)
    }

    /// A sink and the receiver of its events.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<RuntimeEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(Some(tx)), rx)
    }

    /// Sends `event` (dropped when no one listens).
    pub fn emit(&self, event: RuntimeEvent) {
        if let Some(tx) = &self.0 {
            // A closed receiver only means no one is watching any more.
            let _ = tx.send(event);
        }
    }
}
