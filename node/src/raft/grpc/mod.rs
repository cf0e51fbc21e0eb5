//! The real Raft transport: openraft's RPCs between nodes over tonic (`mirage.v1.RaftInternal`).
//!
//! - `secret.rs`: [`ClusterSecret`], the shared secret every call carries in the
//!   `x-mirage-cluster-secret` metadata header, checked in constant time.
//! - `server.rs`: [`RaftGrpcServer`], the `RaftInternal` service in front of a node's openraft
//!   handle: it refuses calls without the right secret (`UNAUTHENTICATED`), decodes the
//!   request, calls `Raft::append_entries`, `Raft::vote` or `Raft::install_snapshot` and sends
//!   the handler's whole result back, Raft errors included. Built with the node itself
//!   ([`RaftGrpcServer::node_service`]), it also serves client calls other members forward:
//!   `ClientWrite` (the node's own `RaftNode::write`) and `ClientRead` (read-index, then the
//!   state machine's snapshot), each under a deadline (`forward.rs`).
//! - `client.rs`: [`GrpcTransport`], the [`RaftTransport`](super::RaftTransport) that calls
//!   that service, one lazily connected channel per target address; `client_calls.rs`: its
//!   `client_write` and `client_read`, which answer the same
//!   [`RaftNodeError`](super::RaftNodeError)s as the target node would in process.
//! - `faults.rs`: fault injection for chaos tests: with `MIRAGE_FAULTS_FILE` set, calls to the
//!   peers that file lists fail as unreachable, so tests can partition and heal a cluster.
//! - `wire.rs`: a refused client call as a gRPC status (code, the error as JSON in the
//!   details, the leader in metadata) and back.
//!
//! Raft requests and results travel as serde_json inside `RaftMessage.payload`; openraft's
//! types derive serde, so no mirror of them is kept in protobuf. Forwarded client calls carry
//! the command, response or snapshot bytes as they are.

mod client;
mod client_calls;
mod faults;
mod forward;
mod secret;
mod server;
mod wire;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

pub use client::{GrpcTransport, GrpcTransportConfig};
pub use secret::ClusterSecret;
pub use server::{RaftGrpcServer, raft_internal_service};

/// The metadata header that carries the cluster secret.
pub const CLUSTER_SECRET_HEADER: &str = "x-mirage-cluster-secret";

/// The largest `RaftMessage` either side accepts. serde_json writes bytes as arrays of
/// numbers (up to four characters per byte), so a 3 MiB snapshot chunk — openraft's default
/// chunk size — or a large batch of entries needs far more than tonic's 4 MiB default.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Errors of the gRPC transport's setup (calls report [`TransportError`](super::TransportError)).
#[derive(Debug, thiserror::Error)]
pub enum RaftGrpcError {
    /// The cluster secret is empty or cannot travel in a gRPC header.
    #[error("invalid cluster secret: {reason}; use a non-empty string of visible ASCII characters")]
    InvalidSecret {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The Raft listener could not be bound.
    #[error("cannot listen for raft traffic on {address}: {source}; pick a free address")]
    Bind {
        /// The requested address.
        address: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The bound listener's address could not be read back.
    #[error("cannot read the raft listener's address: {source}")]
    LocalAddress {
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The server stopped with an error.
    #[error("the raft gRPC server on {address} failed: {source}")]
    Serve {
        /// The address it served.
        address: SocketAddr,
        /// tonic's error.
        source: tonic::transport::Error,
    },

    /// The server task panicked or was cancelled.
    #[error("the raft gRPC server task on {address} ended abnormally: {reason}")]
    ServerTask {
        /// The address it served.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
}
