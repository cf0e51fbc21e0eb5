//! The node supervisor: one per node. It registers the node, heartbeats on a timer with the
//! leases its workers hold (renewing them) and stops the workers whose lease it lost, and
//! starts one supervised [`Worker`] per job the scheduler assigns it. A worker that fails
//! (its runner panicked) gets its job marked failed; the supervisor keeps serving.
//!
//! It joins its node's pg group ([`super::groups::node_group`]) so the scheduler finds it
//! wherever the scheduler runs; it and its workers relay their events to the scheduler.

pub mod messages;
pub mod state;

use std::sync::Arc;

use mirage_core::{JobId, NodeId};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tracing::{debug, info, warn};

pub use messages::NodeMsg;
pub use state::{NodeConfig, NodeState, RunningJob};

use super::client::StateClient;
use super::error::{RuntimeError, RuntimeResult};
use super::events::{EventSink, RuntimeEvent};
use super::groups::ActorGroups;
use super::runner::JobRunner;
use super::wire::LeaseClaims;
use super::worker::{Worker, WorkerArgs, WorkerMsg};
use crate::error::StateError;
use crate::state::{Command, Job, LeaseClaim, NodeSpec, Outcome};

/// Supervises the workers of one node.
pub struct NodeSupervisor {
    /// What the node offers (registered at start).
    pub spec: NodeSpec,
    /// The cluster state.
    pub client: Arc<dyn StateClient>,
    /// The work its workers run.
    pub runner: Arc<dyn JobRunner>,
    /// Its settings.
    pub config: NodeConfig,
    /// Where events go (they are relayed to the scheduler as well).
    pub events: EventSink,
    /// Where the scheduler finds it and where events are relayed.
    pub groups: ActorGroups,
}

impl std::fmt::Debug for NodeSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSupervisor")
            .field("spec", &self.spec)
            .field("config", &self.config)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Actor for NodeSupervisor {
    type Msg = NodeMsg;
    type State = NodeState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<NodeMsg>,
        _args: (),
    ) -> Result<NodeState, ActorProcessingErr> {
        self.register().await?;
        info!(node = %self.spec.id, address = %self.spec.address, cpu_cores = self.spec.cpu_cores, gpus = self.spec.gpus.len(), "node registered");
        Ok(NodeState::default())
    }

    async fn post_start(
        &self,
        myself: ActorRef<NodeMsg>,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        let interval = self.config.heartbeat_interval;
        state.heartbeat = Some(myself.send_interval(interval, || NodeMsg::Heartbeat));
        self.groups.join_node(self.spec.id, &myself);
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<NodeMsg>,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        self.groups.leave_node(self.spec.id, &myself);
        if let Some(timer) = state.heartbeat.take() {
            timer.abort();
        }
        // The workers' blocking runs go on; what they write stays fenced by their tokens.
        myself.stop_children(Some("node supervisor stopped".into()));
        info!(node = %self.spec.id, workers = state.running.len(), "node supervisor stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<NodeMsg>,
        message: NodeMsg,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            NodeMsg::StartJob { job, token } => {
                self.start_job(&myself, state, job.into_job(), token).await
            }
            NodeMsg::Heartbeat => self.heartbeat(state).await,
            NodeMsg::Running { reply } => {
                let claims = claims(state);
                // The asker may have given up waiting; nothing to do then.
                let _ = reply.send(LeaseClaims(claims));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<NodeMsg>,
        event: SupervisionEvent,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if let Some(job) = state.by_worker.get(&cell.get_id()).copied() {
                    debug!(node = %self.spec.id, %job, reason = ?reason, "worker stopped");
                    state.forget(job);
                }
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some(job) = state.by_worker.get(&cell.get_id()).copied()
                    && let Some(running) = state.forget(job)
                {
                    self.report_failure(job, running.token, error.to_string())
                        .await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl NodeSupervisor {
    /// The node's id.
    pub fn node(&self) -> NodeId {
        self.spec.id
    }

    /// Registers (or re-registers) the node.
    async fn register(&self) -> RuntimeResult<()> {
        self.client
            .apply(Command::RegisterNode(self.spec.clone()))
            .await?
            .map_err(|source| RuntimeError::Refused {
                command: "register_node",
                source,
            })?;
        Ok(())
    }

    /// Starts a worker for `job` under `token`, replacing one running an older lease.
    async fn start_job(
        &self,
        myself: &ActorRef<NodeMsg>,
        state: &mut NodeState,
        job: Job,
        token: u64,
    ) {
        let id = job.spec.id;
        if let Some(running) = state.running.get(&id) {
            if running.token >= token {
                debug!(node = %self.spec.id, job = %id, token, "job already running; start ignored");
                return;
            }
            // The old lease is gone since the scheduler granted a newer one.
            if let Some(old) = state.forget(id) {
                let _ = old.worker.send_message(WorkerMsg::LeaseLost);
            }
        }
        let worker = Worker {
            node: self.spec.id,
            client: Arc::clone(&self.client),
            runner: Arc::clone(&self.runner),
            events: self.events.clone(),
            groups: self.groups.clone(),
        };
        match Actor::spawn_linked(None, worker, WorkerArgs { job, token }, myself.get_cell()).await
        {
            Ok((worker, _)) => {
                state.by_worker.insert(worker.get_id(), id);
                state.running.insert(
                    id,
                    RunningJob {
                        token,
                        worker,
                        renewed_at: tokio::time::Instant::now(),
                    },
                );
            }
            Err(err) => {
                self.report_failure(id, token, format!("could not start a worker: {err}"))
                    .await;
            }
        }
    }

    /// Heartbeats with the running workers' leases; stops the workers whose lease is lost.
    async fn heartbeat(&self, state: &mut NodeState) {
        let leases = claims(state);
        let command = Command::Heartbeat {
            node: self.spec.id,
            leases,
        };
        let sent = tokio::time::Instant::now();
        match self.client.apply(command).await {
            Ok(Ok(Outcome::Heartbeat { lost, .. })) => {
                for job in lost {
                    self.stop_worker(state, job, "lease lost");
                }
                for running in state.running.values_mut() {
                    running.renewed_at = running.renewed_at.max(sent);
                }
                return;
            }
            Ok(Ok(other)) => {
                debug!(node = %self.spec.id, outcome = ?other, "unexpected heartbeat answer");
            }
            Ok(Err(StateError::UnknownNode { .. })) => {
                // Removed from the registry (by an operator, or a restored state): join again.
                match self.register().await {
                    Ok(()) => info!(node = %self.spec.id, "node re-registered"),
                    Err(err) => warn!(node = %self.spec.id, error = %err, "could not re-register"),
                }
            }
            Ok(Err(refusal)) => {
                warn!(node = %self.spec.id, %refusal, "heartbeat refused");
            }
            Err(err) => {
                // The next tick retries; leases survive a few missed beats.
                warn!(node = %self.spec.id, error = %err, "heartbeat failed");
            }
        }
        // Not renewed: a job whose lease has run out by now may be running elsewhere, so
        // this node stops it rather than wait to hear so.
        let expired: Vec<JobId> = state
            .running
            .iter()
            .filter(|(_, running)| {
                sent.saturating_duration_since(running.renewed_at) >= self.config.lease
            })
            .map(|(job, _)| *job)
            .collect();
        for job in expired {
            self.stop_worker(state, job, "lease not renewed in time");
        }
    }

    /// Stops the worker of `job` whose lease is gone; its outcome will be thrown away.
    fn stop_worker(&self, state: &mut NodeState, job: JobId, why: &'static str) {
        let Some(running) = state.forget(job) else {
            return;
        };
        warn!(node = %self.spec.id, %job, token = running.token, why, "stopping the worker");
        let _ = running.worker.send_message(WorkerMsg::LeaseLost);
        self.groups.publish(
            &self.events,
            RuntimeEvent::LeaseLost {
                job,
                node: self.spec.id,
                token: running.token,
            },
        );
    }

    /// Marks `job` failed under `token` after its worker failed.
    async fn report_failure(&self, job: JobId, token: u64, error: String) {
        warn!(node = %self.spec.id, %job, token, %error, "worker failed; the job runs again or fails");
        let command = Command::Fail {
            job,
            token,
            error: error.clone(),
            retry: true,
        };
        match self.client.apply(command).await {
            Ok(Ok(Outcome::Requeued { .. })) => {
                info!(node = %self.spec.id, %job, token, "job re-queued after its worker crashed");
            }
            Ok(Ok(_)) => self.groups.publish(
                &self.events,
                RuntimeEvent::JobFailed {
                    job,
                    node: self.spec.id,
                    token,
                    error,
                },
            ),
            Ok(Err(refusal)) => {
                info!(node = %self.spec.id, %job, token, %refusal, "failure not recorded: the lease is gone");
                self.groups.publish(
                    &self.events,
                    RuntimeEvent::OutcomeDiscarded {
                        job,
                        node: self.spec.id,
                        token,
                        reason: refusal.to_string(),
                    },
                );
            }
            Err(err) => {
                warn!(node = %self.spec.id, %job, token, error = %err, "could not record the failure; the lease will expire");
            }
        }
    }
}

/// The leases the running workers hold.
fn claims(state: &NodeState) -> Vec<LeaseClaim> {
    state
        .running
        .iter()
        .map(|(job, running)| LeaseClaim {
            job: *job,
            token: running.token,
        })
        .collect()
}
