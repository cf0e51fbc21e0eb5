//! What the running jobs on a node take from it: the one resource account both the
//! state machine (refusing an `Assign` that does not fit) and the scheduler's placement use.

use std::collections::{BTreeMap, BTreeSet};

use mirage_core::NodeId;

use super::ClusterState;
use super::jobs::{JobState, Resources};
use super::nodes::Node;

/// The resources a node's running jobs hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// Running jobs.
    pub jobs: u32,
    /// CPU cores held.
    pub cpu_cores: u64,
    /// Memory bytes held.
    pub memory_bytes: u64,
    /// GPUs in use, by index.
    pub gpus: BTreeSet<u32>,
}

/// Why a job does not fit on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The resource ("cpu cores", "memory bytes", "gpu memory bytes").
    pub resource: String,
    /// What the job asks for.
    pub needed: u64,
    /// What the node has free.
    pub free: u64,
}

impl NodeUsage {
    /// The usage of every registered node (nodes without running jobs included).
    pub fn by_node(state: &ClusterState) -> BTreeMap<NodeId, NodeUsage> {
        let mut usage: BTreeMap<NodeId, NodeUsage> = state
            .nodes
            .keys()
            .map(|id| (*id, NodeUsage::default()))
            .collect();
        for job in state.jobs.values() {
            if let JobState::Running { node, gpu, .. } = &job.state {
                usage
                    .entry(*node)
                    .or_default()
                    .add(&job.spec.resources, *gpu);
            }
        }
        usage
    }

    /// The usage of one node.
    pub fn of_node(state: &ClusterState, node: NodeId) -> NodeUsage {
        let mut usage = NodeUsage::default();
        for job in state.jobs.values() {
            if let JobState::Running {
                node: holder, gpu, ..
            } = &job.state
                && *holder == node
            {
                usage.add(&job.spec.resources, *gpu);
            }
        }
        usage
    }

    /// Counts one more job holding `resources` (and `gpu`).
    pub fn add(&mut self, resources: &Resources, gpu: Option<u32>) {
        self.jobs += 1;
        self.cpu_cores += u64::from(resources.cpu_cores);
        self.memory_bytes = self.memory_bytes.saturating_add(resources.memory_bytes);
        if let Some(index) = gpu {
            self.gpus.insert(index);
        }
    }

    /// GPUs of `node` that no job holds, smallest memory first, then by index.
    pub fn free_gpus<'n>(&self, node: &'n Node) -> Vec<&'n super::nodes::Gpu> {
        let mut free: Vec<_> = node
            .spec
            .gpus
            .iter()
            .filter(|g| !self.gpus.contains(&g.index))
            .collect();
        free.sort_by_key(|g| (g.memory_bytes, g.index));
        free
    }

    /// Whether a job needing `resources` fits on `node` beside the running jobs, and the
    /// GPU it would use: `wanted` if given (it must be free and large enough), otherwise
    /// the smallest free GPU that is large enough (best fit).
    pub fn fit(
        &self,
        node: &Node,
        resources: &Resources,
        wanted: Option<u32>,
    ) -> Result<Option<u32>, Shortfall> {
        let cores = u64::from(node.spec.cpu_cores);
        let free_cores = cores.saturating_sub(self.cpu_cores);
        if u64::from(resources.cpu_cores) > free_cores {
            return Err(Shortfall {
                resource: "cpu cores".into(),
                needed: resources.cpu_cores.into(),
                free: free_cores,
            });
        }
        let free_memory = node.spec.memory_bytes.saturating_sub(self.memory_bytes);
        if resources.memory_bytes > free_memory {
            return Err(Shortfall {
                resource: "memory bytes".into(),
                needed: resources.memory_bytes,
                free: free_memory,
            });
        }
        if !resources.gpu {
            return Ok(None);
        }
        let free = self.free_gpus(node);
        let fitting = |g: &&&super::nodes::Gpu| g.memory_bytes >= resources.gpu_memory_bytes;
        let chosen = match wanted {
            Some(index) => free.iter().filter(|g| g.index == index).find(fitting),
            None => free.iter().find(fitting),
        };
        match chosen {
            Some(gpu) => Ok(Some(gpu.index)),
            None => Err(Shortfall {
                resource: match wanted {
                    Some(index) => format!("gpu memory bytes on free gpu {index}"),
                    None => "gpu memory bytes on a free gpu".into(),
                },
                needed: resources.gpu_memory_bytes,
                free: free
                    .iter()
                    .filter(|g| wanted.is_none_or(|i| g.index == i))
                    .map(|g| g.memory_bytes)
                    .max()
                    .unwrap_or(0),
            }),
        }
    }
}
