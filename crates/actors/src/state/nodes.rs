//! The node registry: what each member offers and when it was last heard from.

use std::collections::BTreeSet;

use mirage_core::NodeId;
use serde::{Deserialize, Serialize};

use super::ClusterState;
use super::command::LeaseClaim;
use super::jobs::JobState;
use super::outcome::{Outcome, Response};
use crate::error::StateError;

/// A GPU a node offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// Device index on the node.
    pub index: u32,
    /// Device memory in bytes.
    pub memory_bytes: u64,
}

/// What a node announces when it joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Its Raft id.
    pub id: NodeId,
    /// Its gRPC address.
    pub address: String,
    /// CPU cores it gives to jobs.
    pub cpu_cores: u32,
    /// Memory in bytes it gives to jobs.
    pub memory_bytes: u64,
    /// Its GPUs.
    #[serde(default)]
    pub gpus: Vec<Gpu>,
}

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// What it offers.
    pub spec: NodeSpec,
    /// When it first registered.
    pub registered_at_ms: u64,
    /// Its last heartbeat (or registration).
    pub last_heartbeat_ms: u64,
}

impl Node {
    /// Whether its last heartbeat is at most `window_ms` before `now_ms`.
    pub fn is_alive(&self, now_ms: u64, window_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_heartbeat_ms) <= window_ms
    }
}

impl ClusterState {
    pub(super) fn register_node(&mut self, spec: NodeSpec) -> Response {
        if spec.address.trim().is_empty() {
            return Err(StateError::invalid("address", "a node needs an address"));
        }
        let mut indices = BTreeSet::new();
        if let Some(gpu) = spec.gpus.iter().find(|g| !indices.insert(g.index)) {
            return Err(StateError::invalid(
                "gpus",
                format!("gpu index {} appears twice", gpu.index),
            ));
        }
        let now = self.clock_ms;
        match self.nodes.get_mut(&spec.id) {
            Some(node) => {
                node.last_heartbeat_ms = now;
                if node.spec == spec {
                    return Ok(Outcome::Unchanged);
                }
                node.spec = spec;
            }
            None => {
                self.nodes.insert(
                    spec.id,
                    Node {
                        spec,
                        registered_at_ms: now,
                        last_heartbeat_ms: now,
                    },
                );
            }
        }
        Ok(Outcome::Applied)
    }

    pub(super) fn heartbeat(&mut self, node: NodeId, leases: Vec<LeaseClaim>) -> Response {
        let now = self.clock_ms;
        let Some(entry) = self.nodes.get_mut(&node) else {
            return Err(StateError::UnknownNode { node });
        };
        entry.last_heartbeat_ms = now;
        let mut renewed = Vec::new();
        let mut lost = Vec::new();
        for claim in leases {
            let live = self
                .jobs
                .get_mut(&claim.job)
                .and_then(|job| match &mut job.state {
                    JobState::Running {
                        node: holder,
                        lease,
                        ..
                    } if *holder == node
                        && lease.token == claim.token
                        && now < lease.expires_at_ms =>
                    {
                        Some(lease)
                    }
                    _ => None,
                });
            match live {
                Some(lease) => {
                    lease.expires_at_ms = now.saturating_add(lease.duration_ms);
                    renewed.push(claim.job);
                }
                None => lost.push(claim.job),
            }
        }
        Ok(Outcome::Heartbeat { renewed, lost })
    }

    pub(super) fn remove_node(&mut self, node: NodeId) -> Response {
        if self.nodes.remove(&node).is_none() {
            return Err(StateError::UnknownNode { node });
        }
        let now = self.clock_ms;
        let mut requeued = Vec::new();
        for (id, job) in &mut self.jobs {
            if matches!(job.state, JobState::Running { node: holder, .. } if holder == node) {
                job.state = JobState::Queued;
                job.updated_at_ms = now;
                requeued.push(*id);
            }
        }
        Ok(Outcome::Requeued { jobs: requeued })
    }
}
