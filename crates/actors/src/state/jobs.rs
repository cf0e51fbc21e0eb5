//! Jobs: the queue, leases with fencing tokens, checkpoints and outcomes.
//!
//! A running job holds one lease whose token is unique across the cluster's history
//! (a counter in the state). Every command a worker sends about its job carries the token;
//! once the lease expires or the job is re-queued or re-assigned, the old token is refused
//! forever, so a node that lost its lease can never checkpoint or complete: no job runs on
//! two nodes at once, and no acknowledged result is overwritten.

use mirage_core::records::JobKind;
use mirage_core::{JobId, NodeId, TenantId};
use serde::{Deserialize, Serialize};

use super::ClusterState;
use super::outcome::{Outcome, Response};
use super::usage::NodeUsage;
use crate::error::StateError;

/// What a job needs from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU cores.
    pub cpu_cores: u32,
    /// Estimated peak memory in bytes.
    pub memory_bytes: u64,
    /// Whether it needs a GPU of its own.
    #[serde(default)]
    pub gpu: bool,
    /// GPU memory in bytes it needs (when `gpu`).
    #[serde(default)]
    pub gpu_memory_bytes: u64,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpu_cores: 1,
            memory_bytes: 0,
            gpu: false,
            gpu_memory_bytes: 0,
        }
    }
}

/// A job as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Its id (a retried submit with the same id and content is a no-op).
    pub id: JobId,
    /// Its owner.
    pub tenant: TenantId,
    /// What it does.
    pub kind: JobKind,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    /// What it needs.
    #[serde(default)]
    pub resources: Resources,
    /// Its parameters, for the worker.
    #[serde(default)]
    pub payload: serde_json::Value,
}

/// A job's hold on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The fencing token: unique, increasing across every lease ever granted.
    pub token: u64,
    /// When it was granted.
    pub granted_at_ms: u64,
    /// When it runs out unless renewed.
    pub expires_at_ms: u64,
    /// How far each renewal extends it.
    pub duration_ms: u64,
}

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a node.
    Queued,
    /// Running under a lease.
    Running {
        /// The node running it.
        node: NodeId,
        /// The GPU it uses, for GPU jobs.
        gpu: Option<u32>,
        /// The lease.
        lease: Lease,
    },
    /// Finished well.
    Succeeded {
        /// The node that finished it.
        node: NodeId,
        /// The lease it finished under.
        token: u64,
        /// What it produced.
        result: serde_json::Value,
    },
    /// Finished with an error.
    Failed {
        /// The node it failed on.
        node: NodeId,
        /// The lease it failed under.
        token: u64,
        /// Why.
        error: String,
    },
    /// Stopped by a user.
    Cancelled,
}

impl JobState {
    /// The status's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running { .. } => "running",
            JobState::Succeeded { .. } => "succeeded",
            JobState::Failed { .. } => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether the job will never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::Succeeded { .. } | JobState::Failed { .. } | JobState::Cancelled
        )
    }
}

/// A job's last checkpoint in object storage; it survives re-queueing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Where it is.
    pub url: String,
    /// The lease it was written under.
    pub token: u64,
    /// When it was recorded.
    pub at_ms: u64,
}

/// A job and everything the cluster knows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// As submitted.
    pub spec: JobSpec,
    /// Where it is.
    pub state: JobState,
    /// When it was submitted.
    pub submitted_at_ms: u64,
    /// Submission order across the cluster (FIFO within a tenant).
    pub submit_seq: u64,
    /// How many leases it has been given.
    pub attempts: u32,
    /// Its last checkpoint.
    pub checkpoint: Option<Checkpoint>,
    /// When its state last changed.
    pub updated_at_ms: u64,
}

impl Job {
    /// The live lease's token, when running.
    pub fn lease_token(&self) -> Option<u64> {
        match &self.state {
            JobState::Running { lease, .. } => Some(lease.token),
            _ => None,
        }
    }

    /// The node running it, when running.
    pub fn running_on(&self) -> Option<NodeId> {
        match &self.state {
            JobState::Running { node, .. } => Some(*node),
            _ => None,
        }
    }
}

/// The first field in which two specs of the same id differ.
fn first_difference(a: &JobSpec, b: &JobSpec) -> &'static str {
    if a.tenant != b.tenant {
        "tenant"
    } else if a.kind != b.kind {
        "kind"
    } else if a.priority != b.priority {
        "priority"
    } else if a.resources != b.resources {
        "resources"
    } else {
        "payload"
    }
}

impl ClusterState {
    pub(super) fn submit_job(&mut self, spec: JobSpec) -> Response {
        if let Some(job) = self.jobs.get(&spec.id) {
            return if job.spec == spec {
                Ok(Outcome::Unchanged)
            } else {
                Err(StateError::conflict(
                    "job",
                    spec.id,
                    first_difference(&job.spec, &spec),
                ))
            };
        }
        let now = self.clock_ms;
        let seq = self.next_submit_seq;
        self.next_submit_seq += 1;
        self.jobs.insert(
            spec.id,
            Job {
                spec,
                state: JobState::Queued,
                submitted_at_ms: now,
                submit_seq: seq,
                attempts: 0,
                checkpoint: None,
                updated_at_ms: now,
            },
        );
        Ok(Outcome::Applied)
    }

    pub(super) fn assign(
        &mut self,
        job_id: JobId,
        node_id: NodeId,
        lease_ms: u64,
        gpu: Option<u32>,
    ) -> Response {
        if lease_ms == 0 {
            return Err(StateError::invalid("lease_ms", "a lease must last > 0 ms"));
        }
        let now = self.clock_ms;
        let job = self.job_or_err(job_id)?;
        if !matches!(job.state, JobState::Queued) {
            return Err(if job.state.is_terminal() {
                StateError::AlreadyFinished {
                    job: job_id,
                    status: job.state.name().into(),
                }
            } else {
                StateError::NotQueued {
                    job: job_id,
                    status: job.state.name().into(),
                }
            });
        }
        let resources = job.spec.resources;
        if gpu.is_some() && !resources.gpu {
            return Err(StateError::invalid(
                "gpu",
                format!("job {job_id} does not ask for a GPU"),
            ));
        }
        let Some(node) = self.nodes.get(&node_id) else {
            return Err(StateError::UnknownNode { node: node_id });
        };
        if !node.is_alive(now, self.settings.node_timeout_ms) {
            return Err(StateError::NodeNotAlive {
                node: node_id,
                last_heartbeat_ms: node.last_heartbeat_ms,
                now_ms: now,
            });
        }
        let usage = NodeUsage::of_node(self, node_id);
        let gpu = usage.fit(node, &resources, gpu).map_err(|short| {
            StateError::InsufficientResources {
                job: job_id,
                node: node_id,
                resource: short.resource,
                needed: short.needed,
                free: short.free,
            }
        })?;
        let token = self.next_token;
        self.next_token += 1;
        let lease = Lease {
            token,
            granted_at_ms: now,
            expires_at_ms: now.saturating_add(lease_ms),
            duration_ms: lease_ms,
        };
        if let Some(job) = self.jobs.get_mut(&job_id) {
            job.state = JobState::Running {
                node: node_id,
                gpu,
                lease,
            };
            job.attempts += 1;
            job.updated_at_ms = now;
        }
        Ok(Outcome::Assigned {
            job: job_id,
            node: node_id,
            gpu,
            lease,
        })
    }

    pub(super) fn renew_lease(&mut self, job_id: JobId, node: NodeId, token: u64) -> Response {
        let now = self.clock_ms;
        self.check_live_lease(job_id, token, Some(node))?;
        let job = self.jobs.get_mut(&job_id);
        let Some(JobState::Running { lease, .. }) = job.map(|j| &mut j.state) else {
            return Err(StateError::UnknownJob { job: job_id });
        };
        lease.expires_at_ms = now.saturating_add(lease.duration_ms);
        Ok(Outcome::LeaseRenewed {
            job: job_id,
            lease: *lease,
        })
    }

    pub(super) fn expire_leases(&mut self) -> Response {
        let now = self.clock_ms;
        let mut requeued = Vec::new();
        for (id, job) in &mut self.jobs {
            if matches!(&job.state, JobState::Running { lease, .. } if lease.expires_at_ms <= now) {
                job.state = JobState::Queued;
                job.updated_at_ms = now;
                requeued.push(*id);
            }
        }
        Ok(Outcome::Requeued { jobs: requeued })
    }

    pub(super) fn checkpoint(&mut self, job_id: JobId, token: u64, url: String) -> Response {
        if url.trim().is_empty() {
            return Err(StateError::invalid("url", "a checkpoint needs a location"));
        }
        let now = self.clock_ms;
        self.check_live_lease(job_id, token, None)?;
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Err(StateError::UnknownJob { job: job_id });
        };
        if job
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.url == url && c.token == token)
        {
            return Ok(Outcome::Unchanged);
        }
        job.checkpoint = Some(Checkpoint {
            url,
            token,
            at_ms: now,
        });
        job.updated_at_ms = now;
        Ok(Outcome::Applied)
    }

    pub(super) fn complete(
        &mut self,
        job_id: JobId,
        token: u64,
        result: serde_json::Value,
    ) -> Response {
        let job = self.job_or_err(job_id)?;
        if let JobState::Succeeded {
            token: done,
            result: kept,
            ..
        } = &job.state
            && *done == token
        {
            return if *kept == result {
                Ok(Outcome::Unchanged)
            } else {
                Err(StateError::conflict("job", job_id, "result"))
            };
        }
        self.finish(job_id, token, |node| JobState::Succeeded {
            node,
            token,
            result,
        })
    }

    pub(super) fn fail(
        &mut self,
        job_id: JobId,
        token: u64,
        error: String,
        retry: bool,
    ) -> Response {
        let job = self.job_or_err(job_id)?;
        if let JobState::Failed { token: done, .. } = &job.state
            && *done == token
        {
            return Ok(Outcome::Unchanged);
        }
        if retry && job.attempts < self.settings.max_attempts {
            // A crash: run it again (from its checkpoint) under a new lease.
            self.check_live_lease(job_id, token, None)?;
            let now = self.clock_ms;
            if let Some(job) = self.jobs.get_mut(&job_id) {
                job.state = JobState::Queued;
                job.updated_at_ms = now;
            }
            return Ok(Outcome::Requeued { jobs: vec![job_id] });
        }
        let outcome = self.finish(job_id, token, |node| JobState::Failed {
            node,
            token,
            error,
        })?;
        self.release_reservations(job_id);
        Ok(outcome)
    }

    pub(super) fn cancel(&mut self, job_id: JobId) -> Response {
        let now = self.clock_ms;
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Err(StateError::UnknownJob { job: job_id });
        };
        match job.state {
            JobState::Cancelled => Ok(Outcome::Unchanged),
            JobState::Succeeded { .. } | JobState::Failed { .. } => {
                Err(StateError::AlreadyFinished {
                    job: job_id,
                    status: job.state.name().into(),
                })
            }
            JobState::Queued | JobState::Running { .. } => {
                job.state = JobState::Cancelled;
                job.updated_at_ms = now;
                self.release_reservations(job_id);
                Ok(Outcome::Applied)
            }
        }
    }

    /// Ends a running job under a live lease with the state `end` builds from its node.
    fn finish(
        &mut self,
        job_id: JobId,
        token: u64,
        end: impl FnOnce(NodeId) -> JobState,
    ) -> Response {
        let now = self.clock_ms;
        let node = self.check_live_lease(job_id, token, None)?;
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Err(StateError::UnknownJob { job: job_id });
        };
        job.state = end(node);
        job.updated_at_ms = now;
        Ok(Outcome::Applied)
    }

    fn job_or_err(&self, job: JobId) -> Result<&Job, StateError> {
        self.jobs.get(&job).ok_or(StateError::UnknownJob { job })
    }

    /// The node holding `token` as the job's live lease (running, same token, not
    /// expired at the state's clock); the typed refusal otherwise. A worker that gets an
    /// error here has lost the job and must stop.
    pub fn check_lease(&self, job: JobId, token: u64) -> Result<NodeId, StateError> {
        self.check_live_lease(job, token, None)
    }

    /// [`Self::check_lease`], also requiring the lease to be held by `node` when given.
    fn check_live_lease(
        &self,
        job_id: JobId,
        token: u64,
        node: Option<NodeId>,
    ) -> Result<NodeId, StateError> {
        let job = self.job_or_err(job_id)?;
        let JobState::Running {
            node: holder,
            lease,
            ..
        } = &job.state
        else {
            return Err(StateError::StaleToken {
                job: job_id,
                token,
                current: None,
            });
        };
        if lease.token != token || node.is_some_and(|n| n != *holder) {
            return Err(StateError::StaleToken {
                job: job_id,
                token,
                current: Some(lease.token),
            });
        }
        if lease.expires_at_ms <= self.clock_ms {
            return Err(StateError::LeaseExpired {
                job: job_id,
                token,
                expired_at_ms: lease.expires_at_ms,
            });
        }
        Ok(*holder)
    }
}
