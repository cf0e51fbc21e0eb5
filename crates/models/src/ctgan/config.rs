//! Hyperparameters of CTGAN and CopulaGAN.

use mirage_core::records::ModelKind;
use serde::{Deserialize, Serialize};

use crate::dp::DpSettings;
use crate::error::{ModelError, Result};
use crate::training::TrainingConfig;
use crate::transformer::TransformerOptions;

/// CTGAN hyperparameters (the paper's defaults). CopulaGAN uses the same with
/// `transformer.gaussian_copula` set. Unknown fields are refused so typos do not pass
/// silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtganConfig {
    /// Width of the generator's noise input.
    pub embedding_dim: usize,
    /// Widths of the generator's residual blocks.
    pub generator_dims: Vec<usize>,
    /// Widths of the discriminator's hidden layers.
    pub discriminator_dims: Vec<usize>,
    /// Rows per discriminator input (PacGAN); divides `training.batch_size`.
    pub pac: usize,
    /// Discriminator updates per generator update.
    pub discriminator_steps: usize,
    /// Weight λ of the gradient penalty.
    pub gradient_penalty: f64,
    /// Temperature of the Gumbel-softmax on one-hot spans.
    pub gumbel_tau: f64,
    /// After training, shift the generator's one-hot output biases so generated
    /// categories (and null shares) occur as often as in the training rows (see
    /// `crate::transformer::calibration`).
    pub calibrate: bool,
    /// How columns are encoded.
    pub transformer: TransformerOptions,
    /// Epochs, batch size, Adam's learning rate and (L2) weight decay, seed, budget,
    /// checkpoints. Both networks use `learning_rate` and `weight_decay`.
    pub training: TrainingConfig,
    /// Train with differential privacy (`crate::dp::DpSettings`): DP column statistics,
    /// then a critic trained with DP-SGD (`pac` must be 1; no gradient penalty: the
    /// per-sample clipping bounds each row's pull instead). Absent or null: no DP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<serde_json::Value>,
}

/// Epochs of a DP fit unless the config sets them.
pub const DP_EPOCHS: usize = 30;
/// Expected real rows per DP-SGD critic step unless the config sets them.
pub const DP_BATCH: usize = 1000;

impl Default for CtganConfig {
    fn default() -> Self {
        Self {
            embedding_dim: 128,
            generator_dims: vec![256, 256],
            discriminator_dims: vec![256, 256],
            pac: 10,
            discriminator_steps: 1,
            gradient_penalty: 10.0,
            gumbel_tau: 0.2,
            calibrate: true,
            transformer: TransformerOptions::default(),
            training: TrainingConfig {
                max_epochs: 300,
                batch_size: 500,
                learning_rate: 2e-4,
                weight_decay: 1e-6,
                ..TrainingConfig::default()
            },
            privacy: None,
        }
    }
}

/// The model name used in errors.
fn model_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::CopulaGan => "copula-gan",
        _ => "ctgan",
    }
}

impl CtganConfig {
    /// CopulaGAN's defaults: CTGAN's over Gaussian-copula-transformed numeric columns.
    pub fn copula_gan() -> Self {
        let mut config = Self::default();
        config.transformer.gaussian_copula = true;
        config
    }

    /// The defaults of `kind` (`Ctgan` or `CopulaGan`).
    pub fn default_for(kind: ModelKind) -> Self {
        match kind {
            ModelKind::CopulaGan => Self::copula_gan(),
            _ => Self::default(),
        }
    }

    /// Parses and validates a JSON config for `kind`; `null` gives its defaults. For
    /// CopulaGAN, `transformer.gaussian_copula` defaults to `true`.
    /// With a `privacy` section the defaults are DP-CTGAN's ([`Self::dp_default_for`]).
    pub fn from_json(kind: ModelKind, value: &serde_json::Value) -> Result<Self> {
        let private = value.get("privacy").is_some_and(|p| !p.is_null());
        let base = if private {
            Self::dp_default_for(kind)
        } else {
            Self::default_for(kind)
        };
        let config: Self = crate::model_config::parse_config_over(model_name(kind), value, base)?;
        config.validate(kind)?;
        Ok(config)
    }

    /// The defaults of a DP fit of `kind`: no packing, no gradient penalty, a narrower
    /// critic (DP-SGD's noise grows with its parameter count), [`DP_EPOCHS`] epochs of
    /// expected batch [`DP_BATCH`] at a higher learning rate. Tuned on Adult at ε = 3.
    pub fn dp_default_for(kind: ModelKind) -> Self {
        let mut config = Self::default_for(kind);
        config.discriminator_dims = vec![128, 128];
        config.pac = 1;
        config.gradient_penalty = 0.0;
        config.training.max_epochs = DP_EPOCHS;
        config.training.batch_size = DP_BATCH;
        config.training.learning_rate = 1e-3;
        config
    }

    /// The DP settings, `None` without a `privacy` section.
    pub fn dp_settings(&self, kind: ModelKind) -> Result<Option<DpSettings>> {
        match &self.privacy {
            Some(privacy) => DpSettings::from_config(
                model_name(kind),
                &serde_json::json!({ "privacy": privacy }),
            ),
            None => Ok(None),
        }
    }

    /// Checks every field's range for `kind`, naming the first bad field.
    pub fn validate(&self, kind: ModelKind) -> Result<()> {
        let name = model_name(kind);
        let fail = |field: &str, message: String| {
            Err(ModelError::InvalidConfig {
                model: name.into(),
                field: field.into(),
                message,
            })
        };
        if !matches!(kind, ModelKind::Ctgan | ModelKind::CopulaGan) {
            return fail("kind", format!("{kind} is not CTGAN or CopulaGAN"));
        }
        if !(1..=4096).contains(&self.embedding_dim) {
            return fail(
                "embedding_dim",
                format!("must be between 1 and 4096, got {}", self.embedding_dim),
            );
        }
        if self.generator_dims.len() > 16 {
            return fail("generator_dims", "must list at most 16 layers".into());
        }
        if let Some(d) = self
            .generator_dims
            .iter()
            .find(|d| !(1..=8192).contains(*d))
        {
            return fail(
                "generator_dims",
                format!("every width must be between 1 and 8192, got {d}"),
            );
        }
        if self.discriminator_dims.is_empty() || self.discriminator_dims.len() > 16 {
            return fail(
                "discriminator_dims",
                "must list between 1 and 16 hidden layers".into(),
            );
        }
        if let Some(d) = self
            .discriminator_dims
            .iter()
            .find(|d| !(1..=8192).contains(*d))
        {
            return fail(
                "discriminator_dims",
                format!("every width must be between 1 and 8192, got {d}"),
            );
        }
        if !(1..=128).contains(&self.pac) {
            return fail(
                "pac",
                format!("must be between 1 and 128, got {}", self.pac),
            );
        }
        if !(1..=100).contains(&self.discriminator_steps) {
            return fail(
                "discriminator_steps",
                format!(
                    "must be between 1 and 100, got {}",
                    self.discriminator_steps
                ),
            );
        }
        if !(self.gradient_penalty.is_finite() && self.gradient_penalty >= 0.0) {
            return fail(
                "gradient_penalty",
                format!(
                    "must be a non-negative number, got {}",
                    self.gradient_penalty
                ),
            );
        }
        if !(self.gumbel_tau.is_finite() && self.gumbel_tau > 0.0) {
            return fail(
                "gumbel_tau",
                format!("must be a positive number, got {}", self.gumbel_tau),
            );
        }
        if let Err(error) = self.transformer.validate() {
            return match error {
                ModelError::InvalidConfig { field, message, .. } => {
                    fail(&format!("transformer.{field}"), message)
                }
                other => Err(other),
            };
        }
        match (kind, self.transformer.gaussian_copula) {
            (ModelKind::CopulaGan, false) => {
                return fail(
                    "transformer.gaussian_copula",
                    "must be true for copula-gan (use ctgan for plain CTGAN)".into(),
                );
            }
            (ModelKind::Ctgan, true) => {
                return fail(
                    "transformer.gaussian_copula",
                    "must be false for ctgan (use copula-gan for the copula transform)".into(),
                );
            }
            _ => {}
        }
        self.training.validate(name)?;
        if self.dp_settings(kind)?.is_some() {
            if self.pac != 1 {
                return fail(
                    "pac",
                    format!(
                        "must be 1 with privacy (a pack's score mixes rows, so one row's \
                         influence would depend on its pack), got {}",
                        self.pac
                    ),
                );
            }
            if self.gradient_penalty != 0.0 {
                return fail(
                    "gradient_penalty",
                    format!(
                        "must be 0 with privacy (its double backward is not clipped per \
                         row; the per-row clipping bounds the critic instead), got {}",
                        self.gradient_penalty
                    ),
                );
            }
            if self.training.resume_from.is_some() {
                return Err(crate::dp::refuse_resume(name));
            }
        }
        if !self.training.batch_size.is_multiple_of(self.pac) {
            return fail(
                "training.batch_size",
                format!(
                    "must be a multiple of pac ({}), got {}",
                    self.pac, self.training.batch_size
                ),
            );
        }
        Ok(())
    }
}
