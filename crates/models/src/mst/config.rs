//! MST's configuration.

use mirage_privacy::MstOptions;
use serde::{Deserialize, Serialize};

use crate::dp::DpSettings;
use crate::error::{ModelError, Result};

fn default_iterations() -> usize {
    MstOptions::default().iterations
}
fn default_compress() -> f64 {
    MstOptions::default().compress_sigmas
}
fn default_cells() -> usize {
    MstOptions::default().max_cells
}

/// `{"privacy": {"epsilon": 1, "delta": 1e-5}, "iterations": …, "seed": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MstConfig {
    /// The budget and DP settings (required: MST exists to be DP).
    pub privacy: DpSettings,
    /// Estimation iterations (Private-PGM mirror descent).
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// Values whose noisy one-way count is below this many σ are merged.
    #[serde(default = "default_compress")]
    pub compress_sigmas: f64,
    /// Largest two-way table a tree edge may have.
    #[serde(default = "default_cells")]
    pub max_cells: usize,
    /// Kept for configs written before; the noise is always drawn from the operating
    /// system (a saved seed would let readers of the model redraw it).
    #[serde(default)]
    pub seed: u64,
}

impl MstConfig {
    /// Parses and validates a config; MST without a `privacy` section is refused.
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let invalid = |field: &str, message: String| ModelError::InvalidConfig {
            model: "mst".into(),
            field: field.into(),
            message,
        };
        if DpSettings::from_config("mst", config)?.is_none() {
            return Err(invalid(
                "privacy",
                "MST is a DP model: give a budget, e.g. {\"privacy\": {\"epsilon\": 1, \"delta\": 1e-5}}".into(),
            ));
        }
        let parsed: Self =
            serde_json::from_value(config.clone()).map_err(|e| invalid("config", e.to_string()))?;
        if parsed.iterations == 0 {
            return Err(invalid("iterations", "must be at least 1".into()));
        }
        if !(parsed.compress_sigmas >= 0.0 && parsed.compress_sigmas.is_finite()) {
            return Err(invalid(
                "compress_sigmas",
                format!("{} is not a non-negative number", parsed.compress_sigmas),
            ));
        }
        if parsed.max_cells < 4 {
            return Err(invalid("max_cells", "must be at least 4".into()));
        }
        Ok(parsed)
    }

    /// The core algorithm's options.
    pub fn options(&self) -> MstOptions {
        MstOptions {
            compress_sigmas: self.compress_sigmas,
            iterations: self.iterations,
            max_cells: self.max_cells,
        }
    }
}
