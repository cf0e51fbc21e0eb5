//! `ClusterService`: the Raft view from [`RaftNode::metrics`](crate::raft::RaftNode) and the
//! registered nodes' resources, jobs and the ledgers' integrity from the replicated state,
//! read locally (no quorum round trip, so a status answers even without a leader, and each
//! node reports what it has applied).

use crate::gateway::Caller;
use std::sync::Arc;

use mirage_actors::{JobState, NodeSpec};
use mirage_core::ids::NodeId as ActorNodeId;
use mirage_proto::v1::cluster_service_server::ClusterService;
use mirage_proto::v1::{
    ClusterStatus, GetClusterStatusRequest, GetClusterStatusResponse, GpuInfo, ListNodesRequest,
    ListNodesResponse, NodeInfo, NodeRole,
};
use tonic::{Request, Response, Status};

use crate::cluster::ClusterNode;
use crate::raft::NodeId;

/// What the status reads from the state in one pass.
struct StateView {
    registered: std::collections::BTreeMap<ActorNodeId, mirage_actors::Node>,
    running: std::collections::BTreeMap<ActorNodeId, Vec<String>>,
    alive: std::collections::BTreeSet<ActorNodeId>,
    counts: [u32; 5],
    ledgers: u32,
    ledgers_verified: bool,
}

/// The public `ClusterService` of one node.
#[derive(Debug, Clone)]
pub struct ClusterApi {
    node: Arc<ClusterNode>,
    own: NodeSpec,
    flight_address: String,
}

impl ClusterApi {
    /// The service of `node`, which describes itself as `own` (registered or not: the
    /// leader registers peers from this).
    pub fn new(node: Arc<ClusterNode>, own: NodeSpec, flight_address: String) -> Self {
        Self {
            node,
            own,
            flight_address,
        }
    }
}

impl ClusterApi {
    /// The status as `viewer` may see it: job counts and nodes for everyone, the ids of
    /// running jobs only for the viewer's own tenant (all of them for the cluster's own
    /// tenant, which the cluster secret authenticates).
    async fn status(&self, viewer: &Caller) -> Result<ClusterStatus, Status> {
        let sees_all = viewer.cluster
            || (viewer.tenant == crate::api::default_tenant() && viewer.role.is_admin());
        let metrics = self
            .node
            .metrics()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let view = self
            .node
            .read_local(|machine| {
                let state = machine.state();
                let now = state.clock_ms();
                let mut running = std::collections::BTreeMap::<_, Vec<String>>::new();
                let mut counts = [0u32; 5];
                for job in state.jobs().values() {
                    let slot = match &job.state {
                        JobState::Queued => 0,
                        JobState::Running { node, .. } => {
                            let entry = running.entry(*node).or_default();
                            if sees_all || viewer.owns(job.spec.tenant) {
                                entry.push(job.spec.id.to_string());
                            }
                            1
                        }
                        JobState::Succeeded { .. } => 2,
                        JobState::Failed { .. } => 3,
                        JobState::Cancelled => 4,
                    };
                    counts[slot] = counts[slot].saturating_add(1);
                }
                StateView {
                    registered: state.nodes().clone(),
                    alive: state
                        .nodes()
                        .keys()
                        .filter(|id| state.is_alive(**id, now))
                        .copied()
                        .collect(),
                    running,
                    counts,
                    ledgers: u32::try_from(state.ledgers().len()).unwrap_or(u32::MAX),
                    ledgers_verified: state.ledgers().values().all(|l| l.verify().is_ok()),
                }
            })
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let registered = &view.registered;
        let mut ids: Vec<NodeId> = metrics
            .voters
            .keys()
            .chain(metrics.learners.keys())
            .copied()
            .chain(registered.keys().map(|id| id.0))
            .chain([self.own.id.0])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let nodes = ids
            .into_iter()
            .map(|id| {
                let role = if metrics.leader == Some(id) {
                    NodeRole::Leader
                } else if metrics.voters.contains_key(&id) {
                    NodeRole::Follower
                } else if metrics.learners.contains_key(&id) {
                    NodeRole::Learner
                } else {
                    NodeRole::Unspecified
                };
                let membership_address = metrics
                    .voters
                    .get(&id)
                    .or_else(|| metrics.learners.get(&id))
                    .cloned();
                let node = registered.get(&ActorNodeId(id));
                // A node always describes itself, registered or not: the leader registers
                // its peers from this.
                let spec = node
                    .map(|node| &node.spec)
                    .or((id == self.own.id.0).then_some(&self.own));
                let mut info = NodeInfo {
                    id,
                    address: membership_address.unwrap_or_default(),
                    role: role as i32,
                    ..NodeInfo::default()
                };
                if let Some(spec) = spec {
                    if info.address.is_empty() {
                        info.address.clone_from(&spec.address);
                    }
                    info.cpu_cores = spec.cpu_cores;
                    info.memory_bytes = spec.memory_bytes;
                    info.gpus = spec
                        .gpus
                        .iter()
                        .map(|gpu| GpuInfo {
                            index: gpu.index,
                            name: String::new(),
                            memory_bytes: gpu.memory_bytes,
                        })
                        .collect();
                }
                if let Some(node) = node {
                    info.last_heartbeat_at_ms =
                        i64::try_from(node.last_heartbeat_ms).unwrap_or(i64::MAX);
                }
                info.running_jobs = view
                    .running
                    .get(&ActorNodeId(id))
                    .cloned()
                    .unwrap_or_default();
                info.alive = view.alive.contains(&ActorNodeId(id));
                info
            })
            .collect();
        Ok(ClusterStatus {
            leader_id: metrics.leader,
            term: metrics.term,
            commit_index: metrics.commit_index.unwrap_or(0),
            nodes,
            last_applied: metrics.applied_index.unwrap_or(0),
            jobs_queued: view.counts[0],
            jobs_running: view.counts[1],
            jobs_succeeded: view.counts[2],
            jobs_failed: view.counts[3],
            jobs_cancelled: view.counts[4],
            ledgers: view.ledgers,
            ledgers_verified: view.ledgers_verified,
            answered_by: self.own.id.0,
            flight_address: self.flight_address.clone(),
            snapshot_index: metrics.snapshot_index.unwrap_or(0),
            purged_index: metrics.purged_index.unwrap_or(0),
        })
    }
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    async fn get_cluster_status(
        &self,
        request: Request<GetClusterStatusRequest>,
    ) -> Result<Response<GetClusterStatusResponse>, Status> {
        let viewer = crate::gateway::caller(&request)?;
        Ok(Response::new(GetClusterStatusResponse {
            status: Some(self.status(&viewer).await?),
        }))
    }

    async fn list_nodes(
        &self,
        request: Request<ListNodesRequest>,
    ) -> Result<Response<ListNodesResponse>, Status> {
        let viewer = crate::gateway::caller(&request)?;
        Ok(Response::new(ListNodesResponse {
            nodes: self.status(&viewer).await?.nodes,
        }))
    }
}
