//! Settings of the utility and detection evaluations, with their defaults and checks.

use serde::{Deserialize, Serialize};

use super::error::UtilityError;
use crate::error::Result;

/// What a model predicts about the target column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A label: accuracy, macro F1 and ROC-AUC.
    Classification,
    /// A number: R² and mean absolute error.
    Regression,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        })
    }
}

/// Hyperparameters of the gradient-boosted trees.
///
/// The trees are histogram-based and second order: every feature is cut into `bins`
/// quantile bins (missing values in a bin of their own, sent left or right at each split as
/// the gain prefers). Categorical features are ranked by their smoothed mean target (by
/// frequency for more than two classes) and then split like ordered numbers, which is exact
/// for a single split on two classes or a number and an approximation otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtConfig {
    /// Boosting rounds (one tree per round, or one per class per round for several classes).
    pub trees: usize,
    /// Depth limit of every tree (a depth of 6 gives at most 64 leaves).
    pub max_depth: usize,
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Fewest training rows a leaf may hold.
    pub min_leaf: usize,
    /// Value bins per feature (quantile cuts), from 2 to 255; missing values get one more.
    pub bins: usize,
    /// L2 penalty λ on leaf values: a leaf is worth `−G / (H + λ)`.
    pub l2: f64,
}

impl Default for GbdtConfig {
    fn default() -> Self {
        Self {
            trees: 100,
            max_depth: 6,
            learning_rate: 0.1,
            min_leaf: 20,
            bins: 64,
            l2: 1.0,
        }
    }
}

impl GbdtConfig {
    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if self.trees == 0 {
            return Err(invalid("gbdt.trees", "must be at least 1".into()));
        }
        if !(1..=16).contains(&self.max_depth) {
            return Err(invalid(
                "gbdt.max_depth",
                format!("must be between 1 and 16, not {}", self.max_depth),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(invalid(
                "gbdt.learning_rate",
                format!("must be in (0, 1], not {}", self.learning_rate),
            ));
        }
        if self.min_leaf == 0 {
            return Err(invalid("gbdt.min_leaf", "must be at least 1".into()));
        }
        if !(2..=255).contains(&self.bins) {
            return Err(invalid(
                "gbdt.bins",
                format!("must be between 2 and 255, not {}", self.bins),
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(invalid(
                "gbdt.l2",
                format!("must be a finite number ≥ 0, not {}", self.l2),
            ));
        }
        Ok(())
    }
}

/// How [`evaluate_utility`](super::evaluate_utility) trains and tests its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UtilityOptions {
    /// The column the models predict.
    pub target: String,
    /// Classification or regression; `None` infers it from the target's kind in the real
    /// schema: booleans and labels are classified, numbers regressed, except integers with
    /// at most [`UtilityOptions::MAX_INTEGER_CLASSES`] distinct real values, which are
    /// classified.
    pub task: Option<Task>,
    /// Seed of the training-set subsampling.
    pub seed: u64,
    /// Training sets with more rows are subsampled (seeded, without replacement) to this many.
    pub max_train_rows: usize,
    /// The gradient-boosted trees.
    pub gbdt: GbdtConfig,
}

impl Default for UtilityOptions {
    fn default() -> Self {
        Self {
            target: String::new(),
            task: None,
            seed: 0,
            max_train_rows: 50_000,
            gbdt: GbdtConfig::default(),
        }
    }
}

impl UtilityOptions {
    /// Integer targets with at most this many distinct values are classified when the task
    /// is inferred.
    pub const MAX_INTEGER_CLASSES: usize = 20;

    /// Options predicting `target`, everything else default.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            ..Self::default()
        }
    }

    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if self.target.is_empty() {
            return Err(invalid(
                "target",
                "name the column to predict (e.g. --target income)".into(),
            ));
        }
        if self.max_train_rows < 2 {
            return Err(invalid("max_train_rows", "must be at least 2".into()));
        }
        self.gbdt.validate()
    }
}

/// How [`detection`](super::detection) tells real from synthetic rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionOptions {
    /// Stratified cross-validation folds.
    pub folds: usize,
    /// Seed of the subsampling and of the fold assignment.
    pub seed: u64,
    /// Each side with more rows is subsampled (seeded, without replacement) to this many.
    pub max_rows: usize,
    /// The gradient-boosted trees that try to tell the rows apart.
    pub gbdt: GbdtConfig,
}

impl Default for DetectionOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            seed: 0,
            max_rows: 20_000,
            gbdt: GbdtConfig::default(),
        }
    }
}

impl DetectionOptions {
    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if self.folds < 2 {
            return Err(invalid(
                "folds",
                format!("must be at least 2, not {}", self.folds),
            ));
        }
        if self.max_rows < self.folds {
            return Err(invalid(
                "max_rows",
                format!("must be at least the number of folds ({})", self.folds),
            ));
        }
        self.gbdt.validate()
    }
}

fn invalid(option: &'static str, message: String) -> crate::QualityError {
    UtilityError::InvalidOption { option, message }.into()
}
