//! Settings of a quality evaluation.

use serde::{Deserialize, Serialize};

use crate::error::{QualityError, Result};

/// How [`evaluate`](crate::evaluate) samples and discretises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityOptions {
    /// Tables with more rows are subsampled (seeded, without replacement) to this many rows
    /// for the column pair trends; column shapes and diagnostics always use every row.
    pub max_rows: usize,
    /// Equal-width bins a numeric column is cut into when it meets a categorical column.
    pub bins: usize,
    /// Seed of the subsampling.
    pub seed: u64,
}

impl Default for QualityOptions {
    fn default() -> Self {
        Self {
            max_rows: 50_000,
            bins: 10,
            seed: 0,
        }
    }
}

impl QualityOptions {
    /// Checks that at least one row and one bin are asked for.
    pub fn validate(&self) -> Result<()> {
        if self.max_rows == 0 {
            return Err(QualityError::InvalidOptions {
                message: "max_rows must be at least 1".into(),
            });
        }
        if self.bins == 0 {
            return Err(QualityError::InvalidOptions {
                message: "bins must be at least 1".into(),
            });
        }
        if u32::try_from(self.bins).is_err() {
            return Err(QualityError::InvalidOptions {
                message: format!("bins must be below {}", u32::MAX),
            });
        }
        Ok(())
    }
}
