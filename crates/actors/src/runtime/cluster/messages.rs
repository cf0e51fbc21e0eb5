//! Messages to a [`super::ClusterSupervisor`].

use mirage_core::NodeId;
use ractor::ActorRef;

use crate::runtime::node::NodeMsg;

/// What the cluster supervisor is told.
#[derive(Debug)]
pub enum ClusterMsg {
    /// A node's supervisor is up: the scheduler may send it work.
    NodeUp {
        /// The node.
        node: NodeId,
        /// Its supervisor.
        supervisor: ActorRef<NodeMsg>,
    },
    /// A node's supervisor is gone: send it no more work.
    NodeDown {
        /// The node.
        node: NodeId,
    },
    /// Run one scheduling round now (the timer sends this too).
    Tick,
}
