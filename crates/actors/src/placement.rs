//! The scheduler's placement: which queued job goes to which node, as a pure function of
//! the replicated state. The cluster supervisor turns each [`Placement`] into an
//! [`crate::Command::Assign`]; the state machine re-checks the hard limits (liveness,
//! memory, cores, GPUs), so a placement computed from a slightly stale view can be
//! refused but never overcommit a node.
//!
//! Rules, in order:
//! - only nodes heard from within `alive_window_ms`, below their concurrency limit;
//! - a job fits a node when its cores and memory estimate fit beside the running jobs,
//!   and a GPU job gets a GPU of its own with enough memory (best fit);
//! - higher priority first; within a priority, the tenant with fewer running jobs first
//!   (counting jobs placed in this round), then FIFO by submission within a tenant;
//! - a job that fits nowhere is skipped, and later jobs may still run (backfill);
//! - among the nodes that fit: CPU jobs prefer nodes with no free GPU (GPUs stay free
//!   for GPU jobs), then the fewest running jobs, then the most free memory, then the
//!   lowest node id. Every tie is broken by ids, so the result is deterministic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

use mirage_core::{JobId, NodeId, TenantId};
use serde::{Deserialize, Serialize};

use crate::state::{ClusterState, Job, JobState, Node, NodeUsage};

/// How many jobs a node may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConcurrencyLimit {
    /// `jobs_per_core` × the node's CPU cores.
    PerCore {
        /// Jobs per core.
        jobs_per_core: u32,
    },
    /// The same number on every node.
    Fixed {
        /// Jobs per node.
        jobs: u32,
    },
}

impl ConcurrencyLimit {
    /// The limit for `node`.
    pub fn for_node(self, node: &Node) -> u32 {
        match self {
            ConcurrencyLimit::PerCore { jobs_per_core } => {
                node.spec.cpu_cores.saturating_mul(jobs_per_core)
            }
            ConcurrencyLimit::Fixed { jobs } => jobs,
        }
    }
}

/// The scheduler's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementConfig {
    /// Nodes whose last heartbeat is older than this get no work (keep it at most the
    /// state's `node_timeout_ms`, or the state will refuse the assignment).
    pub alive_window_ms: u64,
    /// Jobs per node at once.
    pub concurrency: ConcurrencyLimit,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            alive_window_ms: 10_000,
            concurrency: ConcurrencyLimit::PerCore { jobs_per_core: 1 },
        }
    }
}

/// What placement reads: the replicated state and the scheduler's settings.
#[derive(Debug, Clone, Copy)]
pub struct ClusterView<'a> {
    /// The state, as applied on the scheduler's node.
    pub state: &'a ClusterState,
    /// The settings.
    pub config: PlacementConfig,
}

impl<'a> ClusterView<'a> {
    /// A view of `state` under `config`.
    pub fn new(state: &'a ClusterState, config: PlacementConfig) -> Self {
        Self { state, config }
    }
}

/// One decision: run `job` on `node` (on `gpu`, for GPU jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The job.
    pub job: JobId,
    /// The node.
    pub node: NodeId,
    /// The GPU, for GPU jobs.
    pub gpu: Option<u32>,
}

/// Places as many queued jobs as fit, at `now_ms`, in the order they were decided.
pub fn place(view: &ClusterView<'_>, now_ms: u64) -> Vec<Placement> {
    let state = view.state;
    let config = view.config;
    let mut usage = NodeUsage::by_node(state);
    let candidates: Vec<&Node> = state
        .nodes()
        .values()
        .filter(|n| n.is_alive(now_ms, config.alive_window_ms))
        .collect();
    let mut tenant_running: BTreeMap<TenantId, u32> = BTreeMap::new();
    // Priority (highest first) → tenant → its queued jobs in submission order.
    let mut levels: BTreeMap<Reverse<i32>, BTreeMap<TenantId, Vec<&Job>>> = BTreeMap::new();
    for job in state.jobs().values() {
        match job.state {
            JobState::Running { .. } => *tenant_running.entry(job.spec.tenant).or_default() += 1,
            JobState::Queued => levels
                .entry(Reverse(job.spec.priority))
                .or_default()
                .entry(job.spec.tenant)
                .or_default()
                .push(job),
            _ => {}
        }
    }
    let mut placements = Vec::new();
    for tenants in levels.into_values() {
        let mut queues: BTreeMap<TenantId, VecDeque<&Job>> = tenants
            .into_iter()
            .map(|(tenant, mut jobs)| {
                jobs.sort_by_key(|j| (j.submit_seq, j.spec.id));
                (tenant, VecDeque::from(jobs))
            })
            .collect();
        while let Some(tenant) = next_tenant(&queues, &tenant_running) {
            let Some(job) = queues.get_mut(&tenant).and_then(VecDeque::pop_front) else {
                break;
            };
            if queues.get(&tenant).is_some_and(VecDeque::is_empty) {
                queues.remove(&tenant);
            }
            let Some((node, gpu)) = choose_node(job, &candidates, &usage, config) else {
                continue;
            };
            usage.entry(node).or_default().add(&job.spec.resources, gpu);
            *tenant_running.entry(tenant).or_default() += 1;
            placements.push(Placement {
                job: job.spec.id,
                node,
                gpu,
            });
        }
    }
    placements
}

/// The tenant whose turn it is: fewest running jobs, then the oldest head-of-queue job,
/// then the lowest tenant id.
fn next_tenant(
    queues: &BTreeMap<TenantId, VecDeque<&Job>>,
    running: &BTreeMap<TenantId, u32>,
) -> Option<TenantId> {
    queues
        .iter()
        .filter_map(|(tenant, queue)| {
            let head = queue.front()?;
            let count = running.get(tenant).copied().unwrap_or(0);
            Some(((count, head.submit_seq, *tenant), *tenant))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, tenant)| tenant)
}

/// The best node for `job` among the alive candidates, and its GPU.
fn choose_node(
    job: &Job,
    candidates: &[&Node],
    usage: &BTreeMap<NodeId, NodeUsage>,
    config: PlacementConfig,
) -> Option<(NodeId, Option<u32>)> {
    let empty = NodeUsage::default();
    candidates
        .iter()
        .filter_map(|node| {
            let used = usage.get(&node.spec.id).unwrap_or(&empty);
            if used.jobs >= config.concurrency.for_node(node) {
                return None;
            }
            let gpu = used.fit(node, &job.spec.resources, None).ok()?;
            let keeps_gpus_free = !job.spec.resources.gpu && !used.free_gpus(node).is_empty();
            let free_memory = node.spec.memory_bytes.saturating_sub(used.memory_bytes);
            let key = (
                keeps_gpus_free,
                used.jobs,
                Reverse(free_memory),
                node.spec.id,
            );
            Some((key, (node.spec.id, gpu)))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, choice)| choice)
}

#[cfg(test)]
mod tests;
