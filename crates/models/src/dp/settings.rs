//! The `privacy` section of a model config.

use mirage_privacy::{PrivacyBudget, PrivacyTracker, PublicSchema};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

fn default_clip_norm() -> f64 {
    1.0
}
fn default_share() -> f64 {
    0.1
}
fn default_quantiles() -> usize {
    32
}
fn default_strict() -> bool {
    true
}
fn default_rare() -> f64 {
    5.0
}

/// How a model trains with differential privacy: `{"privacy": {"epsilon": 1, "delta":
/// 1e-5}}` in any model's config, with optional fields below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpSettings {
    /// Target ε.
    pub epsilon: f64,
    /// Target δ.
    pub delta: f64,
    /// DP-SGD per-sample clipping norm C.
    #[serde(default = "default_clip_norm")]
    pub clip_norm: f64,
    /// Share of ε spent on column statistics (category sets, quantiles, null counts).
    #[serde(default = "default_share")]
    pub preprocessing_share: f64,
    /// DP quantiles per numeric column (between P1 and P99).
    #[serde(default = "default_quantiles")]
    pub quantiles: usize,
    /// Facts the user declares public: used without spending budget.
    #[serde(default)]
    pub public: PublicSchema,
    /// Refuse to fit when a step would read the data without accounting (otherwise the
    /// model is fitted and reported as not DP).
    #[serde(default = "default_strict")]
    pub strict: bool,
    /// Categories whose noisy count is below this are merged into "other".
    #[serde(default = "default_rare")]
    pub rare_min_count: f64,
}

impl DpSettings {
    /// The settings in `config["privacy"]`, `None` when absent or null.
    pub fn from_config(model: &str, config: &serde_json::Value) -> Result<Option<Self>> {
        let Some(section) = config.get("privacy").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let settings: Self =
            serde_json::from_value(section.clone()).map_err(|e| ModelError::InvalidConfig {
                model: model.to_string(),
                field: "privacy".into(),
                message: e.to_string(),
            })?;
        settings.validate(model)?;
        Ok(Some(settings))
    }

    /// Checks every field; errors name it.
    pub fn validate(&self, model: &str) -> Result<()> {
        let bad = |field: &str, message: String| ModelError::InvalidConfig {
            model: model.to_string(),
            field: format!("privacy.{field}"),
            message,
        };
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(bad(
                "epsilon",
                format!("{} is not a positive number", self.epsilon),
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(bad("delta", format!("{} is not in (0, 1)", self.delta)));
        }
        if !(self.clip_norm > 0.0 && self.clip_norm.is_finite()) {
            return Err(bad(
                "clip_norm",
                format!("{} is not a positive number", self.clip_norm),
            ));
        }
        if !(self.preprocessing_share > 0.0 && self.preprocessing_share < 1.0) {
            return Err(bad(
                "preprocessing_share",
                format!("{} is not in (0, 1)", self.preprocessing_share),
            ));
        }
        if !(2..=1000).contains(&self.quantiles) {
            return Err(bad(
                "quantiles",
                format!("{} is not in 2..=1000", self.quantiles),
            ));
        }
        if !(self.rare_min_count >= 0.0 && self.rare_min_count.is_finite()) {
            return Err(bad(
                "rare_min_count",
                format!("{} is not a non-negative number", self.rare_min_count),
            ));
        }
        self.public
            .validate()
            .map_err(|e| bad("public", e.to_string()))?;
        Ok(())
    }

    /// A fresh account against this budget.
    pub fn tracker(&self) -> Result<PrivacyTracker> {
        Ok(PrivacyTracker::new(PrivacyBudget::new(
            self.epsilon,
            self.delta,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_or_null_means_no_dp() {
        assert!(
            DpSettings::from_config("tvae", &json!({}))
                .expect("ok")
                .is_none()
        );
        assert!(
            DpSettings::from_config("tvae", &json!({"privacy": null}))
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn defaults_fill_in() {
        let s = DpSettings::from_config("tvae", &json!({"privacy": {"epsilon": 1, "delta": 1e-5}}))
            .expect("ok")
            .expect("some");
        assert_eq!(s.clip_norm, 1.0);
        assert_eq!(s.quantiles, 32);
        assert!(s.strict);
    }

    #[test]
    fn bad_fields_are_named() {
        for (config, field) in [
            (json!({"epsilon": 0, "delta": 1e-5}), "privacy.epsilon"),
            (json!({"epsilon": 1, "delta": 1}), "privacy.delta"),
            (
                json!({"epsilon": 1, "delta": 1e-5, "clip_norm": -1}),
                "privacy.clip_norm",
            ),
            (
                json!({"epsilon": 1, "delta": 1e-5, "quantiles": 1}),
                "privacy.quantiles",
            ),
            (
                json!({"epsilon": 1, "delta": 1e-5, "preprocessing_share": 1.5}),
                "privacy.preprocessing_share",
            ),
            (
                json!({"epsilon": 1, "delta": 1e-5, "public": {"columns": {"a": {"bounds": [2, 1]}}}}),
                "privacy.public",
            ),
            (json!({"epsilon": 1}), "privacy"),
            (json!({"epsilon": 1, "delta": 1e-5, "typo": 1}), "privacy"),
        ] {
            let err =
                DpSettings::from_config("tvae", &json!({"privacy": config})).expect_err("refused");
            let text = err.to_string();
            assert!(text.contains(field), "{text} lacks {field}");
        }
    }
}
