//! [`Members`]: the cluster members a [`RaftStateClient`](super::RaftStateClient) can reach,
//! by id — local ones through their [`ClusterNode`] handle, remote ones through the internal
//! gRPC service (`ClientWrite`, `ClientRead`) with the cluster secret.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use mirage_actors::ClusterState;

use super::error::{ClusterError, Result};
use super::machine::ClusterMachine;
use crate::raft::{ClusterSecret, GrpcTransport, NodeId, RaftNode, RaftNodeError, StateMachine};

/// A Raft member holding the cluster state.
pub type ClusterNode = RaftNode<ClusterMachine>;

/// A member living in another process.
#[derive(Debug)]
struct RemoteMember {
    address: String,
    transport: GrpcTransport,
}

/// One member: its handle in this process, or the way to reach it.
#[derive(Debug, Clone)]
enum Member {
    Local(Arc<ClusterNode>),
    Remote(Arc<RemoteMember>),
}

impl Member {
    /// Proposes `command` on this member (no forwarding beyond it).
    async fn write(
        &self,
        id: NodeId,
        command: Vec<u8>,
        timeout: Duration,
    ) -> crate::raft::Result<Vec<u8>> {
        match self {
            Member::Local(node) => node.write(command).await,
            Member::Remote(remote) => {
                remote
                    .transport
                    .client_write(id, &remote.address, command, timeout)
                    .await
            }
        }
    }

    /// Reads the current state on this member (read-index; it must lead).
    async fn read(&self, id: NodeId, timeout: Duration) -> crate::raft::Result<ClusterState> {
        match self {
            Member::Local(node) => node.read_current(|machine| machine.state().clone()).await,
            Member::Remote(remote) => {
                let snapshot = remote
                    .transport
                    .client_read(id, &remote.address, timeout)
                    .await?;
                let mut machine = ClusterMachine::default();
                // Restoring verifies every ledger's hash chain, so a state read from another
                // process is as trustworthy as one installed by Raft.
                machine
                    .restore(&snapshot)
                    .map_err(|reason| RaftNodeError::InvalidConfig {
                        reason: format!(
                            "node {id} at {} answered a state this node cannot use: {reason}",
                            remote.address
                        ),
                    })?;
                Ok(machine.into_state())
            }
        }
    }
}

/// The members a client can reach, by id; cloning shares the registry.
#[derive(Debug, Clone, Default)]
pub struct Members {
    nodes: Arc<RwLock<BTreeMap<NodeId, Member>>>,
}

impl Members {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a member living in this process.
    pub fn insert(&self, node: Arc<ClusterNode>) {
        let mut nodes = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        nodes.insert(node.id(), Member::Local(node));
    }

    /// Adds (or replaces) member `id` living in another process, reached at `address`
    /// (`host:port` or `http://host:port`, the address it serves `RaftInternal` on) with
    /// `secret`. The connection is made on the first call, within the transport's connect
    /// timeout, and remade after a failure.
    pub fn insert_remote(&self, id: NodeId, address: &str, secret: ClusterSecret) -> Result<()> {
        self.insert_remote_via(id, address, GrpcTransport::new(secret))
    }

    /// Like [`Members::insert_remote`], through `transport` (its secret and settings; clones
    /// of one transport share their connections, e.g. with the node's Raft traffic).
    pub fn insert_remote_via(
        &self,
        id: NodeId,
        address: &str,
        transport: GrpcTransport,
    ) -> Result<()> {
        transport
            .prepare(id, address)
            .map_err(|error| ClusterError::MemberAddress {
                node_id: id,
                address: address.to_owned(),
                reason: error.to_string(),
            })?;
        let remote = RemoteMember {
            address: address.to_owned(),
            transport,
        };
        let mut nodes = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        nodes.insert(id, Member::Remote(Arc::new(remote)));
        Ok(())
    }

    /// Removes a member (it stopped or left); returns its handle if it lived in this process.
    pub fn remove(&self, id: NodeId) -> Option<Arc<ClusterNode>> {
        let mut nodes = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        match nodes.remove(&id)? {
            Member::Local(node) => Some(node),
            Member::Remote(_) => None,
        }
    }

    /// The handle of a member living in this process (`None` for a remote or unknown one).
    pub fn get(&self, id: NodeId) -> Option<Arc<ClusterNode>> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        match nodes.get(&id)? {
            Member::Local(node) => Some(node.clone()),
            Member::Remote(_) => None,
        }
    }

    /// Whether member `id` is known, local or remote.
    pub fn contains(&self, id: NodeId) -> bool {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        nodes.contains_key(&id)
    }

    /// The members' ids, local and remote, in order.
    pub fn ids(&self) -> Vec<NodeId> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        nodes.keys().copied().collect()
    }

    /// The member after `id` in id order (wrapping), for trying another node.
    pub(super) fn next_after(&self, id: NodeId) -> Option<NodeId> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        nodes
            .range(id.saturating_add(1)..)
            .next()
            .or_else(|| nodes.iter().next())
            .map(|(&next, _)| next)
    }

    /// Proposes `command` on member `id`; `None` if it is unknown. `timeout` bounds a remote
    /// call on both sides (the caller bounds a local one itself).
    pub(super) async fn write(
        &self,
        id: NodeId,
        command: Vec<u8>,
        timeout: Duration,
    ) -> Option<crate::raft::Result<Vec<u8>>> {
        let member = self.member(id)?;
        Some(member.write(id, command, timeout).await)
    }

    /// Reads the current state on member `id`; `None` if it is unknown.
    pub(super) async fn read(
        &self,
        id: NodeId,
        timeout: Duration,
    ) -> Option<crate::raft::Result<ClusterState>> {
        let member = self.member(id)?;
        Some(member.read(id, timeout).await)
    }

    fn member(&self, id: NodeId) -> Option<Member> {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        nodes.get(&id).cloned()
    }
}
