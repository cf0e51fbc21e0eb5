//! The node's job runners: the real work behind the cluster's `Ingest`, `Train`,
//! `Generate` and `Assess` jobs, reading and writing the shared object store.
//!
//! - `storage/`: [`ObjectStorage`], the object store (`file://` or `s3://`) with blocking
//!   helpers.
//! - `runner.rs`: [`NodeJobRunner`], the [`mirage_actors::runtime::JobRunner`] a node plugs
//!   into its workers; it dispatches on the job's kind.
//! - `ingest.rs`, `train.rs`, `generate.rs`, `assess.rs`: one job kind each (its payload,
//!   its result, its run).
//! - `checkpoints.rs`: uploads training checkpoints as they are written and records them.
//! - `payload.rs`, `inputs.rs`, `scratch.rs`: payload parsing, input tables, the per-attempt
//!   scratch directory.
//!
//! Object layout: `datasets/<id>/{data.parquet,profile.json}`,
//! `jobs/<job id>/checkpoints/epoch-<nnnnn>/`, `models/<id>/`,
//! `generations/<id>/data.<csv|parquet>`, `reports/<id>/report.json`. A job re-run on
//! another node after a node loss finds everything an earlier attempt stored there.

// Wired into `mirage node` by node_cmd.rs; until then only the tests use it.
#![allow(dead_code)]

pub mod assess;
pub mod catalog;
mod checkpoints;
pub mod generate;
pub mod ingest;
mod inputs;
mod payload;
mod runner;
mod scratch;
pub mod storage;
pub mod train;

#[cfg(test)]
mod tests;

// Used by node_cmd.rs once it wires the runner in.
#[allow(unused_imports)]
pub use runner::NodeJobRunner;
#[allow(unused_imports)]
pub use storage::{ObjectStorage, StorageError, StoreLocation};

use mirage_actors::runtime::RunContext;
use mirage_actors::state::Job;
use mirage_core::records::JobKind;

use scratch::ScratchDir;

/// What one job run works with.
pub(crate) struct JobEnv<'a> {
    /// The shared object store.
    pub storage: &'a ObjectStorage,
    /// This attempt's scratch directory.
    pub scratch: &'a ScratchDir,
    /// Whether payloads may name files on this node.
    pub local_paths: bool,
    /// The job.
    pub job: &'a Job,
    /// Checkpoints, progress and cancellation.
    pub context: &'a RunContext<'a>,
}

impl JobEnv<'_> {
    /// The job kind's name for messages (`ingest`, `train`, …).
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.job.spec.kind)
    }

    /// Fails when the run was asked to stop (its lease was lost or the job cancelled).
    pub fn check_cancelled(&self) -> anyhow::Result<()> {
        if self.context.is_cancelled() {
            anyhow::bail!(
                "{} job stopped: its lease was lost or it was cancelled",
                self.kind_name()
            );
        }
        Ok(())
    }

    /// Reports a progress step of `stage`.
    pub fn progress(&self, stage: &str, step: u64, total: u64, message: impl Into<String>) {
        self.context.progress(mirage_actors::runtime::JobProgress {
            stage: stage.to_string(),
            step,
            total,
            message: message.into(),
            ..Default::default()
        });
    }
}

/// A job kind's name for messages.
pub fn kind_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Ingest => "ingest",
        JobKind::Train => "train",
        JobKind::Generate => "generate",
        JobKind::Assess => "assess",
    }
}
