//! Messages to a [`super::Worker`]; they stay on the worker's node.

use ractor_cluster::RactorMessage;

/// What a worker is told.
#[derive(Debug, Clone, PartialEq, Eq, RactorMessage)]
pub enum WorkerMsg {
    /// The node's heartbeat found the lease gone: the outcome will be thrown away
    /// without writing it, and the worker stops.
    LeaseLost,
    /// The runner panicked: the worker fails, and its supervisor marks the job failed.
    RunnerPanicked {
        /// The panic's message.
        message: String,
    },
}
