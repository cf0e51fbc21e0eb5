//! Hyperparameters of TVAE.

use serde::{Deserialize, Serialize};

use crate::dp::DpSettings;
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
    /// Train with differential privacy (`crate::dp::DpSettings`): DP column statistics,
    /// then DP-SGD on the whole model. Absent or null: no DP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<serde_json::Value>,
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
            privacy: None,
        }
    }
}

/// Epochs of a DP fit unless the config sets them: DP-SGD's noise grows with the steps,
/// and a few dozen passes of large batches give the best trade-off (on Adult).
pub const DP_EPOCHS: usize = 60;
/// Expected rows per DP-SGD step unless the config sets them: the noise on the mean
/// gradient shrinks with the batch.
pub const DP_BATCH: usize = 4000;

pub(crate) const MODEL: &str = "tvae";

impl TvaeConfig {
    /// Parses and validates a JSON config; `null` gives the defaults.
    /// With a `privacy` section, the training defaults are DP-SGD's ([`DP_EPOCHS`],
    /// [`DP_BATCH`]).
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let private = value.get("privacy").is_some_and(|p| !p.is_null());
        let base = if private {
            Self::dp_default()
        } else {
            Self::default()
        };
        let config: Self = crate::model_config::parse_config_over(MODEL, value, base)?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults of a DP fit: a smaller network (the noise DP-SGD adds grows with
    /// the parameter count while the clipped signal does not), large batches, a higher
    /// learning rate. Tuned on Adult at ε = 1, 3, 10.
    pub fn dp_default() -> Self {
        let defaults = Self::default();
        Self {
            encoder_dims: vec![64],
            decoder_dims: vec![64],
            latent_dim: 16,
            training: TrainingConfig {
                max_epochs: DP_EPOCHS,
                batch_size: DP_BATCH,
                learning_rate: 5e-3,
                ..defaults.training.clone()
            },
            ..defaults
        }
    }

    /// The DP settings, `None` without a `privacy` section.
    pub fn dp_settings(&self) -> Result<Option<DpSettings>> {
        match &self.privacy {
            Some(privacy) => {
                DpSettings::from_config(MODEL, &serde_json::json!({ "privacy": privacy }))
            }
            None => Ok(None),
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
        self.training.validate(MODEL)?;
        if self.dp_settings()?.is_some() && self.training.resume_from.is_some() {
            return Err(super::private::refuse_tvae_resume());
        }
        Ok(())
    }
}
