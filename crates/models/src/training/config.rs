//! Hyperparameters of the shared training loop.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// How a neural model is trained. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Most epochs to run.
    pub max_epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// AdamW step size.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Share of rows held out to measure the validation loss (0 = use the training loss).
    pub validation_share: f64,
    /// Epochs without a better validation loss before training stops.
    pub patience: usize,
    /// Epochs without a better validation loss before the learning rate is multiplied by
    /// `learning_rate_decay` (again after as many more); `None` keeps it constant.
    pub decay_patience: Option<usize>,
    /// Factor applied to the learning rate on a plateau, in (0, 1].
    pub learning_rate_decay: f64,
    /// Wall-clock seconds training may take; it stops cleanly (best weights kept) at the
    /// first batch past it. A resumed run counts the seconds spent before its checkpoint.
    pub time_budget: Option<f64>,
    /// Write a checkpoint every this many epochs (needs `checkpoint_dir`).
    pub checkpoint_every: Option<usize>,
    /// Where checkpoints go: one directory per checkpoint, `epoch-00005/`.
    pub checkpoint_dir: Option<PathBuf>,
    /// A checkpoint directory to continue from.
    pub resume_from: Option<PathBuf>,
    /// Seed of the split, the shuffles and the initial weights.
    pub seed: u64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            max_epochs: 100,
            batch_size: 1024,
            learning_rate: 3e-3,
            weight_decay: 0.0,
            validation_share: 0.1,
            patience: 4,
            decay_patience: Some(2),
            learning_rate_decay: 0.5,
            time_budget: None,
            checkpoint_every: None,
            checkpoint_dir: None,
            resume_from: None,
            seed: 0,
        }
    }
}

impl TrainingConfig {
    /// Clears where a run read or wrote its checkpoints: that is not part of the model
    /// saved afterwards.
    pub fn forget_run_paths(&mut self) {
        self.resume_from = None;
        self.checkpoint_dir = None;
        self.checkpoint_every = None;
    }

    /// Checks every field's range; `model` names the model in errors.
    pub fn validate(&self, model: &str) -> Result<()> {
        let fail = |field: &str, message: &str| {
            Err(ModelError::InvalidConfig {
                model: model.into(),
                field: format!("training.{field}"),
                message: message.into(),
            })
        };
        if self.max_epochs == 0 {
            return fail("max_epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return fail("batch_size", "must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return fail("learning_rate", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.weight_decay) {
            return fail("weight_decay", "must be within [0, 1)");
        }
        if !(0.0..0.9).contains(&self.validation_share) {
            return fail("validation_share", "must be within [0, 0.9)");
        }
        if self.patience == 0 {
            return fail("patience", "must be at least 1");
        }
        if self.decay_patience == Some(0) {
            return fail("decay_patience", "must be at least 1 when set");
        }
        if !(self.learning_rate_decay > 0.0 && self.learning_rate_decay <= 1.0) {
            return fail("learning_rate_decay", "must be within (0, 1]");
        }
        if let Some(budget) = self.time_budget
            && !(budget > 0.0 && budget.is_finite())
        {
            return fail("time_budget", "must be a positive number of seconds");
        }
        match (self.checkpoint_every, &self.checkpoint_dir) {
            (Some(0), _) => return fail("checkpoint_every", "must be at least 1"),
            (Some(_), None) => {
                return fail("checkpoint_dir", "is needed when checkpoint_every is set");
            }
            _ => {}
        }
        Ok(())
    }
}
