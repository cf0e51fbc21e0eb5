//! The work a [`super::Worker`] runs: pluggable, so the node plugs in the real dataset,
//! trainer, generator and quality work and tests plug in fakes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::state::Job;

/// Where a checkpoint was written in object storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckpointUrl(String);

impl CheckpointUrl {
    /// A checkpoint location.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The location.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The location, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CheckpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for CheckpointUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for CheckpointUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

/// How far a run has come, for watchers (the scheduler streams it to clients).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobProgress {
    /// The phase, e.g. `ingest`, `epoch`, `generate`.
    pub stage: String,
    /// Steps done in this phase.
    pub step: u64,
    /// Steps in this phase (0 when unknown).
    pub total: u64,
    /// The epoch just finished (1-based), for models trained in epochs.
    #[serde(default)]
    pub epoch: Option<u64>,
    /// Losses by name. A diverged loss (NaN, infinite) survives the trip to the scheduler:
    /// it travels as the text `NaN`, `inf` or `-inf`, since JSON has no such numbers.
    #[serde(default, with = "losses_serde")]
    pub losses: Vec<(String, f64)>,
    /// A short note.
    #[serde(default)]
    pub message: String,
}

impl JobProgress {
    /// The share of the phase done, in [0, 1] (0 when the total is unknown).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.step as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

/// JSON for losses that may not be finite.
mod losses_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Loss {
        Finite(f64),
        Other(String),
    }

    pub(super) fn serialize<S: Serializer>(
        losses: &[(String, f64)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let wire: Vec<(&str, Loss)> = losses
            .iter()
            .map(|(name, value)| {
                let loss = if value.is_finite() {
                    Loss::Finite(*value)
                } else {
                    Loss::Other(value.to_string())
                };
                (name.as_str(), loss)
            })
            .collect();
        wire.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(String, f64)>, D::Error> {
        let wire = Vec::<(String, Loss)>::deserialize(deserializer)?;
        wire.into_iter()
            .map(|(name, loss)| {
                let value = match loss {
                    Loss::Finite(value) => value,
                    Loss::Other(text) => text.parse::<f64>().map_err(|_| {
                        serde::de::Error::custom(format!("loss {name}: not a number: {text:?}"))
                    })?,
                };
                Ok((name, value))
            })
            .collect()
    }
}

/// What a run is given besides its job: where to resume, how to record checkpoints and
/// progress, and whether it should stop.
pub struct RunContext<'a> {
    checkpoint: Option<&'a str>,
    record: &'a (dyn Fn(CheckpointUrl) + Sync),
    progress: &'a (dyn Fn(JobProgress) + Sync),
    cancelled: Arc<AtomicBool>,
}

impl fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("checkpoint", &self.checkpoint)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl<'a> RunContext<'a> {
    /// A context resuming from `checkpoint`, recording checkpoints through `record` and
    /// progress through `progress`, asked to stop once `cancelled` is set.
    pub fn new(
        checkpoint: Option<&'a str>,
        record: &'a (dyn Fn(CheckpointUrl) + Sync),
        progress: &'a (dyn Fn(JobProgress) + Sync),
        cancelled: Arc<AtomicBool>,
    ) -> Self {
        Self {
            checkpoint,
            record,
            progress,
            cancelled,
        }
    }

    /// The job's last recorded checkpoint, when an earlier attempt got that far: resume
    /// from it.
    pub fn checkpoint(&self) -> Option<&str> {
        self.checkpoint
    }

    /// Records a checkpoint in the cluster state under the worker's lease and returns once
    /// it is recorded or known refused (after the lease was lost the fencing token refuses
    /// it and it is dropped).
    pub fn record_checkpoint(&self, url: CheckpointUrl) {
        (self.record)(url);
    }

    /// Reports progress (best effort; never blocks on the network).
    pub fn progress(&self, progress: JobProgress) {
        (self.progress)(progress);
    }

    /// Whether the run should stop (its lease was lost or the job cancelled): its outcome
    /// will be thrown away.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// The stop flag itself, for code that polls it from elsewhere (a training loop's
    /// progress callback, say).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }
}

/// Runs one job to its end. Called on a blocking thread (`spawn_blocking`), never on the
/// async executor, so it may compute for minutes.
///
/// The context gives the job's last checkpoint (resume from it), records new checkpoints
/// under the worker's lease, takes progress reports, and says when to stop early (the
/// lease was lost: whatever the run returns then is thrown away).
///
/// `Ok` carries the job's result (JSON, recorded as the job's outcome), `Err` why it
/// failed (the job is marked failed). A panic marks the job failed too.
pub trait JobRunner: Send + Sync + 'static {
    /// Runs `job`.
    fn run(&self, job: &Job, context: &RunContext<'_>) -> Result<serde_json::Value, String>;
}
