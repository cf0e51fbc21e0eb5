//! The in-process transport: nodes of one process call each other's `Raft` handles directly,
//! with a switch that drops messages between chosen pairs of nodes (partitions).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use openraft::error::InstallSnapshotError;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft};

use super::network::{Delivery, RaftTransport, TransportError};
use super::types::{NodeId, TypeConfig};

#[derive(Default)]
struct Routes {
    /// Nodes that accept requests, by id.
    serving: BTreeMap<NodeId, Raft<TypeConfig>>,
    /// Directed links `(from, to)` whose messages are dropped.
    cut: BTreeSet<(NodeId, NodeId)>,
}

/// A network of nodes in one process. Clones share the same routes.
#[derive(Clone, Default)]
pub struct InProcessNetwork {
    routes: Arc<Mutex<Routes>>,
}

impl fmt::Debug for InProcessNetwork {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes = self.lock();
        formatter
            .debug_struct("InProcessNetwork")
            .field("serving", &routes.serving.keys().collect::<Vec<_>>())
            .field("cut", &routes.cut)
            .finish()
    }
}

impl InProcessNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Routes> {
        // The routes are plain data and each update is a single insert or remove, so a panic
        // elsewhere cannot leave them half-changed.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The transport for node `source`'s outgoing requests.
    pub fn transport(&self, source: NodeId) -> InProcessTransport {
        InProcessTransport {
            network: self.clone(),
            source,
        }
    }

    /// Routes requests for `id` to `raft` (the in-process equivalent of starting its RPC server).
    pub fn serve(&self, id: NodeId, raft: Raft<TypeConfig>) {
        self.lock().serving.insert(id, raft);
    }

    /// Stops routing requests to `id`: the node looks down to the others.
    pub fn stop_serving(&self, id: NodeId) {
        self.lock().serving.remove(&id);
    }

    /// Drops every message between each node of `side_a` and each node of `side_b`, both ways.
    pub fn partition(&self, side_a: &[NodeId], side_b: &[NodeId]) {
        let mut routes = self.lock();
        for &a in side_a {
            for &b in side_b {
                routes.cut.insert((a, b));
                routes.cut.insert((b, a));
            }
        }
    }

    /// Drops messages from `from` to `to` only (an asymmetric fault).
    pub fn cut_link(&self, from: NodeId, to: NodeId) {
        self.lock().cut.insert((from, to));
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.lock().cut.clear();
    }

    /// The target's handle if a message from `source` can reach it now.
    fn route(&self, source: NodeId, target: NodeId) -> Result<Raft<TypeConfig>, TransportError> {
        let routes = self.lock();
        if routes.cut.contains(&(source, target)) {
            return Err(TransportError::Unreachable {
                target,
                reason: format!("the link from node {source} is cut"),
            });
        }
        routes
            .serving
            .get(&target)
            .cloned()
            .ok_or_else(|| TransportError::Unreachable {
                target,
                reason: "the node is not serving".to_owned(),
            })
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.lock().cut.contains(&(from, to))
    }
}

/// Node `source`'s side of an [`InProcessNetwork`].
#[derive(Debug, Clone)]
pub struct InProcessTransport {
    network: InProcessNetwork,
    source: NodeId,
}

impl InProcessTransport {
    /// Calls the target's handler unless the link is cut either way, within `timeout`.
    async fn call<R, E, F, Fut>(
        &self,
        target: NodeId,
        timeout: Duration,
        handler: F,
    ) -> Delivery<R, E>
    where
        E: std::error::Error,
        F: FnOnce(Raft<TypeConfig>) -> Fut,
        Fut: Future<Output = Result<R, openraft::error::RaftError<NodeId, E>>>,
    {
        let raft = self.network.route(self.source, target)?;
        let answer = tokio::time::timeout(timeout, handler(raft))
            .await
            .map_err(|_| TransportError::Timeout { target, timeout })?;
        // A partition that starts while the request is in flight loses the answer.
        if self.network.is_cut(target, self.source) {
            return Err(TransportError::Unreachable {
                target,
                reason: format!("the link to node {} is cut", self.source),
            });
        }
        Ok(answer)
    }
}

impl RaftTransport for InProcessTransport {
    async fn append_entries(
        &self,
        target: NodeId,
        _target_node: &BasicNode,
        request: AppendEntriesRequest<TypeConfig>,
        timeout: Duration,
    ) -> Delivery<AppendEntriesResponse<NodeId>> {
        self.call(target, timeout, |raft| async move {
            raft.append_entries(request).await
        })
        .await
    }

    async fn vote(
        &self,
        target: NodeId,
        _target_node: &BasicNode,
        request: VoteRequest<NodeId>,
        timeout: Duration,
    ) -> Delivery<VoteResponse<NodeId>> {
        self.call(
            target,
            timeout,
            |raft| async move { raft.vote(request).await },
        )
        .await
    }

    async fn install_snapshot(
        &self,
        target: NodeId,
        _target_node: &BasicNode,
        request: InstallSnapshotRequest<TypeConfig>,
        timeout: Duration,
    ) -> Delivery<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(target, timeout, |raft| async move {
            raft.install_snapshot(request).await
        })
        .await
    }
}
