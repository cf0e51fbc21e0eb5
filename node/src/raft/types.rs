//! The replicated command, the state machine contract and openraft's type configuration.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A cluster member's id.
pub type NodeId = u64;

/// The application state that Raft replicates.
///
/// Every replica applies the same commands in the same order with the same `now_ms`, so an
/// implementation must be deterministic: no wall clock, no randomness, no iteration over
/// unordered maps that leaks into the output.
///
/// `Clone` lets a snapshot be taken from a copy: the copy is made under the state's lock,
/// the (slower) serialization runs on a blocking thread while commands keep applying.
pub trait StateMachine: Clone + Send + Sync + 'static {
    /// Applies one committed command and returns the response for the writer.
    ///
    /// `now_ms` is the leader's clock (milliseconds since the Unix epoch) when the command was
    /// proposed, never decreasing along the log.
    fn apply(&mut self, command: &[u8], now_ms: u64) -> Vec<u8>;

    /// Serializes the whole state.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state with a snapshot made by [`StateMachine::snapshot`]; on error
    /// the state must be left as it was.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String>;
}

/// The payload of a normal log entry: an opaque command and the leader's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCommand {
    /// The command bytes given to [`StateMachine::apply`].
    pub command: Vec<u8>,
    /// Milliseconds since the Unix epoch on the leader when it accepted the command.
    pub now_ms: u64,
}

openraft::declare_raft_types!(
    /// openraft's types for the Mirage cluster.
    pub TypeConfig:
        D = LogCommand,
        R = Vec<u8>,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry of this cluster.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of this cluster.
pub type LogId = openraft::LogId<NodeId>;
/// A snapshot's metadata in this cluster.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
/// A membership with its log id.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
/// An error from a storage callback.
pub type StorageError = openraft::StorageError<NodeId>;
