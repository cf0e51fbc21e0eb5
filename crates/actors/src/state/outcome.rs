//! What an applied command returns to the node that proposed it.

use mirage_core::{JobId, NodeId};
use serde::{Deserialize, Serialize};

use super::jobs::Lease;
use crate::error::StateError;

/// The answer to an accepted command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The command changed the state.
    Applied,
    /// The command repeated one already applied (a retry) and changed nothing.
    Unchanged,
    /// A job got a node and a lease.
    Assigned {
        /// The job.
        job: JobId,
        /// The node that runs it.
        node: NodeId,
        /// The GPU it uses, for GPU jobs.
        gpu: Option<u32>,
        /// The lease, with its fencing token.
        lease: Lease,
    },
    /// A lease was extended.
    LeaseRenewed {
        /// The job.
        job: JobId,
        /// The lease as it is now.
        lease: Lease,
    },
    /// Jobs went back to the queue (their leases ran out, or their node was removed).
    Requeued {
        /// The jobs, in id order.
        jobs: Vec<JobId>,
    },
    /// A heartbeat was recorded.
    Heartbeat {
        /// Claimed leases that were renewed.
        renewed: Vec<JobId>,
        /// Claimed leases the node no longer holds: it must stop and discard that work.
        lost: Vec<JobId>,
    },
}

/// The state machine's answer to one command: Raft's response type.
pub type Response = std::result::Result<Outcome, StateError>;
