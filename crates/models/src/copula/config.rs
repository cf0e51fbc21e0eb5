//! Hyperparameters of the Gaussian copula.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// How numeric marginals are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginalChoice {
    /// The best-fitting parametric family when it fits within `parametric_tolerance`
    /// (KS statistic), otherwise the empirical quantile function.
    #[default]
    Auto,
    /// Always the empirical quantile function.
    Empirical,
    /// Always the best-fitting parametric family (as SDV's GaussianCopula does).
    Parametric,
}

/// How the categories of a discrete column are laid out on [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryOrder {
    /// Ordered by their mean normal score on the numeric column they are most associated
    /// with, so the Gaussian dependence can express the association (falls back to
    /// frequency when no numeric column is associated).
    #[default]
    Association,
    /// Most frequent first (SDV's layout).
    Frequency,
}

/// Gaussian copula hyperparameters. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianCopulaConfig {
    /// How numeric marginals are chosen.
    pub marginals: MarginalChoice,
    /// Largest KS statistic at which a parametric family is preferred in `auto` mode.
    pub parametric_tolerance: f64,
    /// How discrete columns' categories are ordered.
    pub category_order: CategoryOrder,
    /// Points of the stored empirical quantile function (≥ 2).
    pub quantile_points: usize,
    /// Keep generated numbers inside the training data's [min, max].
    pub enforce_bounds: bool,
    /// Fit on at most this many rows (a seeded sample) when set.
    pub max_fit_rows: Option<usize>,
    /// Seed for the randomised ranks used while fitting.
    pub seed: u64,
}

impl Default for GaussianCopulaConfig {
    fn default() -> Self {
        Self {
            marginals: MarginalChoice::Auto,
            parametric_tolerance: 0.01,
            category_order: CategoryOrder::Association,
            quantile_points: 1001,
            enforce_bounds: true,
            max_fit_rows: None,
            seed: 0,
        }
    }
}

impl GaussianCopulaConfig {
    /// Parses and validates a JSON config; `null` gives the defaults.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let config: Self = crate::model_config::parse_config("gaussian-copula", value)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        let fail = |field: &str, message: &str| {
            Err(ModelError::InvalidConfig {
                model: "gaussian-copula".into(),
                field: field.into(),
                message: message.into(),
            })
        };
        if !(0.0..=1.0).contains(&self.parametric_tolerance) {
            return fail("parametric_tolerance", "must be within [0, 1]");
        }
        if !(2..=1_000_000).contains(&self.quantile_points) {
            return fail("quantile_points", "must be between 2 and 1000000");
        }
        if self.max_fit_rows == Some(0) {
            return fail("max_fit_rows", "must be at least 1 when set");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_gives_defaults_and_typos_are_refused() {
        let config = GaussianCopulaConfig::from_json(&serde_json::Value::Null).expect("defaults");
        assert_eq!(config, GaussianCopulaConfig::default());
        let err = GaussianCopulaConfig::from_json(&serde_json::json!({"marginal": "auto"}))
            .expect_err("typo");
        assert!(err.to_string().contains("marginal"), "{err}");
        let err = GaussianCopulaConfig::from_json(&serde_json::json!({"quantile_points": 1}))
            .expect_err("range");
        assert!(err.to_string().contains("quantile_points"), "{err}");
    }
}
