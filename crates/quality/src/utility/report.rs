//! The utility and detection reports: plain serde structs with stable field names.

use serde::{Deserialize, Serialize};

use super::options::Task;

/// A model family trained on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UtilityModel {
    /// Histogram-based gradient-boosted trees.
    GradientBoosting,
    /// L2-regularised logistic regression (classification baseline).
    LogisticRegression,
    /// Ridge linear regression (regression baseline).
    LinearRegression,
}

impl std::fmt::Display for UtilityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UtilityModel::GradientBoosting => "gradient_boosting",
            UtilityModel::LogisticRegression => "logistic_regression",
            UtilityModel::LinearRegression => "linear_regression",
        })
    }
}

/// A score of predictions on the holdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UtilityMetric {
    /// Share of holdout rows whose most probable class is right.
    Accuracy,
    /// Unweighted mean of the per-class F1 scores.
    MacroF1,
    /// Area under the ROC curve (one-vs-rest mean over classes for more than two).
    RocAuc,
    /// Coefficient of determination, 1 − SS_res / SS_tot (can be negative).
    #[serde(rename = "r2")]
    RSquared,
    /// Mean absolute error, in the target's units; lower is better.
    #[serde(rename = "mae")]
    MeanAbsoluteError,
}

impl UtilityMetric {
    /// Whether a larger value is a better model (all but the mean absolute error).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, UtilityMetric::MeanAbsoluteError)
    }
}

/// One metric of a model trained on real rows (TRTR) and on synthetic rows (TSTR), both
/// scored on the same holdout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// The metric.
    pub metric: UtilityMetric,
    /// Train-real-test-real.
    pub real: f64,
    /// Train-synthetic-test-real.
    pub synthetic: f64,
    /// `synthetic / real`; `None` when `real` is not positive. Near 1 is ideal; for the mean
    /// absolute error (lower is better) a ratio above 1 means the synthetic model is worse.
    pub ratio: Option<f64>,
}

impl MetricComparison {
    /// The comparison of two values of `metric`.
    pub fn new(metric: UtilityMetric, real: f64, synthetic: f64) -> Self {
        let ratio =
            (real > 0.0 && real.is_finite() && synthetic.is_finite()).then(|| synthetic / real);
        Self {
            metric,
            real,
            synthetic,
            ratio,
        }
    }
}

/// Every metric of one model family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelUtility {
    /// The model family.
    pub model: UtilityModel,
    /// Its metrics: accuracy, macro F1 and ROC-AUC, or R² and MAE.
    pub metrics: Vec<MetricComparison>,
}

impl ModelUtility {
    /// One metric, if the task has it.
    pub fn metric(&self, metric: UtilityMetric) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == metric)
    }
}

/// One feature's share of the total split gain of each gradient-boosting model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    /// The feature column.
    pub feature: String,
    /// Share of the real-trained model's total gain, in `[0, 1]`.
    pub real: f64,
    /// Share of the synthetic-trained model's total gain, in `[0, 1]`.
    pub synthetic: f64,
}

/// Whether the two gradient-boosting models lean on the same features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportanceAgreement {
    /// Spearman's rank correlation of the two importance vectors; `None` with fewer than two
    /// features or when one model made no split.
    pub spearman: Option<f64>,
    /// The importances, in the real model's order of importance.
    pub features: Vec<FeatureImportance>,
}

/// Why a real column is not a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSkipReason {
    /// A key: unique per row, nothing to learn.
    Identifier,
    /// Free text.
    Text,
    /// The holdout table lacks it.
    MissingFromHoldout,
    /// The synthetic table lacks it.
    MissingFromSynthetic,
}

/// A real column left out of the features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFeature {
    /// The column.
    pub column: String,
    /// Why.
    pub reason: FeatureSkipReason,
}

/// Rows the models saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtilityRows {
    /// Real training rows used (non-null target, after subsampling).
    pub train_real: usize,
    /// Synthetic training rows used (non-null target, after subsampling).
    pub synthetic: usize,
    /// Holdout rows scored (non-null target).
    pub holdout: usize,
}

/// Does the synthetic table work like the real one: models trained on each, tested on the
/// same real holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtilityReport {
    /// The target column.
    pub target: String,
    /// Classification or regression.
    pub task: Task,
    /// The classes, in the order of their indices (empty for regression).
    pub classes: Vec<String>,
    /// The feature columns, in the real schema's order.
    pub features: Vec<String>,
    /// Real columns that are not features.
    pub skipped: Vec<SkippedFeature>,
    /// Gradient boosting first, then the linear baseline.
    pub models: Vec<ModelUtility>,
    /// Agreement of the gradient-boosting feature importances.
    pub feature_importance: ImportanceAgreement,
    /// Rows used.
    pub rows: UtilityRows,
}

impl UtilityReport {
    /// The metrics of one model family, if it was trained.
    pub fn model(&self, model: UtilityModel) -> Option<&ModelUtility> {
        self.models.iter().find(|m| m.model == model)
    }

    /// The headline metric of the task: ROC-AUC for classification, R² for regression.
    pub fn primary_metric(&self) -> UtilityMetric {
        match self.task {
            Task::Classification => UtilityMetric::RocAuc,
            Task::Regression => UtilityMetric::RSquared,
        }
    }

    /// The gradient-boosting comparison of the headline metric.
    pub fn primary(&self) -> Option<&MetricComparison> {
        self.model(UtilityModel::GradientBoosting)?
            .metric(self.primary_metric())
    }
}

/// How well a classifier tells real rows from synthetic ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionReport {
    /// Mean ROC-AUC over the folds (synthetic = positive): 0.5 means indistinguishable,
    /// 1 means every synthetic row is spotted.
    pub auc: f64,
    /// ROC-AUC of each fold.
    pub fold_aucs: Vec<f64>,
    /// `1 − 2·|auc − 0.5|`, clipped to `[0, 1]`: 1 is ideal.
    pub score: f64,
    /// Real rows used (after subsampling).
    pub real_rows: usize,
    /// Synthetic rows used (after subsampling).
    pub synthetic_rows: usize,
    /// The feature columns.
    pub features: Vec<String>,
}
