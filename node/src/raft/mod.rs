//! The Raft layer of the cluster: openraft 0.9 replicating opaque commands, stored on sled.
//!
//! - `types.rs`: the [`StateMachine`] trait the cluster state implements, the log command
//!   (command bytes + the leader's clock) and openraft's type configuration.
//! - `codec.rs`: the on-disk encoding of log entries and snapshots.
//! - `log_store.rs`: [`RaftLogStorage`](openraft::storage::RaftLogStorage) on sled: log,
//!   vote, committed and purged ids, with group-committed flushes.
//! - `state_machine.rs`: [`RaftStateMachine`](openraft::storage::RaftStateMachine) around a
//!   [`StateMachine`]; snapshots are persisted in sled and restored on start.
//! - `network.rs`: the [`RaftTransport`] boundary (one async call per Raft RPC) and its
//!   adapter to openraft's network traits; `in_process.rs`: the in-process transport with
//!   fault injection (partitions) used by the tests; `grpc/`: the tonic transport and
//!   server of the internal `RaftInternal` service, authenticated by the cluster secret.
//! - `node.rs`: [`RaftNode`], the handle the rest of the node uses (start, bootstrap,
//!   membership, write, linearizable read, metrics, shutdown); `config.rs`: its settings.
//! - `error.rs`: [`RaftNodeError`].
//!
//! Flow of a write: [`RaftNode::write`] stamps the command with the leader's wall clock,
//! openraft appends it to the sled log and replicates it through the [`RaftTransport`]; once
//! a quorum has it, every node applies `(command, now_ms)` to its [`StateMachine`], so replay
//! after a restart or from a snapshot is deterministic.

// `mirage node` wires this layer in with the cluster runtime; until then parts of the API are
// used only by the tests.
#![allow(dead_code, unused_imports)]

mod codec;
mod config;
mod error;
mod grpc;
mod in_process;
mod log_store;
mod network;
mod node;
mod state_machine;
mod types;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use config::RaftNodeConfig;
pub use error::{RaftNodeError, Result};
pub use grpc::{
    ClusterSecret, GrpcTransport, GrpcTransportConfig, RaftGrpcError, RaftGrpcServer,
    raft_internal_service,
};
pub use in_process::{InProcessNetwork, InProcessTransport};
pub use network::{Delivery, RaftTransport, TransportError};
pub use node::{RaftNode, RaftNodeMetrics, RaftRole};
pub use types::{LogCommand, NodeId, StateMachine, TypeConfig};
