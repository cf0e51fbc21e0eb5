//! The work a [`super::Worker`] runs: pluggable, so the node plugs in the real dataset,
//! trainer, generator and quality work and tests plug in fakes.

use std::fmt;

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

/// Runs one job to its end. Called on a blocking thread (`spawn_blocking`), never on the
/// async executor, so it may compute for minutes.
///
/// - `checkpoint` is the job's last recorded checkpoint when an earlier attempt got that
///   far: resume from it.
/// - `report` records a checkpoint in the cluster state under the worker's lease before it
///   returns; a report after the lease was lost is dropped (the fencing token refuses it).
/// - `Ok` carries the job's result (JSON, recorded as the job's outcome), `Err` why it
///   failed (the job is marked failed). A panic marks the job failed too.
pub trait JobRunner: Send + Sync + 'static {
    /// Runs `job`.
    fn run(
        &self,
        job: &Job,
        checkpoint: Option<&str>,
        report: &dyn Fn(CheckpointUrl),
    ) -> Result<serde_json::Value, String>;
}
