//! [`NodeJobRunner`]: the runner a node's workers call for every job.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mirage_actors::runtime::{JobRunner, RunContext};
use mirage_actors::state::Job;
use mirage_core::records::JobKind;
use tracing::{info, info_span, warn};

use super::catalog::Catalog;
use super::scratch::ScratchDir;
use super::{JobEnv, ObjectStorage, assess, generate, ingest, kind_name, train};

/// Runs ingest, train, generate and assess jobs against the shared object store, each
/// attempt in its own scratch directory under `<data dir>/scratch/`, removed afterwards.
#[derive(Debug, Clone)]
pub struct NodeJobRunner {
    storage: ObjectStorage,
    scratch_root: PathBuf,
    local_paths: bool,
    catalog: Option<Catalog>,
}

impl NodeJobRunner {
    /// A runner over `storage` whose scratch directories go under `<data_dir>/scratch`.
    /// Payloads may name files on this node as well as object keys (see
    /// [`Self::with_local_paths`]).
    pub fn new(storage: ObjectStorage, data_dir: &Path) -> Self {
        Self {
            storage,
            scratch_root: data_dir.join("scratch"),
            local_paths: true,
            catalog: None,
        }
    }

    /// Records what each finished job made (dataset profiles, models, generations,
    /// reports) in the cluster's catalog before the job is marked succeeded.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Whether payloads may name files on this node (`true` by default). A cluster that
    /// serves several tenants should turn it off: a job could otherwise read any file the
    /// node can.
    pub fn with_local_paths(mut self, allowed: bool) -> Self {
        self.local_paths = allowed;
        self
    }

    /// The object store.
    pub fn storage(&self) -> &ObjectStorage {
        &self.storage
    }

    /// Runs `job`, returning its result or the error with its causes.
    pub fn run_job(
        &self,
        job: &Job,
        context: &RunContext<'_>,
    ) -> anyhow::Result<serde_json::Value> {
        let scratch = ScratchDir::create(&self.scratch_root, job)?;
        let env = JobEnv {
            storage: &self.storage,
            scratch: &scratch,
            local_paths: self.local_paths,
            job,
            context,
        };
        let payload = &job.spec.payload;
        let result = match job.spec.kind {
            JobKind::Ingest => ingest::run(&env, payload),
            JobKind::Train => train::run(&env, payload),
            JobKind::Generate => generate::run(&env, payload),
            JobKind::Assess => assess::run(&env, payload),
        }?;
        if let Some(catalog) = &self.catalog {
            catalog.record(job, &result)?;
        }
        Ok(result)
    }
}

impl JobRunner for NodeJobRunner {
    fn run(&self, job: &Job, context: &RunContext<'_>) -> Result<serde_json::Value, String> {
        let kind = kind_name(job.spec.kind);
        let span = info_span!("job", job_id = %job.spec.id, kind, attempt = job.attempts);
        let _entered = span.enter();
        let started = Instant::now();
        info!(resume_from = ?context.checkpoint(), "job started");
        match self.run_job(job, context) {
            Ok(result) => {
                info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "job done"
                );
                Ok(result)
            }
            Err(error) => {
                let message = crate::describe(&error);
                warn!(elapsed_ms = started.elapsed().as_millis() as u64, error = %message, "job failed");
                Err(message)
            }
        }
    }
}
