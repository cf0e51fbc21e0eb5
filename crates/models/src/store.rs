//! Model directories: an immutable version of a trained model on disk.
//!
//! A directory holds `model.json` (format version, model kind, schema, config, and the
//! SHA-256 of the parameters) and `parameters.json` (what the model learned), plus
//! `weights.safetensors` for models with tensors (its SHA-256 in `model.json` too;
//! directories without it, such as the copula's, read as before). It is
//! written under a temporary name and renamed into place, so a reader never sees half a
//! model; an existing directory is never overwritten; files are made read-only.

use std::fs;
use std::path::{Path, PathBuf};

use mirage_core::Schema;
use mirage_core::records::ModelKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};
use crate::synthesizer::{Synthesizer, restore_with_weights};

/// The version of the directory layout this build writes.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "model.json";
const PARAMETERS: &str = "parameters.json";
const WEIGHTS: &str = "weights.safetensors";

/// The contents of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// Directory layout version.
    pub format_version: u32,
    /// Model family.
    pub kind: ModelKind,
    /// The Mirage version that wrote it.
    pub mirage_version: String,
    /// When it was written (ms since the epoch).
    pub created_at_ms: i64,
    /// The schema of generated rows.
    pub schema: Schema,
    /// Hyperparameters.
    pub config: serde_json::Value,
    /// SHA-256 of `parameters.json`, hex.
    pub parameters_sha256: String,
    /// SHA-256 of `weights.safetensors`, hex, for models with tensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `model` to the new directory `dir`.
pub fn save_model(model: &dyn Synthesizer, dir: &Path) -> Result<ModelManifest> {
    if dir.exists() {
        return Err(ModelError::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    let parameters = serde_json::to_vec(&model.parameters_json()?)
        .map_err(|e| corrupt(dir, format!("cannot encode parameters: {e}")))?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging: PathBuf = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir(&staging).map_err(io(&staging))?;
    let weights_path = staging.join(WEIGHTS);
    let weights = if model.save_weights(&weights_path)? {
        Some(fs::read(&weights_path).map_err(io(&weights_path))?)
    } else {
        None
    };
    let manifest = ModelManifest {
        format_version: FORMAT_VERSION,
        kind: model.kind(),
        mirage_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at_ms: chrono::Utc::now().timestamp_millis(),
        schema: model.schema().clone(),
        config: model.config_json(),
        parameters_sha256: hex::encode(Sha256::digest(&parameters)),
        weights_sha256: weights.as_ref().map(|w| hex::encode(Sha256::digest(w))),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| corrupt(dir, format!("cannot encode manifest: {e}")))?;

    let mut files = vec![
        (PARAMETERS, Some(&parameters)),
        (MANIFEST, Some(&manifest_bytes)),
    ];
    if weights.is_some() {
        files.push((WEIGHTS, None));
    }
    for (file, bytes) in files {
        let path = staging.join(file);
        if let Some(bytes) = bytes {
            fs::write(&path, bytes).map_err(io(&path))?;
        }
        let mut permissions = fs::metadata(&path).map_err(io(&path))?.permissions();
        permissions.set_readonly(true);
        fs::set_permissions(&path, permissions).map_err(io(&path))?;
    }
    if dir.exists() {
        let _ = fs::remove_dir_all(&staging);
        return Err(ModelError::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    fs::rename(&staging, dir).map_err(io(dir))?;
    Ok(manifest)
}

/// Reads the manifest of a model directory.
pub fn read_manifest(dir: &Path) -> Result<ModelManifest> {
    let path = dir.join(MANIFEST);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let manifest: ModelManifest =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(dir, format!("{MANIFEST}: {e}")))?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(corrupt(
            dir,
            format!(
                "format version {} is not supported (this build reads {FORMAT_VERSION})",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

/// Loads a model directory written by [`save_model`], checking its parameters' hash.
pub fn load_model(dir: &Path) -> Result<Box<dyn Synthesizer>> {
    let manifest = read_manifest(dir)?;
    let path = dir.join(PARAMETERS);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != manifest.parameters_sha256 {
        return Err(corrupt(
            dir,
            format!(
                "{PARAMETERS} does not match its checksum in {MANIFEST}: the file was changed or damaged"
            ),
        ));
    }
    let parameters: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(dir, format!("{PARAMETERS}: {e}")))?;
    let weights = match &manifest.weights_sha256 {
        Some(expected) => {
            let path = dir.join(WEIGHTS);
            let bytes = fs::read(&path).map_err(io(&path))?;
            if &hex::encode(Sha256::digest(&bytes)) != expected {
                return Err(corrupt(
                    dir,
                    format!(
                        "{WEIGHTS} does not match its checksum in {MANIFEST}: the file was changed or damaged"
                    ),
                ));
            }
            Some(bytes)
        }
        None => None,
    };
    restore_with_weights(
        manifest.kind,
        manifest.schema,
        &manifest.config,
        parameters,
        weights.as_deref(),
    )
    .map_err(|e| corrupt(dir, e.to_string()))
}
