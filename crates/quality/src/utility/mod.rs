//! Utility and detection: does the synthetic table work like the real one, and can it be
//! told apart from it?
//!
//! [`evaluate_utility`] predicts one target column with models trained on the real training
//! rows (TRTR) and on the synthetic rows (TSTR), both tested on a real holdout the generator
//! never saw, and reports every metric for both with their ratio and how well the two
//! gradient-boosting models agree on which features matter. [`detection`] cross-validates a
//! classifier asked to separate real from synthetic rows.
//!
//! Layout and flow:
//! - `features`: tables → feature matrices (numbers as `f64` with `NaN`, labels as codes
//!   learned on the training side, unseen labels a reserved code);
//! - `gbdt/`: histogram-based, second-order gradient-boosted trees (binary log-loss,
//!   softmax, squared error) with total-gain feature importance;
//! - `logistic`: the linear baselines (logistic regression by Newton's method, ridge
//!   regression by the normal equations) on standardised numbers and one-hot categories;
//! - `metrics`: accuracy, macro F1, ROC-AUC (average ranks for ties), R², MAE, Spearman;
//! - `target`: the task, class indices or numbers per table, holdout checks;
//! - `evaluate`, `detection`: the two entry points; `report`: what they return.
//!
//! Everything is deterministic for a seed: the seed only picks subsamples and folds, and
//! the models themselves use no randomness.

mod detection;
mod error;
mod evaluate;
mod features;
mod gbdt;
mod linalg;
mod logistic;
mod metrics;
mod options;
mod prediction;
mod report;
mod target;

pub use detection::detection;
pub use error::{TableRole, UtilityError};
pub use evaluate::evaluate_utility;
pub use options::{DetectionOptions, GbdtConfig, Task, UtilityOptions};
pub use report::{
    DetectionReport, FeatureImportance, FeatureSkipReason, ImportanceAgreement, MetricComparison,
    ModelUtility, SkippedFeature, UtilityMetric, UtilityModel, UtilityReport, UtilityRows,
};
pub use target::MAX_CLASSES;
