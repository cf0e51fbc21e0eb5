//! Why the runtime could not reach the cluster state or start an actor.

use mirage_core::NodeId;

use crate::error::StateError;

/// The cluster state could not be reached: the command may or may not have been applied,
/// so the caller retries it (every command is idempotent or fenced by a lease token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The state is unreachable for now (no leader, a network error, shutting down).
    #[error("the cluster state is unavailable: {reason}; retry shortly")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
    /// This node cannot accept writes; the leader, if known, can.
    #[error("node is not the leader{}; send the command to the leader", leader_hint(*leader))]
    NotLeader {
        /// The current leader, if known.
        leader: Option<NodeId>,
    },
}

fn leader_hint(leader: Option<NodeId>) -> String {
    match leader {
        Some(node) => format!(" (the leader is {node})"),
        None => String::new(),
    }
}

impl ClientError {
    /// Whether retrying the same command later may succeed (every client error is, for now;
    /// fatal ones will be added beside them).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Unavailable { .. } | ClientError::NotLeader { .. } => true,
        }
    }
}

/// A failure of the actor runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The cluster state could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The state machine refused a command the runtime needed.
    #[error("{command} refused: {source}")]
    Refused {
        /// The command's name.
        command: &'static str,
        /// The refusal.
        #[source]
        source: StateError,
    },
    /// An actor could not be started.
    #[error("could not start the {actor} actor: {reason}")]
    Spawn {
        /// Which actor.
        actor: &'static str,
        /// Why.
        reason: String,
    },
    /// The actor network (the node server, a peer connection) failed.
    #[error("actor network: {reason}")]
    Net {
        /// What went wrong.
        reason: String,
    },
}

/// The result of the runtime's fallible operations.
pub type RuntimeResult<T> = std::result::Result<T, RuntimeError>;
