//! Messages to a [`super::NodeSupervisor`].

use ractor::RpcReplyPort;

use crate::state::{Job, LeaseClaim};

/// What a node supervisor is told.
#[derive(Debug)]
pub enum NodeMsg {
    /// The scheduler assigned `job` to this node under the lease `token`: start a worker.
    StartJob {
        /// The job, as the scheduler saw it (with its last checkpoint).
        job: Box<Job>,
        /// The lease's fencing token.
        token: u64,
    },
    /// Time to heartbeat: renew the leases of the running workers, stop those lost.
    Heartbeat,
    /// The leases this node's workers hold, in job order.
    Running {
        /// Where the answer goes.
        reply: RpcReplyPort<Vec<LeaseClaim>>,
    },
}
