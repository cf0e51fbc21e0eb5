//! The local working directory of one job attempt, removed when the attempt ends.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mirage_actors::state::Job;
use tracing::warn;

/// `<root>/<job id>-attempt-<n>`: inputs downloaded, checkpoints and outputs written
/// before they go to object storage. Everything a job must keep lives in object storage,
/// so the directory is removed on drop, whatever the outcome.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates the directory of `job`'s current attempt under `root`, clearing what a
    /// crashed earlier run of the same attempt left there.
    pub fn create(root: &Path, job: &Job) -> anyhow::Result<Self> {
        let path = root.join(format!("{}-attempt-{}", job.spec.id, job.attempts));
        if path.exists() {
            std::fs::remove_dir_all(&path).with_context(|| {
                format!("cannot clear the scratch directory {}", path.display())
            })?;
        }
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the scratch directory {}", path.display()))?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.path.join(relative)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            warn!(dir = %self.path.display(), %error, "cannot remove the scratch directory");
        }
    }
}
