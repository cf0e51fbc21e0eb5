//! The epoch loop: batches, validation, early stopping, time budget, checkpoints, resume.

use std::collections::HashMap;

use candle_core::{Tensor, Var};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tracing::debug;

use super::checkpoint::{self, CheckpointState};
use super::{AdamW, ProgressTracker, TrainingConfig, candle_error};
use crate::error::{ModelError, Result};
use crate::progress::FitContext;

/// A model the loop can train: named parameters, and a loss with its gradients on a set
/// of rows.
pub trait Trainable {
    /// The trainable variables with stable names, in a stable order.
    fn parameters(&self) -> Vec<(String, Var)>;

    /// The mean loss over `rows` (indices into the training table) and its gradients,
    /// aligned with [`Self::parameters`]; `rng` is the batch's randomness (e.g. column
    /// orders). Models built on candle's autograd use [`autograd_gradients`].
    fn loss_and_gradients(&self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<(f64, Vec<Tensor>)>;

    /// The mean loss over `rows`, without gradients (validation).
    fn loss(&self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64>;
}

/// Backpropagates a scalar loss through candle's autograd and returns its value and the
/// gradients of `parameters` (zeros for a parameter the loss does not reach).
pub fn autograd_gradients(
    parameters: &[(String, Var)],
    loss: &Tensor,
) -> Result<(f64, Vec<Tensor>)> {
    let value: f32 = loss.to_scalar().map_err(candle_error)?;
    let grads = loss.backward().map_err(candle_error)?;
    let gradients = parameters
        .iter()
        .map(|(_, var)| match grads.get(var.as_tensor()) {
            Some(g) => Ok(g.detach()),
            None => var.as_tensor().zeros_like().map_err(candle_error),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((f64::from(value), gradients))
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All epochs ran.
    MaxEpochs,
    /// The validation loss stopped improving.
    EarlyStopping,
    /// The wall-clock budget was spent.
    TimeBudget,
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss, when there is a validation split.
    pub validation_loss: Option<f64>,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingOutcome {
    /// Epochs finished (counting those before a resume).
    pub epochs: usize,
    /// The epoch whose weights the model now holds (one past `epochs` when the best
    /// weights are those of the epoch the time budget cut short).
    pub best_epoch: usize,
    /// Its loss (validation, or training without a split).
    pub best_loss: f64,
    /// Why it stopped.
    pub stop: StopReason,
    /// Training seconds.
    pub seconds: f64,
    /// The epochs run by this call.
    pub history: Vec<EpochRecord>,
}

fn snapshot(parameters: &[(String, Var)]) -> Result<HashMap<String, Tensor>> {
    parameters
        .iter()
        .map(|(name, var)| {
            let copy = var.as_tensor().detach().copy().map_err(candle_error)?;
            Ok((name.clone(), copy))
        })
        .collect()
}

fn restore(parameters: &[(String, Var)], weights: &HashMap<String, Tensor>) -> Result<()> {
    for (name, var) in parameters {
        let tensor = weights.get(name).ok_or_else(|| ModelError::Tensor {
            message: format!("weights have no tensor {name}"),
        })?;
        var.set(tensor).map_err(candle_error)?;
    }
    Ok(())
}

/// The seeded split of `rows` into training and validation row indices.
pub fn split_rows(rows: usize, config: &TrainingConfig) -> (Vec<u32>, Vec<u32>) {
    let mut indices: Vec<u32> = (0..rows as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    indices.shuffle(&mut rng);
    let held = (rows as f64 * config.validation_share).round() as usize;
    if held == 0 || rows - held < 1 {
        return (indices, Vec::new());
    }
    let validation = indices.split_off(rows - held);
    (indices, validation)
}

/// The fixed randomness of validation losses, so epochs are compared on equal terms.
const VALIDATION_STREAM: u64 = u64::MAX;

fn mean_loss(model: &dyn Trainable, rows: &[u32], batch: usize, seed: u64) -> Result<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(VALIDATION_STREAM);
    let mut total = 0.0;
    for chunk in rows.chunks(batch) {
        total += model.loss(chunk, &mut rng)? * chunk.len() as f64;
    }
    Ok(total / rows.len().max(1) as f64)
}

/// What one epoch's pass over its batches did.
pub(super) struct EpochPass {
    /// Mean training loss over the rows stepped on (`None` when the budget ran out
    /// before the first batch).
    pub loss: Option<f64>,
    /// The time budget cut the epoch short.
    pub out_of_time: bool,
}

/// Runs epoch `epoch` (1-based) over `rows`: shuffles them and draws every batch's
/// randomness from the ChaCha8 stream `epoch` of `config.seed` — so the random state at
/// an epoch boundary is (seed, epoch) and a resumed run continues bit for bit — and calls
/// `step` on each batch, checking cancellation and the time budget before each.
pub(super) fn run_epoch(
    rows: &[u32],
    epoch: usize,
    config: &TrainingConfig,
    tracker: &mut ProgressTracker,
    context: &FitContext,
    mut step: impl FnMut(&[u32], &mut ChaCha8Rng) -> Result<f64>,
) -> Result<EpochPass> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(epoch as u64);
    let mut order = rows.to_vec();
    order.shuffle(&mut rng);
    let (mut loss_sum, mut loss_rows) = (0.0, 0usize);
    let mut out_of_time = false;
    for batch in order.chunks(config.batch_size) {
        context.check_cancelled()?;
        if tracker.over_budget() {
            out_of_time = true;
            break;
        }
        loss_sum += step(batch, &mut rng)? * batch.len() as f64;
        loss_rows += batch.len();
        tracker.add_rows(batch.len());
    }
    Ok(EpochPass {
        loss: (loss_rows > 0).then(|| loss_sum / loss_rows as f64),
        out_of_time,
    })
}

/// Trains `model` on a table of `rows` rows. `encoder` is saved in checkpoints so a
/// resumed run can rebuild the same model. On return the model holds the best weights.
pub fn train(
    model: &dyn Trainable,
    rows: usize,
    config: &TrainingConfig,
    encoder: &serde_json::Value,
    context: &mut FitContext,
) -> Result<TrainingOutcome> {
    let parameters = model.parameters();
    let mut optimizer = AdamW::new(
        parameters.clone(),
        config.learning_rate,
        config.weight_decay,
    )?;
    let (train_rows, validation_rows) = split_rows(rows, config);
    let mut first_epoch = 1;
    let mut best_loss = f64::INFINITY;
    let mut best_epoch = 0;
    let mut stale = 0;
    let mut carried = 0.0;
    let mut best = snapshot(&parameters)?;
    if let Some(dir) = &config.resume_from {
        let saved = checkpoint::read(dir)?;
        restore(&parameters, &saved.weights)?;
        best = saved.best;
        optimizer.load_state(&saved.optimizer, saved.state.optimizer_step)?;
        optimizer.set_learning_rate(saved.state.learning_rate);
        first_epoch = saved.state.epoch + 1;
        best_loss = saved.state.best_loss;
        best_epoch = saved.state.best_epoch;
        stale = saved.state.epochs_without_improvement;
        carried = saved.state.elapsed_seconds;
        debug!(epoch = saved.state.epoch, dir = %dir.display(), "resumed from checkpoint");
    }
    let mut tracker = ProgressTracker::new(config.max_epochs, config.time_budget, carried);
    let mut history = Vec::new();
    let mut stop = StopReason::MaxEpochs;
    let mut epoch = first_epoch - 1;
    if stale >= config.patience {
        stop = StopReason::EarlyStopping;
    }
    while stop == StopReason::MaxEpochs && epoch < config.max_epochs {
        let current = epoch + 1;
        let pass = run_epoch(
            &train_rows,
            current,
            config,
            &mut tracker,
            context,
            |batch, rng| {
                let (value, gradients) = model.loss_and_gradients(batch, rng)?;
                optimizer.step(&gradients)?;
                Ok(value)
            },
        )?;
        let out_of_time = pass.out_of_time;
        let Some(train_loss) = pass.loss else {
            stop = StopReason::TimeBudget;
            break;
        };
        let validation = if validation_rows.is_empty() {
            None
        } else {
            Some(mean_loss(
                model,
                &validation_rows,
                config.batch_size,
                config.seed,
            )?)
        };
        let score = validation.unwrap_or(train_loss);
        if !out_of_time {
            epoch = current;
        }
        history.push(EpochRecord {
            epoch: current,
            train_loss,
            validation_loss: validation,
        });
        tracker.report(context, current, train_loss, validation);
        debug!(epoch = current, train_loss, validation_loss = ?validation, "epoch done");
        if score < best_loss {
            best_loss = score;
            best_epoch = current;
            best = snapshot(&parameters)?;
            stale = 0;
        } else {
            stale += 1;
            // Halve the step on a plateau: short budgets gain most from a few epochs at
            // a smaller rate once the validation loss stops falling.
            if let Some(every) = config.decay_patience
                && stale % every == 0
            {
                let rate = optimizer.learning_rate() * config.learning_rate_decay;
                optimizer.set_learning_rate(rate);
                debug!(
                    epoch = current,
                    learning_rate = rate,
                    "learning rate decayed"
                );
            }
        }
        if out_of_time {
            stop = StopReason::TimeBudget;
            break;
        }
        if let (Some(every), Some(root)) = (config.checkpoint_every, &config.checkpoint_dir)
            && current % every == 0
        {
            let state = CheckpointState {
                epoch: current,
                optimizer_step: optimizer.step_count(),
                learning_rate: optimizer.learning_rate(),
                best_loss,
                best_epoch,
                epochs_without_improvement: stale,
                elapsed_seconds: tracker.elapsed(),
                seed: config.seed,
                config: config.clone(),
                encoder: encoder.clone(),
            };
            checkpoint::write(
                &checkpoint::directory(root, current),
                &snapshot(&parameters)?,
                &best,
                &optimizer.state_tensors()?,
                &state,
            )?;
        }
        if stale >= config.patience {
            stop = StopReason::EarlyStopping;
        } else if tracker.over_budget() {
            stop = StopReason::TimeBudget;
        }
    }
    if best_epoch > 0 {
        restore(&parameters, &best)?;
    }
    Ok(TrainingOutcome {
        epochs: epoch,
        best_epoch,
        best_loss,
        stop,
        seconds: tracker.elapsed(),
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// One weight pushed up by a constant gradient, scored by (w − 1)² on validation: the
    /// validation loss falls until w passes 1, then rises.
    struct Climber {
        weight: Var,
    }

    impl Climber {
        fn value(&self) -> f64 {
            f64::from(self.weight.as_tensor().to_scalar::<f32>().expect("scalar"))
        }
    }

    impl Trainable for Climber {
        fn parameters(&self) -> Vec<(String, Var)> {
            vec![("w".into(), self.weight.clone())]
        }

        fn loss_and_gradients(
            &self,
            _rows: &[u32],
            _rng: &mut ChaCha8Rng,
        ) -> Result<(f64, Vec<Tensor>)> {
            let gradient = Tensor::new(-1.0f32, &Device::Cpu).map_err(candle_error)?;
            Ok((-self.value(), vec![gradient]))
        }

        fn loss(&self, _rows: &[u32], _rng: &mut ChaCha8Rng) -> Result<f64> {
            Ok((self.value() - 1.0).powi(2))
        }
    }

    #[test]
    fn early_stopping_restores_the_best_weights() {
        let model = Climber {
            weight: Var::new(0.0f32, &Device::Cpu).expect("var"),
        };
        let config = TrainingConfig {
            max_epochs: 100,
            batch_size: 100,
            learning_rate: 0.1,
            patience: 3,
            decay_patience: None,
            ..TrainingConfig::default()
        };
        let outcome = train(
            &model,
            50,
            &config,
            &serde_json::Value::Null,
            &mut FitContext::default(),
        )
        .expect("train");
        assert_eq!(outcome.stop, StopReason::EarlyStopping);
        // One step of 0.1 per epoch (Adam with a constant gradient): w = 1 after epoch 10.
        assert_eq!(outcome.best_epoch, 10, "{outcome:?}");
        assert_eq!(outcome.epochs, 13);
        assert!((model.value() - 1.0).abs() < 1e-4, "w = {}", model.value());
    }

    #[test]
    fn a_plateau_halves_the_learning_rate() {
        let model = Climber {
            weight: Var::new(0.0f32, &Device::Cpu).expect("var"),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = TrainingConfig {
            max_epochs: 12,
            batch_size: 100,
            learning_rate: 0.1,
            patience: 100,
            decay_patience: Some(1),
            checkpoint_every: Some(12),
            checkpoint_dir: Some(dir.path().to_path_buf()),
            ..TrainingConfig::default()
        };
        train(
            &model,
            50,
            &config,
            &serde_json::Value::Null,
            &mut FitContext::default(),
        )
        .expect("train");
        // Ten steps of 0.1 reach the best w = 1; epochs 11 and 12 make it worse and each
        // halves the rate.
        let state = checkpoint::read_state(&checkpoint::directory(dir.path(), 12)).expect("state");
        assert!(
            (state.learning_rate - 0.025).abs() < 1e-12,
            "{}",
            state.learning_rate
        );
        assert_eq!(state.best_epoch, 10);
        assert!((model.value() - 1.0).abs() < 1e-4, "w = {}", model.value());
    }
}
