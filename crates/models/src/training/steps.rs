//! The epoch loop of models that own their optimizers (TVAE, CTGAN, CopulaGAN, TabDDPM):
//! fixed epochs of mini-batches, progress, cancellation, the time budget, checkpoints
//! and exact resume — the same contract as [`super::train`], without the validation split
//! (these models train for a set number of epochs, as their papers do).

use std::collections::HashMap;

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;
use tracing::debug;

use super::checkpoint::{self, CheckpointState};
use super::trainer::run_epoch;
use super::{EpochRecord, ProgressTracker, StopReason, TrainingConfig, TrainingOutcome};
use crate::error::Result;
use crate::progress::FitContext;

/// What a checkpoint holds of a [`StepModel`].
#[derive(Debug, Default)]
pub struct ModelState {
    /// Every weight and buffer, by name.
    pub weights: HashMap<String, Tensor>,
    /// Every optimizer's moments, by name.
    pub optimizer: HashMap<String, Tensor>,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// A model trained step by step with its own optimizers.
pub trait StepModel {
    /// One optimisation step on these rows (indices into the training table); returns
    /// the loss to report. `rng` is the batch's randomness.
    fn train_step(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64>;

    /// The model's weights and optimizer state, for a checkpoint.
    fn state(&self) -> Result<ModelState>;

    /// Restores what [`Self::state`] wrote.
    fn load_state(&mut self, state: ModelState) -> Result<()>;
}

/// Trains `model` for `config.max_epochs` epochs over `rows` rows (all of them: there is
/// no validation split). `encoder` is saved in checkpoints so a resumed run can rebuild
/// the same model before [`StepModel::load_state`].
///
/// Epoch `e` shuffles and draws its batch randomness from the ChaCha8 stream `e` of
/// `config.seed`, so a run resumed from the checkpoint of epoch `e` continues exactly as
/// the uninterrupted run would.
pub fn run_epochs(
    model: &mut dyn StepModel,
    rows: usize,
    config: &TrainingConfig,
    encoder: &serde_json::Value,
    context: &mut FitContext,
) -> Result<TrainingOutcome> {
    let mut first_epoch = 1;
    let mut carried = 0.0;
    if let Some(dir) = &config.resume_from {
        let saved = checkpoint::read(dir)?;
        model.load_state(ModelState {
            weights: saved.weights,
            optimizer: saved.optimizer,
            steps: saved.state.optimizer_step,
        })?;
        first_epoch = saved.state.epoch + 1;
        carried = saved.state.elapsed_seconds;
        debug!(epoch = saved.state.epoch, dir = %dir.display(), "resumed from checkpoint");
    }
    let mut tracker = ProgressTracker::new(config.max_epochs, config.time_budget, carried);
    let order: Vec<u32> = (0..rows as u32).collect();
    let mut history = Vec::new();
    let mut stop = StopReason::MaxEpochs;
    let mut epoch = first_epoch - 1;
    let mut last_loss = f64::NAN;
    while epoch < config.max_epochs {
        let current = epoch + 1;
        let pass = run_epoch(
            &order,
            current,
            config,
            &mut tracker,
            context,
            |batch, rng| model.train_step(batch, rng),
        )?;
        let out_of_time = pass.out_of_time;
        let Some(train_loss) = pass.loss else {
            stop = StopReason::TimeBudget;
            break;
        };
        last_loss = train_loss;
        history.push(EpochRecord {
            epoch: current,
            train_loss,
            validation_loss: None,
        });
        tracker.report(context, current, train_loss, None);
        debug!(epoch = current, train_loss, "epoch done");
        if out_of_time {
            stop = StopReason::TimeBudget;
            break;
        }
        epoch = current;
        if let (Some(every), Some(root)) = (config.checkpoint_every, &config.checkpoint_dir)
            && current % every == 0
        {
            let state = model.state()?;
            let record = CheckpointState {
                epoch: current,
                optimizer_step: state.steps,
                learning_rate: config.learning_rate,
                best_loss: train_loss,
                best_epoch: current,
                epochs_without_improvement: 0,
                elapsed_seconds: tracker.elapsed(),
                seed: config.seed,
                config: config.clone(),
                encoder: encoder.clone(),
            };
            checkpoint::write(
                &checkpoint::directory(root, current),
                &state.weights,
                &state.weights,
                &state.optimizer,
                &record,
            )?;
        }
        if tracker.over_budget() && epoch < config.max_epochs {
            stop = StopReason::TimeBudget;
            break;
        }
    }
    Ok(TrainingOutcome {
        epochs: epoch,
        best_epoch: epoch,
        best_loss: last_loss,
        stop,
        seconds: tracker.elapsed(),
        history,
    })
}
