//! Settings of the data transformer.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// How the [`super::DataTransformer`] encodes columns. Unknown fields are refused so typos
/// do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerOptions {
    /// Most mixture components (modes) per continuous column.
    pub max_components: usize,
    /// Concentration of the Dirichlet-process (stick-breaking) prior on the mixture
    /// weights; small values prefer few components.
    pub weight_concentration: f64,
    /// Components whose weight is at most this are dropped after fitting.
    pub weight_threshold: f64,
    /// Discrete columns with more distinct values than this use the compact digit
    /// encoding instead of a one-hot.
    pub high_cardinality_threshold: usize,
    /// Base of the digit encoding of high-cardinality columns (width of each digit group).
    pub digit_base: usize,
    /// Each mixture is fitted on a seeded sample of at most this many non-null values.
    pub fit_sample: usize,
    /// Map numeric columns to normal scores through a fitted marginal before the mixture
    /// (CopulaGAN).
    pub gaussian_copula: bool,
    /// Seed of the fitting samples and the k-means initialisation.
    pub seed: u64,
}

impl Default for TransformerOptions {
    fn default() -> Self {
        Self {
            max_components: 10,
            weight_concentration: 0.001,
            weight_threshold: 0.005,
            high_cardinality_threshold: 500,
            digit_base: 16,
            fit_sample: 50_000,
            gaussian_copula: false,
            seed: 0,
        }
    }
}

impl TransformerOptions {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, message: String| {
            Err(ModelError::InvalidConfig {
                model: "data-transformer".into(),
                field: field.into(),
                message,
            })
        };
        if !(1..=100).contains(&self.max_components) {
            return invalid(
                "max_components",
                format!("must be between 1 and 100, got {}", self.max_components),
            );
        }
        if !(self.weight_concentration.is_finite() && self.weight_concentration > 0.0) {
            return invalid(
                "weight_concentration",
                format!(
                    "must be a positive number, got {}",
                    self.weight_concentration
                ),
            );
        }
        if !(0.0..1.0).contains(&self.weight_threshold) {
            return invalid(
                "weight_threshold",
                format!("must be in [0, 1), got {}", self.weight_threshold),
            );
        }
        if self.high_cardinality_threshold < 2 {
            return invalid(
                "high_cardinality_threshold",
                format!(
                    "must be at least 2, got {}",
                    self.high_cardinality_threshold
                ),
            );
        }
        if !(2..=65_536).contains(&self.digit_base) {
            return invalid(
                "digit_base",
                format!("must be between 2 and 65536, got {}", self.digit_base),
            );
        }
        if self.fit_sample < 100 {
            return invalid(
                "fit_sample",
                format!("must be at least 100, got {}", self.fit_sample),
            );
        }
        Ok(())
    }
}
