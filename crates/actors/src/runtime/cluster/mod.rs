//! The cluster supervisor: runs the scheduler on a timer. Each round expires the leases
//! that ran out (re-queueing their jobs), computes [`place`] on a fresh read of the state,
//! assigns each placement under a new lease and tells the chosen node's
//! [`super::NodeSupervisor`] to start the job. The state re-checks every assignment, so a
//! round computed from a stale view can be refused but never overcommits a node.
//!
//! It finds node supervisors through their pg group ([`super::ActorGroups`]), on this node
//! or on another one connected through the actor network, and joins the scheduler group
//! so workers anywhere relay their events (progress, checkpoints, outcomes) to it; it
//! passes those on to its own [`EventSink`].

pub mod messages;
pub mod state;

use std::sync::Arc;

use mirage_core::{JobId, NodeId};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{debug, info, warn};

pub use messages::ClusterMsg;
pub use state::{ClusterSupervisorState, SchedulerConfig};

use super::client::StateClient;
use super::error::{RuntimeError, RuntimeResult};
use super::events::{EventSink, RuntimeEvent};
use super::groups::ActorGroups;
use super::node::NodeMsg;
use super::wire::{EventPayload, JobPayload};
use crate::placement::{ClusterView, place};
use crate::state::{Command, Outcome};

/// Runs the scheduler (on the leader, once the state is replicated).
pub struct ClusterSupervisor {
    /// The cluster state.
    pub client: Arc<dyn StateClient>,
    /// The scheduler's settings.
    pub config: SchedulerConfig,
    /// Where events go: its own and those relayed by workers on every node.
    pub events: EventSink,
    /// Where it finds node supervisors and receives relayed events.
    pub groups: ActorGroups,
}

impl std::fmt::Debug for ClusterSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSupervisor")
            .field("config", &self.config)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// One assignment a scheduling round made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The job.
    pub job: JobId,
    /// The node.
    pub node: NodeId,
    /// The lease's fencing token.
    pub token: u64,
}

impl Actor for ClusterSupervisor {
    type Msg = ClusterMsg;
    type State = ClusterSupervisorState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<ClusterMsg>,
        _args: (),
    ) -> Result<ClusterSupervisorState, ActorProcessingErr> {
        Ok(ClusterSupervisorState::default())
    }

    async fn post_start(
        &self,
        myself: ActorRef<ClusterMsg>,
        state: &mut ClusterSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        state.ticker = Some(myself.send_interval(self.config.tick_interval, || ClusterMsg::Tick));
        self.groups.join_scheduler(&myself);
        info!(
            lease_ms = self.config.lease_ms(),
            tick_ms = self.config.tick_interval.as_millis() as u64,
            "cluster supervisor started"
        );
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<ClusterMsg>,
        state: &mut ClusterSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        self.groups.leave_scheduler(&myself);
        if let Some(ticker) = state.ticker.take() {
            ticker.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<ClusterMsg>,
        message: ClusterMsg,
        _state: &mut ClusterSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ClusterMsg::Tick => {
                // A failed round is retried on the next tick; the supervisor keeps running.
                if let Err(err) = self.schedule_round().await {
                    warn!(error = %err, "scheduling round failed");
                }
            }
            ClusterMsg::Event {
                event: EventPayload(event),
            } => self.events.emit(event),
        }
        Ok(())
    }
}

impl ClusterSupervisor {
    /// One scheduling round: expire leases, place, assign, start. Returns the assignments
    /// whose node was told to start the job.
    pub async fn schedule_round(&self) -> RuntimeResult<Vec<Assignment>> {
        let expired = self
            .client
            .apply(Command::ExpireLeases)
            .await?
            .map_err(|source| RuntimeError::Refused {
                command: "expire_leases",
                source,
            })?;
        if let Outcome::Requeued { jobs } = &expired
            && !jobs.is_empty()
        {
            info!(jobs = ?jobs, "leases expired; jobs re-queued");
        }
        let snapshot = self.client.read().await?;
        let now_ms = snapshot.clock_ms();
        let placements = place(&ClusterView::new(&snapshot, self.config.placement), now_ms);
        let mut started = Vec::new();
        for placement in placements {
            let Some(supervisor) = self.groups.node_supervisor(placement.node) else {
                debug!(job = %placement.job, node = %placement.node, "no supervisor for the placed node; skipped");
                continue;
            };
            let Some(job) = snapshot.job(placement.job).cloned() else {
                continue;
            };
            let command = Command::Assign {
                job: placement.job,
                node: placement.node,
                lease_ms: self.config.lease_ms(),
                gpu: placement.gpu,
            };
            let token = match self.client.apply(command).await? {
                Ok(Outcome::Assigned { lease, gpu, .. }) => {
                    info!(job = %placement.job, node = %placement.node, token = lease.token, gpu = ?gpu, "job assigned");
                    lease.token
                }
                Ok(other) => {
                    debug!(job = %placement.job, outcome = ?other, "unexpected assign answer");
                    continue;
                }
                Err(refusal) => {
                    // Placed from a view that changed meanwhile; the next round retries.
                    debug!(job = %placement.job, node = %placement.node, %refusal, "assignment refused");
                    continue;
                }
            };
            self.events.emit(RuntimeEvent::JobAssigned {
                job: placement.job,
                node: placement.node,
                token,
            });
            let message = NodeMsg::StartJob {
                job: JobPayload::new(job),
                token,
            };
            if let Err(err) = supervisor.send_message(message) {
                // The lease will expire unrenewed and the job go back to the queue.
                warn!(job = %placement.job, node = %placement.node, token, error = %err, "node supervisor gone; its lease will expire");
                continue;
            }
            started.push(Assignment {
                job: placement.job,
                node: placement.node,
                token,
            });
        }
        Ok(started)
    }
}
