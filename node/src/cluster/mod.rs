//! The cluster state replicated by Raft, and the actors' way to reach it.
//!
//! - `machine.rs`: [`ClusterMachine`], the [`ClusterState`](mirage_actors::ClusterState) as
//!   the Raft layer's [`StateMachine`](crate::raft::StateMachine): commands and responses
//!   travel as JSON, the snapshot is the state itself.
//! - `client.rs`: [`RaftStateClient`], the actor runtime's
//!   [`StateClient`](mirage_actors::StateClient) over a [`RaftNode`](crate::raft::RaftNode):
//!   any node forwards writes to the leader, follows "not the leader" hints, retries through
//!   elections until a deadline, and reads the current state with read-index on the leader.
//! - `members.rs`: [`Members`], the members a client reaches: local ones by handle, remote
//!   ones over the internal gRPC service with the cluster secret (a remote read answers the
//!   leader's snapshot, restored and verified here).
//! - `error.rs`: [`ClusterError`].
//!
//! Retrying a write is safe because every command is idempotent in the state machine (the
//! ledger by request id, jobs by id, outcomes by lease token): a write whose answer was lost
//! and that is sent again changes nothing the second time.

// `mirage node` wires this layer in with the gRPC transport; until then parts of the API are
// used only by the tests.
#![allow(dead_code, unused_imports)]

mod client;
mod error;
mod machine;
mod members;

#[cfg(test)]
mod tests;

pub use client::{ClientStats, RaftStateClient, RetryPolicy};
pub use error::{ClusterError, Result};
pub use machine::{ClusterMachine, decode_response, encode_command};
pub use members::{ClusterNode, Members};
