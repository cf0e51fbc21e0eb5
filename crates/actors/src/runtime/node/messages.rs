//! Messages to a [`super::NodeSupervisor`]. The scheduler may run on another node, so this
//! is a versioned contract: add variants at the end and never rename one (the variant name
//! is its tag on the wire).

use ractor::RpcReplyPort;
use ractor_cluster::RactorClusterMessage;

use crate::runtime::wire::{JobPayload, LeaseClaims};

/// What a node supervisor is told.
#[derive(Debug, RactorClusterMessage)]
pub enum NodeMsg {
    /// The scheduler assigned `job` to this node under the lease `token`: start a worker.
    StartJob {
        /// The job, as the scheduler saw it (with its last checkpoint).
        job: JobPayload,
        /// The lease's fencing token.
        token: u64,
    },
    /// Time to heartbeat: renew the leases of the running workers, stop those lost.
    Heartbeat,
    /// The leases this node's workers hold, in job order.
    #[rpc]
    Running {
        /// Where the answer goes.
        reply: RpcReplyPort<LeaseClaims>,
    },
}
