//! [`RaftNode`]: one cluster member, the handle the rest of the node talks to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, InitializeError, RaftError};
use openraft::{BasicNode, Raft, ServerState};

use super::config::RaftNodeConfig;
use super::error::{RaftNodeError, Result};
use super::log_store::SledLogStore;
use super::network::{NetworkFactory, RaftTransport};
use super::state_machine::{SharedMachine, SledStateMachine, lock_machine};
use super::types::{LogCommand, NodeId, StateMachine, TypeConfig};

/// A node's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftRole {
    /// Accepts writes and replicates them.
    Leader,
    /// A voter following a leader.
    Follower,
    /// A voter asking for votes.
    Candidate,
    /// Receives the log but does not vote.
    Learner,
    /// Stopped.
    Shutdown,
}

/// What a node knows about itself and the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftNodeMetrics {
    /// This node.
    pub id: NodeId,
    /// This node's role.
    pub role: RaftRole,
    /// The current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// The highest log index known committed by this node.
    pub commit_index: Option<u64>,
    /// The highest log index applied to this node's state machine.
    pub applied_index: Option<u64>,
    /// The last index in this node's log.
    pub last_log_index: Option<u64>,
    /// The last index covered by this node's latest snapshot.
    pub snapshot_index: Option<u64>,
    /// The last index removed from this node's log.
    pub purged_index: Option<u64>,
    /// The voting members and their addresses.
    pub voters: BTreeMap<NodeId, String>,
    /// The non-voting members and their addresses.
    pub learners: BTreeMap<NodeId, String>,
}

/// A running Raft member replicating commands to a [`StateMachine`] of type `S`.
pub struct RaftNode<S> {
    id: NodeId,
    data_dir: PathBuf,
    raft: Raft<TypeConfig>,
    machine: SharedMachine<S>,
    db: sled::Db,
}

impl<S> fmt::Debug for RaftNode<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RaftNode")
            .field("id", &self.id)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl<S: StateMachine> RaftNode<S> {
    /// Starts node `id` on the sled store in `data_dir` (created if missing). A store that
    /// already holds a log, vote or snapshot is resumed: `machine` is restored from the
    /// snapshot and the committed entries after it are applied again. A new node waits to be
    /// bootstrapped or added to a cluster.
    pub async fn start<T: RaftTransport>(
        id: NodeId,
        data_dir: &Path,
        config: &RaftNodeConfig,
        machine: S,
        transport: T,
    ) -> Result<Self> {
        let raft_config = config.to_openraft()?;
        let db = sled::Config::new()
            .path(data_dir)
            .open()
            .map_err(|source| RaftNodeError::OpenStore {
                path: data_dir.to_path_buf(),
                source,
            })?;
        let log_store = SledLogStore::open(&db, config.flush_on_write)?;
        let (state_machine, shared) = SledStateMachine::open(&db, machine, config.flush_on_write)?;
        let network = NetworkFactory::new(id, transport);
        let raft = Raft::new(id, raft_config, network, log_store, state_machine)
            .await
            .map_err(|source| RaftNodeError::Stopped {
                node_id: id,
                source: Box::new(source),
            })?;
        tracing::info!(node_id = id, data_dir = %data_dir.display(), "raft node started");
        Ok(Self {
            id,
            data_dir: data_dir.to_path_buf(),
            raft,
            machine: shared,
            db,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The openraft handle, for the RPC server that feeds incoming requests to this node.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// Creates a new cluster whose voters are `members` (id → address). Call it once, on one
    /// member; the others learn the membership from the first leader.
    pub async fn bootstrap(&self, members: BTreeMap<NodeId, String>) -> Result<()> {
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .into_iter()
            .map(|(id, address)| (id, BasicNode::new(address)))
            .collect();
        self.raft
            .initialize(nodes)
            .await
            .map_err(|error| match error {
                RaftError::APIError(
                    error @ (InitializeError::NotAllowed(_) | InitializeError::NotInMembers(_)),
                ) => RaftNodeError::Bootstrap {
                    node_id: self.id,
                    reason: error.to_string(),
                },
                RaftError::Fatal(source) => self.stopped(source),
            })
    }

    /// Adds node `id` at `address` as a learner and waits until it has caught up with the log.
    pub async fn add_learner(&self, id: NodeId, address: &str) -> Result<()> {
        self.raft
            .add_learner(id, BasicNode::new(address), true)
            .await
            .map_err(|error| self.client_write_error(error))?;
        Ok(())
    }

    /// Makes `voters` the voting members (learners among them are promoted; voters left out
    /// are removed from the cluster).
    pub async fn change_membership(&self, voters: BTreeSet<NodeId>) -> Result<()> {
        self.raft
            .change_membership(voters, false)
            .await
            .map_err(|error| self.client_write_error(error))?;
        Ok(())
    }

    /// Replicates `command` and returns the state machine's response once it is committed
    /// and applied on this node. Only the leader accepts writes; it stamps the command with
    /// its clock.
    pub async fn write(&self, command: Vec<u8>) -> Result<Vec<u8>> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            });
        let response = self
            .raft
            .client_write(LogCommand { command, now_ms })
            .await
            .map_err(|error| self.client_write_error(error))?;
        Ok(response.data)
    }

    /// Reads the state machine after confirming with a quorum that this node still leads and
    /// applying everything committed before the read began (read-index): the result reflects
    /// every write acknowledged before the call.
    pub async fn read_current<T>(&self, read: impl FnOnce(&S) -> T) -> Result<T> {
        self.raft
            .ensure_linearizable()
            .await
            .map_err(|error| match error {
                RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)) => {
                    RaftNodeError::NotLeader {
                        node_id: self.id,
                        leader_id: forward.leader_id,
                        leader_address: forward.leader_node.map(|node| node.addr),
                    }
                }
                RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(quorum)) => {
                    RaftNodeError::QuorumUnavailable {
                        node_id: self.id,
                        reason: quorum.to_string(),
                    }
                }
                RaftError::Fatal(source) => self.stopped(source),
            })?;
        self.read_local(read)
    }

    /// Reads this node's state machine as applied so far, without asking anyone (may be stale).
    pub fn read_local<T>(&self, read: impl FnOnce(&S) -> T) -> Result<T> {
        let state = lock_machine(&self.machine).map_err(|_| self.stopped(Fatal::Panicked))?;
        Ok(read(&state.machine))
    }

    /// This node's view of itself and the cluster.
    pub async fn metrics(&self) -> Result<RaftNodeMetrics> {
        let commit_index = self
            .raft
            .with_raft_state(|state| state.committed.map(|log_id| log_id.index))
            .await
            .map_err(|source| self.stopped(source))?;
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let address = |id: NodeId| {
            membership
                .get_node(&id)
                .map(|node| node.addr.clone())
                .unwrap_or_default()
        };
        let role = match metrics.state {
            ServerState::Leader => RaftRole::Leader,
            ServerState::Follower => RaftRole::Follower,
            ServerState::Candidate => RaftRole::Candidate,
            ServerState::Learner => RaftRole::Learner,
            ServerState::Shutdown => RaftRole::Shutdown,
        };
        Ok(RaftNodeMetrics {
            id: self.id,
            role,
            term: metrics.current_term,
            leader: metrics.current_leader,
            commit_index,
            applied_index: metrics.last_applied.map(|log_id| log_id.index),
            last_log_index: metrics.last_log_index,
            snapshot_index: metrics.snapshot.map(|log_id| log_id.index),
            purged_index: metrics.purged.map(|log_id| log_id.index),
            voters: membership.voter_ids().map(|id| (id, address(id))).collect(),
            learners: membership
                .learner_ids()
                .map(|id| (id, address(id)))
                .collect(),
        })
    }

    /// Waits until this node knows a leader, and returns it.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeId> {
        let metrics = self
            .raft
            .wait(Some(timeout))
            .metrics(|metrics| metrics.current_leader.is_some(), "a leader")
            .await
            .map_err(|error| RaftNodeError::Timeout {
                node_id: self.id,
                what: error.to_string(),
            })?;
        metrics
            .current_leader
            .ok_or_else(|| RaftNodeError::Timeout {
                node_id: self.id,
                what: "a leader".to_owned(),
            })
    }

    /// Waits until this node has applied the log up to `index`.
    pub async fn wait_for_applied(&self, index: u64, timeout: Duration) -> Result<()> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "applied index")
            .await
            .map_err(|error| RaftNodeError::Timeout {
                node_id: self.id,
                what: error.to_string(),
            })?;
        Ok(())
    }

    /// Stops the node and flushes its store; the data directory can then be started again
    /// once every clone of [`RaftNode::raft`] is dropped.
    pub async fn shutdown(&self) -> Result<()> {
        if let Err(error) = self.raft.shutdown().await {
            tracing::warn!(node_id = self.id, %error, "raft task ended abnormally");
        }
        self.db
            .flush_async()
            .await
            .map_err(|source| RaftNodeError::Store {
                operation: "flush on shutdown",
                source,
            })?;
        tracing::info!(node_id = self.id, "raft node stopped");
        Ok(())
    }

    fn stopped(&self, source: Fatal<NodeId>) -> RaftNodeError {
        RaftNodeError::Stopped {
            node_id: self.id,
            source: Box::new(source),
        }
    }

    fn client_write_error(
        &self,
        error: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
    ) -> RaftNodeError {
        match error {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                RaftNodeError::NotLeader {
                    node_id: self.id,
                    leader_id: forward.leader_id,
                    leader_address: forward.leader_node.map(|node| node.addr),
                }
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
                RaftNodeError::Membership {
                    reason: error.to_string(),
                }
            }
            RaftError::Fatal(source) => self.stopped(source),
        }
    }
}
