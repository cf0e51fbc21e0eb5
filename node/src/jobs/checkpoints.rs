//! Training checkpoints leave the node as soon as they are written: each complete
//! checkpoint directory is uploaded to `jobs/<job id>/checkpoints/epoch-<nnnnn>/` and
//! recorded in the cluster state, so a re-run on another node resumes from it.

use std::path::{Path, PathBuf};

use mirage_actors::runtime::{CheckpointUrl, RunContext};
use mirage_models::training::checkpoint;
use tracing::{info, warn};

use super::storage::{ObjectStorage, StorageResult};

/// The object key prefix of the checkpoints of job `job_id`.
pub fn job_checkpoints_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/checkpoints")
}

/// The epoch of a checkpoint directory's name (`epoch-00002` → 2); `None` for anything
/// else, including the `epoch-00002.partial` a checkpoint is staged in.
pub fn epoch_of(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("epoch-")?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The complete checkpoint directories under `root`, by epoch.
fn complete_checkpoints(root: &Path) -> Vec<(usize, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let epoch = epoch_of(&entry.file_name().to_string_lossy())?;
            let path = entry.path();
            // The trainer renames the staging directory into place once every file is
            // written, so a directory with this name is complete.
            path.join(checkpoint::STATE)
                .is_file()
                .then_some((epoch, path))
        })
        .collect();
    found.sort();
    found
}

/// Uploads and records the checkpoints a fit writes under a local directory.
pub struct CheckpointUploader<'a> {
    storage: &'a ObjectStorage,
    context: &'a RunContext<'a>,
    local_root: PathBuf,
    remote_root: String,
    last_recorded: Option<usize>,
}

impl std::fmt::Debug for CheckpointUploader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointUploader")
            .field("local_root", &self.local_root)
            .field("remote_root", &self.remote_root)
            .field("last_recorded", &self.last_recorded)
            .finish_non_exhaustive()
    }
}

impl<'a> CheckpointUploader<'a> {
    /// An uploader for the checkpoints written under `local_root` by a run of job `job_id`.
    pub fn new(
        storage: &'a ObjectStorage,
        context: &'a RunContext<'a>,
        local_root: PathBuf,
        job_id: &str,
    ) -> Self {
        Self {
            storage,
            context,
            local_root,
            remote_root: job_checkpoints_prefix(job_id),
            last_recorded: None,
        }
    }

    /// The object key of the checkpoint of `epoch`.
    pub fn key(&self, epoch: usize) -> String {
        let name = checkpoint::directory(Path::new(""), epoch);
        format!("{}/{}", self.remote_root, name.display())
    }

    /// The epoch of the last checkpoint this uploader recorded.
    pub fn last_recorded(&self) -> Option<usize> {
        self.last_recorded
    }

    /// Uploads the newest complete checkpoint not yet uploaded (older ones are skipped:
    /// only the newest matters for a resume), records it under the lease, and removes
    /// the local copies up to it. Does nothing once the run is cancelled: its records
    /// would be refused. Returns the epoch recorded, if any.
    pub fn sweep(&mut self) -> StorageResult<Option<usize>> {
        if self.context.is_cancelled() {
            return Ok(None);
        }
        let complete = complete_checkpoints(&self.local_root);
        let Some((epoch, dir)) = complete.last().cloned() else {
            return Ok(None);
        };
        if self.last_recorded.is_some_and(|last| last >= epoch) {
            return Ok(None);
        }
        let key = self.key(epoch);
        let files = self
            .storage
            .upload_dir(&dir, &key, Some(checkpoint::STATE))?;
        self.context
            .record_checkpoint(CheckpointUrl::new(format!("{key}/")));
        self.last_recorded = Some(epoch);
        info!(epoch, key = %key, files, "checkpoint recorded");
        for (_, old) in complete.iter().filter(|(e, _)| *e <= epoch) {
            if let Err(error) = std::fs::remove_dir_all(old) {
                warn!(dir = %old.display(), %error, "cannot remove an uploaded checkpoint");
            }
        }
        Ok(Some(epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_checkpoint_directories_have_an_epoch() {
        assert_eq!(epoch_of("epoch-00002"), Some(2));
        assert_eq!(epoch_of("epoch-12"), Some(12));
        assert_eq!(epoch_of("epoch-00002.partial"), None);
        assert_eq!(epoch_of("epoch-"), None);
        assert_eq!(epoch_of("model"), None);
    }
}
