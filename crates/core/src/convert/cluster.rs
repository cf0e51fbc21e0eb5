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
        }
    }
}

impl TryFrom<proto::ClusterStatus> for ClusterStatus {
    type Error = CoreError;

    fn try_from(status: proto::ClusterStatus) -> Result<Self> {
        Ok(ClusterStatus {
            leader: status.leader_id.map(NodeId),
            term: status.term,
            commit_index: status.commit_index,
            nodes: convert_all(status.nodes, "nodes")?,
        })
    }
}
