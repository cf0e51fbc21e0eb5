//! The worker: runs one job under one lease.
//!
//! The run goes to a blocking thread (`spawn_blocking`); a task beside it waits for the
//! result and writes `Complete` or `Fail` with the lease's fencing token. The worker renews
//! nothing: its node's heartbeat does. A write refused for a stale or expired token means
//! another node owns the job now, and the outcome is thrown away. Stopping the worker
//! actor does not stop the thread (blocking work cannot be interrupted): whatever it
//! writes afterwards is still fenced by its token.

pub mod messages;
pub mod state;

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mirage_core::{JobId, NodeId};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::runtime::Handle;
use tracing::{debug, info, warn};

pub use messages::WorkerMsg;
pub use state::{WorkerArgs, WorkerState};

use super::client::StateClient;
use super::events::{EventSink, RuntimeEvent};
use super::groups::ActorGroups;
use super::runner::{CheckpointUrl, JobProgress, JobRunner, RunContext};
use crate::state::{Command, Job};

/// Runs one job; one per assigned job, supervised by its node's
/// [`super::NodeSupervisor`].
pub struct Worker {
    /// The node it runs on.
    pub node: NodeId,
    /// The cluster state.
    pub client: Arc<dyn StateClient>,
    /// The work.
    pub runner: Arc<dyn JobRunner>,
    /// Where events go (they are relayed to the scheduler as well).
    pub events: EventSink,
    /// Where the scheduler is, to relay events to.
    pub groups: ActorGroups,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// A worker failed because its runner panicked.
#[derive(Debug, thiserror::Error)]
#[error("job {job}: the runner panicked: {message}")]
pub struct RunnerPanic {
    /// The job.
    pub job: JobId,
    /// The panic's message.
    pub message: String,
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<WorkerMsg>,
        args: WorkerArgs,
    ) -> Result<WorkerState, ActorProcessingErr> {
        Ok(WorkerState {
            job: args.job.spec.id,
            token: args.token,
            discard: Arc::new(AtomicBool::new(false)),
            pending: Some(args.job),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<WorkerMsg>,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(job) = state.pending.take() {
            let run = Run {
                node: self.node,
                token: state.token,
                client: Arc::clone(&self.client),
                runner: Arc::clone(&self.runner),
                events: self.events.clone(),
                groups: self.groups.clone(),
                discard: Arc::clone(&state.discard),
            };
            tokio::spawn(run.execute(job, myself));
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        message: WorkerMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WorkerMsg::LeaseLost => {
                state.discard.store(true, Ordering::SeqCst);
                info!(node = %self.node, job = %state.job, token = state.token, "lease lost; stopping the worker");
                myself.stop(Some("lease lost".into()));
                Ok(())
            }
            WorkerMsg::RunnerPanicked { message } => Err(RunnerPanic {
                job: state.job,
                message,
            }
            .into()),
        }
    }
}

/// One run of a job: everything the blocking thread and the task waiting for it need.
struct Run {
    node: NodeId,
    token: u64,
    client: Arc<dyn StateClient>,
    runner: Arc<dyn JobRunner>,
    events: EventSink,
    groups: ActorGroups,
    discard: Arc<AtomicBool>,
}

impl Run {
    /// Runs the job on a blocking thread, then writes its outcome under the lease and
    /// stops the worker (or makes it fail, when the runner panicked).
    async fn execute(self, job: Job, worker: ActorRef<WorkerMsg>) {
        let job_id = job.spec.id;
        let resumed_from = job.checkpoint.as_ref().map(|c| c.url.clone());
        info!(node = %self.node, job = %job_id, token = self.token, resumed_from = ?resumed_from, "worker started");
        self.groups.publish(
            &self.events,
            RuntimeEvent::WorkerStarted {
                job: job_id,
                node: self.node,
                token: self.token,
                resumed_from,
            },
        );
        let outcome = {
            let reporter = Reporter {
                node: self.node,
                job: job_id,
                token: self.token,
                client: Arc::clone(&self.client),
                events: self.events.clone(),
                groups: self.groups.clone(),
                discard: Arc::clone(&self.discard),
                handle: Handle::current(),
            };
            let runner = Arc::clone(&self.runner);
            let cancelled = Arc::clone(&self.discard);
            tokio::task::spawn_blocking(move || {
                let checkpoint = job.checkpoint.as_ref().map(|c| c.url.as_str());
                let record = |url| reporter.report(url);
                let progress = |progress| reporter.progress(progress);
                let context = RunContext::new(checkpoint, &record, &progress, cancelled);
                runner.run(&job, &context)
            })
            .await
        };
        let command = match outcome {
            Ok(Ok(result)) => Command::Complete {
                job: job_id,
                token: self.token,
                result,
            },
            Ok(Err(error)) => Command::Fail {
                job: job_id,
                token: self.token,
                error,
                // The work reported an error: running it again would repeat it.
                retry: false,
            },
            Err(join) => {
                let message = if join.is_panic() {
                    panic_message(join.into_panic())
                } else {
                    join.to_string()
                };
                warn!(node = %self.node, job = %job_id, token = self.token, %message, "runner panicked");
                if worker
                    .send_message(WorkerMsg::RunnerPanicked {
                        message: message.clone(),
                    })
                    .is_err()
                {
                    // No supervisor will hear of it: report the failure here.
                    self.write_outcome(Command::Fail {
                        job: job_id,
                        token: self.token,
                        error: format!("the runner panicked: {message}"),
                        retry: true,
                    })
                    .await;
                }
                return;
            }
        };
        self.write_outcome(command).await;
        worker.stop(Some("finished".into()));
    }

    /// Writes `Complete` or `Fail` under the lease; a refusal means the lease is gone and
    /// the outcome is thrown away.
    async fn write_outcome(&self, command: Command) {
        let (job, completed, error) = match &command {
            Command::Complete { job, .. } => (*job, true, None),
            Command::Fail { job, error, .. } => (*job, false, Some(error.clone())),
            _ => return,
        };
        if self.discard.load(Ordering::SeqCst) {
            info!(node = %self.node, %job, token = self.token, "lease lost earlier; outcome dropped");
            self.discard_event(job, "the lease was lost before the run ended".into());
            return;
        }
        match self.client.apply(command).await {
            Ok(Ok(_)) => {
                if completed {
                    info!(node = %self.node, %job, token = self.token, "job completed");
                    self.groups.publish(
                        &self.events,
                        RuntimeEvent::JobCompleted {
                            job,
                            node: self.node,
                            token: self.token,
                        },
                    );
                } else {
                    let error = error.unwrap_or_default();
                    warn!(node = %self.node, %job, token = self.token, %error, "job failed");
                    self.groups.publish(
                        &self.events,
                        RuntimeEvent::JobFailed {
                            job,
                            node: self.node,
                            token: self.token,
                            error,
                        },
                    );
                }
            }
            Ok(Err(refusal)) => {
                warn!(node = %self.node, %job, token = self.token, %refusal, "outcome refused; discarded");
                self.discard_event(job, refusal.to_string());
            }
            Err(err) => {
                // Unreachable state: the lease will expire and the job run again from its
                // last checkpoint.
                warn!(node = %self.node, %job, token = self.token, error = %err, "could not write the outcome");
                self.discard_event(job, err.to_string());
            }
        }
    }

    fn discard_event(&self, job: JobId, reason: String) {
        self.groups.publish(
            &self.events,
            RuntimeEvent::OutcomeDiscarded {
                job,
                node: self.node,
                token: self.token,
                reason,
            },
        );
    }
}

/// Records checkpoints for a runner on its blocking thread.
struct Reporter {
    node: NodeId,
    job: JobId,
    token: u64,
    client: Arc<dyn StateClient>,
    events: EventSink,
    groups: ActorGroups,
    discard: Arc<AtomicBool>,
    handle: Handle,
}

impl Reporter {
    /// Writes the checkpoint under the lease and waits for the answer, so a checkpoint
    /// the runner moves past is recorded (or known refused).
    fn report(&self, url: CheckpointUrl) {
        if self.discard.load(Ordering::SeqCst) {
            debug!(node = %self.node, job = %self.job, token = self.token, %url, "lease lost; checkpoint dropped");
            return;
        }
        let url = url.into_string();
        let command = Command::Checkpoint {
            job: self.job,
            token: self.token,
            url: url.clone(),
        };
        match self.handle.block_on(self.client.apply(command)) {
            Ok(Ok(_)) => {
                debug!(node = %self.node, job = %self.job, token = self.token, %url, "checkpoint recorded");
                self.groups.publish(
                    &self.events,
                    RuntimeEvent::CheckpointRecorded {
                        job: self.job,
                        node: self.node,
                        token: self.token,
                        url,
                    },
                );
            }
            Ok(Err(refusal)) => {
                warn!(node = %self.node, job = %self.job, token = self.token, %url, %refusal, "checkpoint refused");
            }
            Err(err) => {
                warn!(node = %self.node, job = %self.job, token = self.token, %url, error = %err, "could not record the checkpoint");
            }
        }
    }
}

impl Reporter {
    /// Passes progress to the observers; nothing waits on the network.
    fn progress(&self, progress: JobProgress) {
        if self.discard.load(Ordering::SeqCst) {
            return;
        }
        self.groups.publish(
            &self.events,
            RuntimeEvent::JobProgress {
                job: self.job,
                node: self.node,
                token: self.token,
                progress,
            },
        );
    }
}

/// The message a panic carried, when it is a string.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a panic without a message".to_owned(),
        },
    }
}
