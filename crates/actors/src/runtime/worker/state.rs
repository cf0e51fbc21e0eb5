//! A worker's arguments and changing state.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use mirage_core::JobId;

use crate::state::Job;

/// What a worker is started with: the job (as the state knew it when it was assigned,
/// with its last checkpoint) and the lease's fencing token.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// The job.
    pub job: Job,
    /// The lease's fencing token, sent with every write about the job.
    pub token: u64,
}

/// A running worker's state.
#[derive(Debug)]
pub struct WorkerState {
    /// The job.
    pub job: JobId,
    /// The lease's fencing token.
    pub token: u64,
    /// Set when the lease is known lost: the run's outcome and checkpoints are dropped.
    pub discard: Arc<AtomicBool>,
    /// The job, until the run starts.
    pub pending: Option<Job>,
}
