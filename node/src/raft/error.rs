//! Errors of the Raft layer.

use std::path::PathBuf;

use super::types::NodeId;

/// Result of the Raft layer.
pub type Result<T> = std::result::Result<T, RaftNodeError>;

/// What can go wrong when running a Raft node.
#[derive(Debug, thiserror::Error)]
pub enum RaftNodeError {
    /// The settings are inconsistent.
    #[error("invalid raft settings: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },

    /// The data directory could not be opened (missing permissions, or another process holds it).
    #[error("cannot open the raft data directory {path}: {source}")]
    OpenStore {
        /// The data directory.
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },

    /// Reading or writing the sled store failed.
    #[error("raft store {operation} failed: {source}")]
    Store {
        /// What was being done.
        operation: &'static str,
        /// sled's error.
        source: sled::Error,
    },

    /// The store holds bytes this version cannot decode.
    #[error(
        "the raft store is corrupt ({what}); restore the data directory from a backup or rejoin the node empty"
    )]
    CorruptStore {
        /// What could not be decoded.
        what: String,
    },

    /// The state machine rejected the stored snapshot.
    #[error("the state machine cannot restore its snapshot: {reason}")]
    RestoreSnapshot {
        /// The state machine's explanation.
        reason: String,
    },

    /// The request needs the leader and this node is not it.
    #[error("node {node_id} is not the leader; send the request to {}", describe_leader(*leader_id, leader_address.as_deref()))]
    NotLeader {
        /// This node.
        node_id: NodeId,
        /// The leader this node knows of.
        leader_id: Option<NodeId>,
        /// That leader's address.
        leader_address: Option<String>,
    },

    /// The leader could not reach a quorum to confirm it still leads (read-index).
    #[error(
        "node {node_id} cannot confirm its leadership with a quorum: {reason}; retry once the cluster has a majority"
    )]
    QuorumUnavailable {
        /// This node.
        node_id: NodeId,
        /// openraft's explanation.
        reason: String,
    },

    /// The cluster was already initialized, or this node is not among the initial members.
    #[error("cannot bootstrap the cluster on node {node_id}: {reason}")]
    Bootstrap {
        /// This node.
        node_id: NodeId,
        /// openraft's explanation.
        reason: String,
    },

    /// A membership change was refused (another one in progress, unknown learner, empty set).
    #[error("membership change refused: {reason}")]
    Membership {
        /// openraft's explanation.
        reason: String,
    },

    /// The Raft node stopped (after `shutdown`, a storage failure or a panic).
    #[error("raft node {node_id} stopped: {source}")]
    Stopped {
        /// This node.
        node_id: NodeId,
        /// Why.
        source: Box<openraft::error::Fatal<NodeId>>,
    },

    /// Waiting for a condition timed out.
    #[error("node {node_id}: timed out waiting for {what}")]
    Timeout {
        /// This node.
        node_id: NodeId,
        /// The condition.
        what: String,
    },
}

fn describe_leader(leader_id: Option<NodeId>, address: Option<&str>) -> String {
    match (leader_id, address) {
        (Some(id), Some(address)) => format!("node {id} at {address}"),
        (Some(id), None) => format!("node {id}"),
        _ => "the leader once one is elected".to_owned(),
    }
}
