//! Checkpoints: one directory per checkpoint holding `weights.safetensors` (the current
//! weights), `best.safetensors` (the best weights so far, for early stopping),
//! `optimizer.safetensors` (AdamW moments) and `state.json` (epoch, losses, patience,
//! seed, config and the model's encoder state).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::TrainingConfig;
use super::candle_error;
use crate::error::{ModelError, Result};

/// Current weights in a checkpoint.
pub const WEIGHTS: &str = "weights.safetensors";
/// Best weights so far.
pub const BEST: &str = "best.safetensors";
/// AdamW moments.
pub const OPTIMIZER: &str = "optimizer.safetensors";
/// The rest of the state.
pub const STATE: &str = "state.json";

/// The contents of `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    /// Epochs finished.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub optimizer_step: u64,
    /// The learning rate in use (after plateau decays).
    pub learning_rate: f64,
    /// Best validation (or training) loss so far.
    pub best_loss: f64,
    /// The epoch that reached it.
    pub best_epoch: usize,
    /// Epochs since the best one.
    pub epochs_without_improvement: usize,
    /// Training seconds spent so far.
    pub elapsed_seconds: f64,
    /// The seed: with the epoch, the whole random state (see [`crate::training`]).
    pub seed: u64,
    /// The training config of the run.
    pub config: TrainingConfig,
    /// What the model needs to rebuild its encoders.
    pub encoder: serde_json::Value,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory of the checkpoint after `epoch`.
pub fn directory(root: &Path, epoch: usize) -> PathBuf {
    root.join(format!("epoch-{epoch:05}"))
}

/// Writes a checkpoint directory (replacing an older one of the same epoch).
pub fn write(
    dir: &Path,
    weights: &HashMap<String, Tensor>,
    best: &HashMap<String, Tensor>,
    optimizer: &HashMap<String, Tensor>,
    state: &CheckpointState,
) -> Result<()> {
    let staging = dir.with_extension("partial");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir_all(&staging).map_err(io(&staging))?;
    for (file, tensors) in [(WEIGHTS, weights), (BEST, best), (OPTIMIZER, optimizer)] {
        candle_core::safetensors::save(tensors, staging.join(file)).map_err(candle_error)?;
    }
    let json = serde_json::to_vec_pretty(state).map_err(|e| ModelError::Corrupt {
        path: dir.to_path_buf(),
        message: format!("cannot encode {STATE}: {e}"),
    })?;
    let path = staging.join(STATE);
    fs::write(&path, json).map_err(io(&path))?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    fs::rename(&staging, dir).map_err(io(dir))?;
    Ok(())
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct Checkpoint {
    /// Current weights.
    pub weights: HashMap<String, Tensor>,
    /// Best weights.
    pub best: HashMap<String, Tensor>,
    /// Optimizer moments.
    pub optimizer: HashMap<String, Tensor>,
    /// The rest.
    pub state: CheckpointState,
}

/// Reads only `state.json` of a checkpoint (a model rebuilds its encoders from it).
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE);
    let bytes = fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&bytes).map_err(|e| ModelError::Corrupt {
        path: dir.to_path_buf(),
        message: format!("{STATE}: {e}"),
    })
}

/// The encoder state (`state.json`'s `encoder`) of the checkpoint a run resumes from, or
/// `None` when `config` starts afresh.
pub fn resumed_encoder<T: serde::de::DeserializeOwned>(
    config: &TrainingConfig,
) -> Result<Option<T>> {
    let Some(dir) = &config.resume_from else {
        return Ok(None);
    };
    let state = read_state(dir)?;
    serde_json::from_value(state.encoder)
        .map(Some)
        .map_err(|e| ModelError::Corrupt {
            path: dir.clone(),
            message: format!("encoder state in {STATE}: {e}"),
        })
}

/// Reads a whole checkpoint.
pub fn read(dir: &Path) -> Result<Checkpoint> {
    let state = read_state(dir)?;
    let load = |file: &str| {
        let path = dir.join(file);
        if !path.exists() {
            return Err(ModelError::Corrupt {
                path: dir.to_path_buf(),
                message: format!("{file} is missing"),
            });
        }
        candle_core::safetensors::load(&path, &Device::Cpu).map_err(candle_error)
    };
    Ok(Checkpoint {
        weights: load(WEIGHTS)?,
        best: load(BEST)?,
        optimizer: load(OPTIMIZER)?,
        state,
    })
}
