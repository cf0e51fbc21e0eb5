//! Hyperparameters of TabDDPM, with a CPU-sized default and the paper's tuned Adult
//! configuration (`"preset": "paper"`).

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::training::TrainingConfig;

/// A named set of defaults; fields given next to it in the JSON config override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Sized for a few minutes of training on two CPU cores (Adult: 26k rows).
    #[default]
    Cpu,
    /// The paper's tuned Adult configuration, for GPUs: MLP [256, 1024, 1024, 1024, 1024,
    /// 256], 100 timesteps, 30,000 steps of 4,096 rows.
    Paper,
}

/// The noise schedule β₁…β_T shared by the Gaussian and the multinomial diffusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Nichol & Dhariwal's cosine schedule, the paper's choice.
    #[default]
    Cosine,
    /// Ho et al.'s linear schedule (β from 1e-4 to 0.02, scaled by 1000/T).
    Linear,
}

/// The variance of the Gaussian reverse step p(x_{t−1} | x_t) (fixed, as in Ho et al.).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GaussianVariance {
    /// The forward posterior's β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t).
    Posterior,
    /// β_t (on Adult, slightly better quality than β̃_t).
    #[default]
    Beta,
}

/// How the learning rate evolves over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearningRateSchedule {
    /// `training.learning_rate` throughout.
    Constant,
    /// Annealed linearly from `training.learning_rate` to zero over the run's steps.
    #[default]
    Linear,
}

/// TabDDPM hyperparameters. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TabDdpmConfig {
    /// The defaults the other fields start from (informational once parsed).
    pub preset: Preset,
    /// Widths of the denoiser's ReLU blocks.
    pub hidden: Vec<usize>,
    /// Width of the timestep embedding and of the projected input (the paper's 128).
    pub embedding: usize,
    /// Diffusion steps T (the paper: 100 or 1000).
    pub timesteps: usize,
    /// The noise schedule.
    pub schedule: Schedule,
    /// Variance of the Gaussian reverse steps.
    pub gaussian_variance: GaussianVariance,
    /// Dropout after each ReLU block during training (the paper: 0).
    pub dropout: f64,
    /// Categories kept individually per column at most. A column with more keeps its
    /// `max_categories − 1` most frequent ones and pools the rest into one `<other>`
    /// category; when `<other>` is generated, one of the pooled categories is drawn with
    /// its empirical frequency among them. The network's width stays bounded.
    pub max_categories: usize,
    /// Quantiles of each numeric column's empirical quantile transform.
    pub quantiles: usize,
    /// Numeric columns with at most this many distinct values generate only values seen in
    /// training (the nearest to the decoded one); 0 turns this off.
    pub snap_distinct: usize,
    /// Optimizer steps; when set, `training.max_epochs` becomes the number of epochs
    /// (`ceil(steps / batches per epoch)`) that covers them. A config that sets
    /// `training.max_epochs` without `steps` (e.g. `mirage synth --epochs`) clears it, so
    /// the epochs asked for are the epochs run.
    pub steps: Option<usize>,
    /// Learning-rate schedule over the run.
    pub learning_rate_schedule: LearningRateSchedule,
    /// Decay of the exponential moving average of the weights that sampling uses (warmed
    /// up over the first steps); 0 samples with the last weights.
    pub ema_decay: f64,
    /// Rows per forward pass when sampling.
    pub sample_batch: usize,
    /// The training loop's settings (AdamW: `learning_rate`, `weight_decay`, `batch_size`).
    pub training: TrainingConfig,
}

impl Default for TabDdpmConfig {
    fn default() -> Self {
        Self::cpu()
    }
}

const MODEL: &str = "tab-ddpm";

impl TabDdpmConfig {
    /// The CPU-sized defaults. Measured on Adult (26,049 rows, 2 cores, release): 8,000
    /// steps of 1,024 rows take about 3.5 minutes (26 ms a step) and sampling 26k rows
    /// about 19 s; quality 0.981 and TSTR ROC-AUC 0.903. Wider ([512, 512, 512]), larger
    /// batches (4,096 at 3e-3) or a higher rate (3e-3) did no better for the same time;
    /// more steps helped (3,000: 0.897, 5,000: 0.901, 8,000: 0.903).
    pub fn cpu() -> Self {
        Self {
            preset: Preset::Cpu,
            hidden: vec![256, 512, 256],
            embedding: 128,
            timesteps: 100,
            schedule: Schedule::Cosine,
            gaussian_variance: GaussianVariance::Beta,
            dropout: 0.0,
            max_categories: 500,
            quantiles: 1000,
            snap_distinct: 1000,
            steps: Some(8000),
            learning_rate_schedule: LearningRateSchedule::Linear,
            ema_decay: 0.999,
            sample_batch: 8192,
            training: TrainingConfig {
                batch_size: 1024,
                learning_rate: 2e-3,
                weight_decay: 1e-4,
                ..TrainingConfig::default()
            },
        }
    }

    /// The paper's tuned Adult configuration (GPU-sized).
    pub fn paper() -> Self {
        Self {
            preset: Preset::Paper,
            hidden: vec![256, 1024, 1024, 1024, 1024, 256],
            timesteps: 100,
            steps: Some(30_000),
            training: TrainingConfig {
                batch_size: 4096,
                learning_rate: 1e-3,
                weight_decay: 1e-4,
                ..TrainingConfig::default()
            },
            ..Self::cpu()
        }
    }

    /// The defaults of a preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Cpu => Self::cpu(),
            Preset::Paper => Self::paper(),
        }
    }

    /// Parses and validates a JSON config; `null` gives the defaults. Fields start from
    /// the `preset`'s values (the CPU one when absent); `training` merges field by field.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let preset: Preset = match value.get("preset") {
            Some(p) => {
                serde_json::from_value(p.clone()).map_err(|e| ModelError::InvalidConfig {
                    model: MODEL.into(),
                    field: "preset".into(),
                    message: e.to_string(),
                })?
            }
            None => Preset::Cpu,
        };
        let mut config: Self =
            crate::model_config::parse_config_over(MODEL, value, Self::preset(preset))?;
        if value.pointer("/training/max_epochs").is_some() && value.get("steps").is_none() {
            config.steps = None;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        let fail = |field: &str, message: &str| {
            Err(ModelError::InvalidConfig {
                model: MODEL.into(),
                field: field.into(),
                message: message.into(),
            })
        };
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| !(1..=16_384).contains(&h)) {
            return fail("hidden", "must list 1 or more widths between 1 and 16384");
        }
        if !(2..=4096).contains(&self.embedding) || !self.embedding.is_multiple_of(2) {
            return fail("embedding", "must be an even number between 2 and 4096");
        }
        if !(2..=10_000).contains(&self.timesteps) {
            return fail("timesteps", "must be between 2 and 10000");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail("dropout", "must be within [0, 1)");
        }
        if self.max_categories < 2 {
            return fail("max_categories", "must be at least 2");
        }
        if !(2..=100_000).contains(&self.quantiles) {
            return fail("quantiles", "must be between 2 and 100000");
        }
        if self.steps == Some(0) {
            return fail("steps", "must be at least 1 when set");
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return fail("ema_decay", "must be within [0, 1)");
        }
        if self.sample_batch == 0 {
            return fail("sample_batch", "must be at least 1");
        }
        self.training.validate(MODEL)
    }

    /// The training settings for a table of `rows` rows: `max_epochs` from `steps` when set.
    pub fn training_for(&self, rows: usize) -> TrainingConfig {
        let mut training = self.training.clone();
        if let Some(steps) = self.steps {
            let per_epoch = rows.div_ceil(training.batch_size.max(1)).max(1);
            training.max_epochs = steps.div_ceil(per_epoch).max(1);
        }
        training
    }
}
