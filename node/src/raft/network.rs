//! The transport boundary: how one node's Raft RPCs reach another node.
//!
//! [`RaftTransport`] is what a transport implements: deliver one request to the target node's
//! `Raft` handle and bring back that handler's result. The in-process transport
//! ([`InProcessTransport`](super::InProcessTransport)) calls the target directly; a tonic
//! transport serializes the request (the openraft types are serde types), calls the internal
//! gRPC service, whose handler calls `Raft::append_entries`, `Raft::vote` or
//! `Raft::install_snapshot`, and sends the result back the same way. [`NetworkFactory`]
//! adapts any transport to openraft's `RaftNetworkFactory`/`RaftNetwork`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::types::{NodeId, TypeConfig};

/// A request's fate: delivery failed, or the target's Raft handler answered (possibly with a
/// Raft error, such as "stopped").
pub type Delivery<T, E = Infallible> = Result<Result<T, RaftError<NodeId, E>>, TransportError>;

/// Why a request did not reach its target or its answer did not come back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The target cannot be reached now (down, unknown address, partitioned away).
    #[error("node {target} is unreachable: {reason}")]
    Unreachable {
        /// The target node.
        target: NodeId,
        /// Why.
        reason: String,
    },
    /// The target did not answer in time.
    #[error("node {target} did not answer within {timeout:?}")]
    Timeout {
        /// The target node.
        target: NodeId,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The call broke mid-way (connection reset, undecodable answer).
    #[error("the call to node {target} failed: {reason}")]
    Failed {
        /// The target node.
        target: NodeId,
        /// Why.
        reason: String,
    },
}

/// Carries Raft RPCs from this node to the others. One instance serves one source node.
pub trait RaftTransport: Send + Sync + 'static {
    /// Delivers an AppendEntries request (log replication and heartbeats).
    fn append_entries(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: AppendEntriesRequest<TypeConfig>,
        timeout: Duration,
    ) -> impl Future<Output = Delivery<AppendEntriesResponse<NodeId>>> + Send;

    /// Delivers a RequestVote request.
    fn vote(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: VoteRequest<NodeId>,
        timeout: Duration,
    ) -> impl Future<Output = Delivery<VoteResponse<NodeId>>> + Send;

    /// Delivers one chunk of a snapshot.
    fn install_snapshot(
        &self,
        target: NodeId,
        target_node: &BasicNode,
        request: InstallSnapshotRequest<TypeConfig>,
        timeout: Duration,
    ) -> impl Future<Output = Delivery<InstallSnapshotResponse<NodeId>, InstallSnapshotError>> + Send;
}

/// How long a sender waits before retrying a node it could not reach.
const UNREACHABLE_BACKOFF: Duration = Duration::from_millis(200);

/// openraft's network factory over a [`RaftTransport`].
pub struct NetworkFactory<T> {
    source: NodeId,
    transport: Arc<T>,
}

impl<T> fmt::Debug for NetworkFactory<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NetworkFactory")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<T: RaftTransport> NetworkFactory<T> {
    /// A factory for the node `source`.
    pub fn new(source: NodeId, transport: T) -> Self {
        Self {
            source,
            transport: Arc::new(transport),
        }
    }
}

impl<T: RaftTransport> RaftNetworkFactory<TypeConfig> for NetworkFactory<T> {
    type Network = NetworkClient<T>;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        NetworkClient {
            source: self.source,
            target,
            target_node: node.clone(),
            transport: Arc::clone(&self.transport),
        }
    }
}

/// The connection from one node to one target.
pub struct NetworkClient<T> {
    source: NodeId,
    target: NodeId,
    target_node: BasicNode,
    transport: Arc<T>,
}

impl<T> fmt::Debug for NetworkClient<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NetworkClient")
            .field("source", &self.source)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl<T> NetworkClient<T> {
    /// Turns a delivery into openraft's RPC result.
    #[allow(
        clippy::result_large_err,
        reason = "openraft's RPC error type, returned as the trait requires"
    )]
    fn rpc_result<R, E: std::error::Error>(
        &self,
        delivery: Delivery<R, E>,
        action: RPCTypes,
    ) -> Result<R, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>> {
        match delivery {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.target_node.clone(),
                remote,
            ))),
            Err(error @ TransportError::Unreachable { .. }) => {
                Err(RPCError::Unreachable(Unreachable::new(&error)))
            }
            Err(TransportError::Timeout { timeout, .. }) => Err(RPCError::Timeout(Timeout {
                action,
                id: self.source,
                target: self.target,
                timeout,
            })),
            Err(error @ TransportError::Failed { .. }) => {
                Err(RPCError::Network(NetworkError::new(&error)))
            }
        }
    }
}

impl<T: RaftTransport> RaftNetwork<TypeConfig> for NetworkClient<T> {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let delivery = self
            .transport
            .append_entries(self.target, &self.target_node, request, option.hard_ttl())
            .await;
        self.rpc_result(delivery, RPCTypes::AppendEntries)
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let delivery = self
            .transport
            .install_snapshot(self.target, &self.target_node, request, option.hard_ttl())
            .await;
        self.rpc_result(delivery, RPCTypes::InstallSnapshot)
    }

    async fn vote(
        &mut self,
        request: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let delivery = self
            .transport
            .vote(self.target, &self.target_node, request, option.hard_ttl())
            .await;
        self.rpc_result(delivery, RPCTypes::Vote)
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(UNREACHABLE_BACKOFF))
    }
}
