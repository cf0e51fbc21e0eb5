//! Model-independent training machinery: the loop every neural model shares.
//!
//! [`train`] runs epochs of mini-batches over a [`Trainable`] model with [`AdamW`], holds
//! out a validation split, reports progress ([`ProgressTracker`]: epoch, losses, rows per
//! second, ETA), stops on cancellation, on early stopping (restoring the best weights) or
//! on a wall-clock budget, and writes checkpoints ([`checkpoint`]) that a later run resumes
//! from exactly.
//!
//! Determinism: the split uses a stream of `seed`, and epoch `e` shuffles and draws its
//! batch randomness from the ChaCha8 stream `e + 1` of `seed`, so the random state at an
//! epoch boundary is the pair (seed, epoch) and a resumed run continues bit for bit.

mod adamw;
pub mod checkpoint;
mod config;
mod steps;
mod tracker;
mod trainer;

pub use adamw::AdamW;
pub use config::TrainingConfig;
pub use steps::{ModelState, StepModel, run_epochs};
pub use tracker::ProgressTracker;
pub use trainer::{
    EpochRecord, StopReason, Trainable, TrainingOutcome, autograd_gradients, split_rows, train,
};

use crate::error::ModelError;

/// Wraps a candle error as a model error.
pub(crate) fn candle_error(error: candle_core::Error) -> ModelError {
    ModelError::Tensor {
        message: error.to_string(),
    }
}
