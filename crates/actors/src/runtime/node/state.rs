//! A node supervisor's settings and changing state.

use std::collections::BTreeMap;
use std::time::Duration;

use mirage_core::JobId;
use ractor::{ActorId, ActorRef};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime::worker::WorkerMsg;

/// How a node supervisor behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// How often it heartbeats (keep it well under the lease duration and the node timeout).
    pub heartbeat_interval: Duration,
    /// The scheduler's lease duration. A node that has not renewed a job's lease for this
    /// long (cut off from the leader, say) stops that job's worker on its own: by then the
    /// lease has run out in the state and the job may be running elsewhere.
    pub lease: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(2),
            lease: Duration::from_secs(10),
        }
    }
}

/// A worker this node runs.
#[derive(Debug, Clone)]
pub struct RunningJob {
    /// The lease's fencing token.
    pub token: u64,
    /// The worker.
    pub worker: ActorRef<WorkerMsg>,
    /// When the last heartbeat that renewed its lease was sent (or the worker started):
    /// the state extends the lease from a later moment, so counting from here never
    /// outlives it.
    pub renewed_at: Instant,
}

/// A node supervisor's state.
#[derive(Debug, Default)]
pub struct NodeState {
    /// Running workers by job.
    pub running: BTreeMap<JobId, RunningJob>,
    /// The job each worker actor runs, to match supervision events.
    pub by_worker: BTreeMap<ActorId, JobId>,
    /// The heartbeat timer.
    pub heartbeat: Option<JoinHandle<()>>,
}

impl NodeState {
    /// Forgets the worker of `job`, returning it.
    pub fn forget(&mut self, job: JobId) -> Option<RunningJob> {
        let running = self.running.remove(&job)?;
        self.by_worker.remove(&running.worker.get_id());
        Some(running)
    }
}
