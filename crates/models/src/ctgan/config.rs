//! Hyperparameters of CTGAN and CopulaGAN.

use mirage_core::records::ModelKind;
use serde::{Deserialize, Serialize};

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
}

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
    pub fn from_json(kind: ModelKind, value: &serde_json::Value) -> Result<Self> {
        let config: Self = crate::model_config::parse_config_over(
            model_name(kind),
            value,
            Self::default_for(kind),
        )?;
        config.validate(kind)?;
        Ok(config)
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
