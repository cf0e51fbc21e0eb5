//! Hyperparameters of TVAE.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::training::TrainingConfig;
use crate::transformer::TransformerOptions;

/// TVAE hyperparameters (defaults from Xu et al., 2019). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TvaeConfig {
    /// Hidden widths of the encoder.
    pub encoder_dims: Vec<usize>,
    /// Hidden widths of the decoder.
    pub decoder_dims: Vec<usize>,
    /// Width of the latent code.
    pub latent_dim: usize,
    /// Weight of the reconstruction term against the KL term.
    pub loss_factor: f64,
    /// After training, shift the decoder's one-hot biases so generated categories (and
    /// null shares) occur as often as in the training rows (see
    /// `TvaeNetwork::calibrate_categories`).
    pub calibrate: bool,
    /// The data transformer (mode-specific normalisation, one-hots).
    pub transformer: TransformerOptions,
    /// The training loop's settings (Adam with L2 weight decay; no validation split).
    pub training: TrainingConfig,
}

impl Default for TvaeConfig {
    fn default() -> Self {
        Self {
            encoder_dims: vec![128, 128],
            decoder_dims: vec![128, 128],
            latent_dim: 128,
            loss_factor: 2.0,
            calibrate: true,
            transformer: TransformerOptions::default(),
            training: TrainingConfig {
                max_epochs: 300,
                batch_size: 500,
                learning_rate: 1e-3,
                weight_decay: 1e-5,
                validation_share: 0.0,
                ..TrainingConfig::default()
            },
        }
    }
}

pub(crate) const MODEL: &str = "tvae";

impl TvaeConfig {
    /// Parses and validates a JSON config; `null` gives the defaults.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let config: Self = crate::model_config::parse_config(MODEL, value)?;
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
        for (field, dims) in [
            ("encoder_dims", &self.encoder_dims),
            ("decoder_dims", &self.decoder_dims),
        ] {
            if dims.iter().any(|d| !(1..=8192).contains(d)) {
                return fail(field, "every width must be between 1 and 8192");
            }
        }
        if !(1..=4096).contains(&self.latent_dim) {
            return fail("latent_dim", "must be between 1 and 4096");
        }
        if !(self.loss_factor > 0.0 && self.loss_factor.is_finite()) {
            return fail("loss_factor", "must be a positive number");
        }
        self.transformer.validate()?;
        self.training.validate(MODEL)
    }
}
