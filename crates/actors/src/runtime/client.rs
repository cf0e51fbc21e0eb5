//! How the actors reach the cluster state: [`StateClient`], implemented in memory by
//! [`LocalState`] for a single process and (later) by the Raft-replicated store.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::ClientError;
use crate::state::{ClusterState, Command, Response, Settings};

/// A boxed future answering a [`StateClient`] call; boxed so `dyn StateClient` works.
pub type ClientFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClientError>> + Send + 'a>>;

/// Applies commands to the cluster state and reads it.
///
/// `apply` returns the state machine's [`Response`] (a refusal is `Ok(Err(_))`: the command
/// reached the state and was refused); a [`ClientError`] means the state was not reached
/// and the command may be retried.
pub trait StateClient: Send + Sync + 'static {
    /// Applies one command, stamped with the writer's clock, and returns its answer.
    fn apply(&self, command: Command) -> ClientFuture<'_, Response>;

    /// A snapshot of the state as applied so far. Its [`ClusterState::clock_ms`] is the
    /// latest timestamp applied, which the scheduler uses as "now".
    fn read(&self) -> ClientFuture<'_, ClusterState>;
}

/// The cluster state in this process's memory: one lock around a [`ClusterState`] and a
/// monotonic clock that stamps each command with the milliseconds since creation.
#[derive(Debug)]
pub struct LocalState {
    state: Mutex<ClusterState>,
    origin: Instant,
}

impl LocalState {
    /// An empty state with these settings; its clock starts at 0.
    pub fn new(settings: Settings) -> Self {
        Self::from_state(ClusterState::new(settings))
    }

    /// Wraps an existing state; the clock continues from the state's own clock, so
    /// timestamps never run backwards.
    pub fn from_state(state: ClusterState) -> Self {
        let start = std::time::Duration::from_millis(state.clock_ms());
        let now = Instant::now();
        Self {
            origin: now.checked_sub(start).unwrap_or(now),
            state: Mutex::new(state),
        }
    }

    /// The clock: milliseconds since this state's origin.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Default for LocalState {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

impl StateClient for LocalState {
    fn apply(&self, command: Command) -> ClientFuture<'_, Response> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            // Stamp under the lock so stamps follow the order of application.
            let now = self.now_ms();
            Ok(state.apply(command, now))
        })
    }

    fn read(&self) -> ClientFuture<'_, ClusterState> {
        Box::pin(async move { Ok(self.state.lock().await.clone()) })
    }
}

/// A short name for a command, for logs and errors.
pub fn command_name(command: &Command) -> &'static str {
    match command {
        Command::RegisterNode(_) => "register_node",
        Command::Heartbeat { .. } => "heartbeat",
        Command::RemoveNode { .. } => "remove_node",
        Command::RegisterDataset(_) => "register_dataset",
        Command::SetDatasetProfile { .. } => "set_dataset_profile",
        Command::RegisterModel(_) => "register_model",
        Command::SubmitJob(_) => "submit_job",
        Command::Assign { .. } => "assign",
        Command::RenewLease { .. } => "renew_lease",
        Command::ExpireLeases => "expire_leases",
        Command::Checkpoint { .. } => "checkpoint",
        Command::Complete { .. } => "complete",
        Command::Fail { .. } => "fail",
        Command::Cancel { .. } => "cancel",
        Command::RecordGeneration(_) => "record_generation",
        Command::RecordReport(_) => "record_report",
        Command::CreateTenant { .. } => "create_tenant",
        Command::AddApiKey { .. } => "add_api_key",
        Command::ReleaseGeneration { .. } => "release_generation",
        Command::DeleteDataset { .. } => "delete_dataset",
        Command::RevokeApiKey { .. } => "revoke_api_key",
        Command::SetBudget { .. } => "set_budget",
        Command::Reserve { .. } => "reserve",
        Command::Commit { .. } => "commit",
        Command::Release { .. } => "release",
    }
}
