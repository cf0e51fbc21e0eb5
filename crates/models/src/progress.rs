//! Progress reporting and cancellation for long model operations.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One step of progress while fitting.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgressEvent {
    /// The phase, e.g. `marginals`, `correlation`, `epoch`.
    pub stage: &'static str,
    /// Steps done in this phase.
    pub step: u64,
    /// Steps in this phase.
    pub total: u64,
    /// Losses by name (empty for models without a loss).
    pub losses: Vec<(String, f64)>,
    /// A short human-readable note.
    pub message: String,
    /// The epoch just finished (1-based), for models trained in epochs.
    pub epoch: Option<u64>,
    /// Training rows processed per second so far.
    pub rows_per_second: Option<f64>,
    /// Estimated seconds until training ends (capped by the time budget).
    pub eta_seconds: Option<f64>,
}

/// A flag that asks a running fit to stop; cheap to clone and share across threads.
#[derive(Debug, Clone, Default)]
pub struct CancellationToken(Arc<AtomicBool>);

impl CancellationToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether stop was asked.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a fit reports to and is steered by.
pub struct FitContext {
    progress: Box<dyn FnMut(&ProgressEvent) + Send>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for FitContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

impl Default for FitContext {
    fn default() -> Self {
        Self::new(|_| {}, CancellationToken::new())
    }
}

impl FitContext {
    /// A context that sends events to `progress` and stops when `cancel` is set.
    pub fn new(
        progress: impl FnMut(&ProgressEvent) + Send + 'static,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            progress: Box::new(progress),
            cancel,
        }
    }

    /// Reports an event.
    pub fn report(&mut self, event: ProgressEvent) {
        (self.progress)(&event);
    }

    /// `Err(Cancelled)` once cancellation was asked; call between units of work.
    pub fn check_cancelled(&self) -> crate::Result<()> {
        if self.cancel.is_cancelled() {
            Err(crate::ModelError::Cancelled)
        } else {
            Ok(())
        }
    }
}
