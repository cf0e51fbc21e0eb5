//! Hyperparameters of TabularARGN.

use serde::{Deserialize, Serialize};

use super::encoding::EncodingOptions;
use crate::dp::DpSettings;
use crate::error::{ModelError, Result};
use crate::training::TrainingConfig;

/// The column order the network is trained (and samples) under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnOrder {
    /// A fresh random permutation of the columns per training row, so any subset of
    /// columns can be conditioned on when sampling.
    #[default]
    Random,
    /// The schema's order; conditions then fall back to rejection.
    Fixed,
}

/// TabularARGN hyperparameters. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArgnConfig {
    /// Column order mode.
    pub order: ColumnOrder,
    /// Hidden units of each column's head.
    pub hidden: usize,
    /// Largest embedding width of a column.
    pub embedding_max: usize,
    /// Categories seen fewer times are pooled into `<rare>` (together with 0.0005·n).
    pub rare_min_count: u64,
    /// Categories kept individually at most.
    pub max_categories: usize,
    /// Numbers with at most this many distinct values get a token per value.
    pub max_exact_values: usize,
    /// Tokens of a binned numeric column.
    pub bins: usize,
    /// Sampling temperature (1 = the learned distribution).
    pub temperature: f64,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass (1 = all).
    pub top_p: f64,
    /// The training loop's settings.
    pub training: TrainingConfig,
    /// Differential privacy (`{"epsilon": 1, "delta": 1e-5, …}`, see
    /// [`crate::dp::DpSettings`]): the encoders come from DP statistics and the network
    /// is trained with DP-SGD for a fixed number of steps. Absent: no DP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<serde_json::Value>,
}

impl Default for ArgnConfig {
    fn default() -> Self {
        Self {
            order: ColumnOrder::Random,
            hidden: 64,
            embedding_max: 16,
            rare_min_count: 5,
            max_categories: 1000,
            max_exact_values: 100,
            bins: 100,
            temperature: 1.0,
            top_p: 1.0,
            // Measured on Adult (26k rows, 2 cores): small heads and batches of 512 at a
            // learning rate of 6e-3 reach the best quality within a 30 s budget.
            training: TrainingConfig {
                batch_size: 512,
                learning_rate: 6e-3,
                ..TrainingConfig::default()
            },
            privacy: None,
        }
    }
}

const MODEL: &str = "tabular-argn";

// Defaults of a DP fit, measured on Adult (26k rows, 2 cores, ε = 1, 3, 10): 20 epochs of
// expected batch 1024 at 5e-3 scored as well as or better than 5–30 epochs, batches of
// 512–4096 and rates of 3e-3–3e-2 (more epochs need more noise per step; larger batches
// fewer steps, which did not pay off here), in about 20 s of training.
/// Epochs of a DP fit by default.
const DP_EPOCHS: usize = 20;
/// Expected Poisson batch of a DP fit by default.
const DP_BATCH: usize = 1024;
/// Learning rate of a DP fit by default.
const DP_LEARNING_RATE: f64 = 5e-3;

impl ArgnConfig {
    /// The defaults of a DP fit: larger batches than without DP (the noise is added once
    /// per batch, so its share of the mean gradient shrinks with the batch) and a fixed
    /// number of epochs, measured on Adult with `examples/deep_adult.rs` and a `privacy` config. A config
    /// built in code with `privacy` set should start from these, not [`Self::default`].
    pub fn dp_defaults() -> Self {
        let base = Self::default();
        Self {
            training: TrainingConfig {
                max_epochs: DP_EPOCHS,
                batch_size: DP_BATCH,
                learning_rate: DP_LEARNING_RATE,
                ..base.training
            },
            ..base
        }
    }

    /// Parses and validates a JSON config; `null` gives the defaults, and a config with
    /// a `privacy` object starts from [`Self::dp_defaults`].
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let private = value.get("privacy").is_some_and(|p| !p.is_null());
        let config: Self = if private {
            crate::model_config::parse_config_over(MODEL, value, Self::dp_defaults())?
        } else {
            crate::model_config::parse_config(MODEL, value)?
        };
        config.validate()?;
        Ok(config)
    }

    /// The DP settings, when the config asks for DP.
    pub fn dp_settings(&self) -> Result<Option<DpSettings>> {
        match &self.privacy {
            None => Ok(None),
            Some(section) => {
                DpSettings::from_config(MODEL, &serde_json::json!({ "privacy": section }))
            }
        }
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
        if !(1..=4096).contains(&self.hidden) {
            return fail("hidden", "must be between 1 and 4096");
        }
        if !(2..=256).contains(&self.embedding_max) {
            return fail("embedding_max", "must be between 2 and 256");
        }
        if self.max_categories == 0 {
            return fail("max_categories", "must be at least 1");
        }
        if !(2..=10_000).contains(&self.bins) {
            return fail("bins", "must be between 2 and 10000");
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return fail("temperature", "must be a positive number");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return fail("top_p", "must be within (0, 1]");
        }
        self.training.validate(MODEL)?;
        if self.dp_settings()?.is_some() && self.training.resume_from.is_some() {
            return fail(
                "training.resume_from",
                "a DP fit cannot resume from a checkpoint (the privacy account of the \
                 earlier run is not carried over): remove resume_from or the privacy section",
            );
        }
        Ok(())
    }

    /// The encoder settings.
    pub fn encoding(&self) -> EncodingOptions {
        EncodingOptions {
            rare_min_count: self.rare_min_count,
            max_categories: self.max_categories,
            max_exact_values: self.max_exact_values,
            bins: self.bins,
        }
    }
}
