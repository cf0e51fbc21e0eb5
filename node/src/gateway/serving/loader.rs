//! Loading a model for the cache: download its files from the object store, restore it,
//! and estimate its memory. Blocking: the cache calls it on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mirage_core::ModelId;
use mirage_models::Synthesizer;
use mirage_proto::v1;
use tonic::Status;
use tracing::info;

use crate::gateway::status;
use crate::jobs::ObjectStorage;
use crate::jobs::storage::StorageError;

/// A model restored in memory, with its estimated memory.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The model.
    pub model: Arc<dyn Synthesizer>,
    /// Estimated memory, in bytes (see [`estimate_bytes`]).
    pub bytes: u64,
}

/// Why a model could not be made warm. Cloned to every request waiting for the load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The model is registered but nothing is stored under its key.
    #[error("model {model}: no files are stored under {key:?}; train the model again")]
    Missing {
        /// The model.
        model: ModelId,
        /// Its object key prefix.
        key: String,
    },
    /// The object store failed (retryable).
    #[error("model {model}: cannot fetch its files, retry shortly: {message}")]
    Storage {
        /// The model.
        model: ModelId,
        /// What the store said.
        message: String,
    },
    /// The files are there but do not restore a model.
    #[error("model {model}: its stored files cannot be loaded ({message}); train the model again")]
    Corrupt {
        /// The model.
        model: ModelId,
        /// What is wrong with them.
        message: String,
    },
    /// The load stopped without an answer (its thread panicked).
    #[error("model {model}: loading it failed unexpectedly, retry: {message}")]
    Crashed {
        /// The model.
        model: ModelId,
        /// What happened.
        message: String,
    },
}

impl LoadError {
    /// The status a client sees.
    pub fn status(&self) -> Status {
        let code = match self {
            LoadError::Missing { .. } | LoadError::Corrupt { .. } => {
                v1::ErrorCode::FailedPrecondition
            }
            LoadError::Storage { .. } => v1::ErrorCode::Unavailable,
            LoadError::Crashed { .. } => v1::ErrorCode::Internal,
        };
        status::error(code, self.to_string())
    }
}

/// Loads models. Blocking; implementations must be callable from many threads.
pub trait ModelLoader: Send + Sync + std::fmt::Debug {
    /// Loads model `model` stored under the object key prefix `key`.
    fn load(&self, model: ModelId, key: &str) -> Result<LoadedModel, LoadError>;
}

/// Loads models from the cluster's object store through a local scratch directory.
#[derive(Debug, Clone)]
pub struct StoreLoader {
    storage: ObjectStorage,
    scratch: PathBuf,
}

impl StoreLoader {
    /// Downloads into fresh directories under `scratch` (removed once loaded).
    pub fn new(storage: ObjectStorage, scratch: PathBuf) -> Self {
        Self { storage, scratch }
    }
}

impl ModelLoader for StoreLoader {
    fn load(&self, model: ModelId, key: &str) -> Result<LoadedModel, LoadError> {
        let storage_error = |message: String| LoadError::Storage { model, message };
        std::fs::create_dir_all(&self.scratch).map_err(|error| {
            storage_error(format!("cannot create {}: {error}", self.scratch.display()))
        })?;
        // A directory of its own per load: concurrent loads of different models (or a
        // load after a failed one) never see each other's files. Removed when dropped.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{model}-"))
            .tempdir_in(&self.scratch)
            .map_err(|error| {
                storage_error(format!(
                    "cannot create a directory in {}: {error}",
                    self.scratch.display()
                ))
            })?;
        // The registered location is the key prefix (`models/<id>`); a full URL into
        // this store is accepted too.
        let key = key
            .strip_prefix(self.storage.url())
            .unwrap_or(key)
            .trim_matches('/');
        let local = dir.path().join("model");
        match self.storage.download_prefix(key, &local) {
            Ok(_) => {}
            Err(StorageError::NotFound { .. }) => {
                return Err(LoadError::Missing {
                    model,
                    key: key.to_string(),
                });
            }
            Err(StorageError::InvalidKey { message, .. }) => {
                return Err(LoadError::Corrupt { model, message });
            }
            Err(other) => return Err(storage_error(other.to_string())),
        }
        let bytes = estimate_bytes(&local);
        let restored = mirage_models::load_model(&local).map_err(|error| LoadError::Corrupt {
            model,
            message: error.to_string(),
        })?;
        info!(model = %model, key, bytes, kind = %restored.kind(), "model loaded for serving");
        Ok(LoadedModel {
            model: Arc::from(restored),
            bytes,
        })
    }
}

/// A model's memory, estimated as the size of its stored files (manifest, parameters
/// JSON, safetensors weights). Weights are stored as raw tensors, so for neural models
/// this is close to their memory; JSON parameters take about twice the bytes of the
/// numbers they hold, so for JSON-only models (copula, MST) it over-estimates, and the
/// budget errs towards fewer warm models rather than more memory. At least 1 byte, so
/// every model counts.
pub fn estimate_bytes(dir: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .map(|entry| match entry.metadata() {
                Ok(meta) if meta.is_dir() => walk(&entry.path()),
                Ok(meta) => meta.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(dir).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_estimated_at_the_size_of_its_files() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        assert_eq!(estimate_bytes(dir.path()), 1, "never zero");
        std::fs::write(dir.path().join("parameters.json"), vec![b'1'; 1000])?;
        std::fs::create_dir(dir.path().join("extra"))?;
        std::fs::write(
            dir.path().join("extra").join("weights.safetensors"),
            [0u8; 24],
        )?;
        assert_eq!(estimate_bytes(dir.path()), 1024);
        assert_eq!(estimate_bytes(&dir.path().join("missing")), 1);
        Ok(())
    }
}
