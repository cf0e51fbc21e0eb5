//! Errors of the replicated cluster state.

/// Result of the cluster layer.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// What can go wrong between the actors and the replicated state.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A command could not be encoded for the log.
    #[error("cannot encode the {command} command for the raft log: {source}")]
    EncodeCommand {
        /// The command's name.
        command: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },

    /// The state machine answered bytes this version cannot decode (nodes of different
    /// versions in one cluster).
    #[error(
        "cannot decode the state machine's answer: {source}; run the same mirage version on every node"
    )]
    DecodeResponse {
        /// serde_json's error.
        source: serde_json::Error,
    },

    /// A snapshot could not be decoded or failed its checks.
    #[error(
        "the cluster state snapshot is invalid ({reason}); rejoin the node with an empty data directory"
    )]
    InvalidSnapshot {
        /// What is wrong.
        reason: String,
    },

    /// A remote member's address cannot be used.
    #[error(
        "cannot use {address:?} as the address of member {node_id}: {reason}; give host:port or http://host:port"
    )]
    MemberAddress {
        /// The member.
        node_id: crate::raft::NodeId,
        /// The address given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
}
