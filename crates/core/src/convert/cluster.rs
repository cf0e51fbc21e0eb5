//! GPUs, nodes, Raft roles and the cluster status.

use super::{convert_all, decode_enum, proto, unspecified};
use crate::error::{CoreError, Result};
use crate::ids::NodeId;
use crate::records::{ClusterStatus, GpuInfo, NodeInfo, NodeRole};

impl From<GpuInfo> for proto::GpuInfo {
    fn from(gpu: GpuInfo) -> Self {
        proto::GpuInfo {
            index: gpu.index,
            name: gpu.name,
            memory_bytes: gpu.memory_bytes,
        }
    }
}

impl From<proto::GpuInfo> for GpuInfo {
    fn from(gpu: proto::GpuInfo) -> Self {
        GpuInfo {
            index: gpu.index,
            name: gpu.name,
            memory_bytes: gpu.memory_bytes,
        }
    }
}

impl From<NodeRole> for proto::NodeRole {
    fn from(role: NodeRole) -> Self {
        match role {
            NodeRole::Leader => proto::NodeRole::Leader,
            NodeRole::Follower => proto::NodeRole::Follower,
            NodeRole::Learner => proto::NodeRole::Learner,
        }
    }
}

impl TryFrom<proto::NodeRole> for NodeRole {
    type Error = CoreError;

    fn try_from(role: proto::NodeRole) -> Result<Self> {
        Ok(match role {
            proto::NodeRole::Unspecified => {
                return Err(unspecified::<proto::NodeRole>(role.as_str_name()));
            }
            proto::NodeRole::Leader => NodeRole::Leader,
            proto::NodeRole::Follower => NodeRole::Follower,
            proto::NodeRole::Learner => NodeRole::Learner,
        })
    }
}

impl From<NodeInfo> for proto::NodeInfo {
    fn from(node: NodeInfo) -> Self {
        proto::NodeInfo {
            id: node.id.0,
            address: node.address,
            role: proto::NodeRole::from(node.role) as i32,
            cpu_cores: node.cpu_cores,
            memory_bytes: node.memory_bytes,
            gpus: node.gpus.into_iter().map(Into::into).collect(),
            last_heartbeat_at_ms: node.last_heartbeat_ms,
            running_jobs: node.running_jobs,
            alive: node.alive,
        }
    }
}

impl TryFrom<proto::NodeInfo> for NodeInfo {
    type Error = CoreError;

    fn try_from(node: proto::NodeInfo) -> Result<Self> {
        Ok(NodeInfo {
            id: NodeId(node.id),
            address: node.address,
            role: decode_enum::<proto::NodeRole, _>(node.role, "role")?,
            cpu_cores: node.cpu_cores,
            memory_bytes: node.memory_bytes,
            gpus: node.gpus.into_iter().map(Into::into).collect(),
            last_heartbeat_ms: node.last_heartbeat_at_ms,
            running_jobs: node.running_jobs,
            alive: node.alive,
        })
    }
}

impl From<ClusterStatus> for proto::ClusterStatus {
    fn from(status: ClusterStatus) -> Self {
        proto::ClusterStatus {
            leader_id: status.leader.map(|node| node.0),
            term: status.term,
            commit_index: status.commit_index,
            nodes: status.nodes.into_iter().map(Into::into).collect(),
            last_applied: status.last_applied,
            jobs_queued: status.jobs.queued,
            jobs_running: status.jobs.running,
            jobs_succeeded: status.jobs.succeeded,
            jobs_failed: status.jobs.failed,
            jobs_cancelled: status.jobs.cancelled,
            ledgers: status.ledgers,
            ledgers_verified: status.ledgers_verified,
            answered_by: status.answered_by.map_or(0, |node| node.0),
            flight_address: String::new(),
            snapshot_index: status.snapshot_index,
            purged_index: status.purged_index,
        }
    }
}

impl TryFrom<proto::ClusterStatus> for ClusterStatus {
    type Error = CoreError;

    fn try_from(status: proto::ClusterStatus) -> Result<Self> {
        let jobs = crate::records::JobCounts::from(&status);
        Ok(ClusterStatus {
            leader: status.leader_id.map(NodeId),
            term: status.term,
            commit_index: status.commit_index,
            nodes: convert_all(status.nodes, "nodes")?,
            last_applied: status.last_applied,
            jobs,
            ledgers: status.ledgers,
            ledgers_verified: status.ledgers_verified,
            answered_by: (status.answered_by != 0).then_some(NodeId(status.answered_by)),
            snapshot_index: status.snapshot_index,
            purged_index: status.purged_index,
        })
    }
}

impl From<&proto::ClusterStatus> for crate::records::JobCounts {
    fn from(status: &proto::ClusterStatus) -> Self {
        crate::records::JobCounts {
            queued: status.jobs_queued,
            running: status.jobs_running,
            succeeded: status.jobs_succeeded,
            failed: status.jobs_failed,
            cancelled: status.jobs_cancelled,
        }
    }
}
