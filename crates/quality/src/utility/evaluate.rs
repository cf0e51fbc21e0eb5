//! [`evaluate_utility`]: TRTR against TSTR for one target column.

use mirage_core::{ColumnKind, Schema, Table};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::{TableRole, UtilityError};
use super::features::{FeatureEncoder, FeatureSpec, RawTable};
use super::gbdt::{GradientBoosting, Objective};
use super::logistic::{LinearConfig, LinearModel};
use super::metrics::{accuracy, class_roc_auc, macro_f1, mean_absolute_error, r_squared, spearman};
use super::options::{Task, UtilityOptions};
use super::prediction::{Prediction, available_threads};
use super::report::{
    FeatureImportance, FeatureSkipReason, ImportanceAgreement, MetricComparison, ModelUtility,
    SkippedFeature, UtilityMetric, UtilityModel, UtilityReport, UtilityRows,
};
use super::target::{check_holdout, infer_task, read_targets};
use crate::error::Result;
use crate::sample::subsample_rows;

/// Trains a gradient-boosting model and a linear baseline on `train_real` (TRTR) and on
/// `synthetic` (TSTR), tests all four on `holdout_real`, and compares.
///
/// Features are the real schema's columns other than the target, identifiers and free text
/// that all three tables have (the others are listed in [`UtilityReport::skipped`]). Rows
/// with a null target are left out; training sets above `options.max_train_rows` rows are
/// subsampled with `options.seed`. Category codes are learned from each training set; a
/// holdout category that set never showed reads as unseen (see the `features` module).
///
/// # Errors
///
/// [`UtilityError`] (as [`QualityError::Utility`](crate::QualityError::Utility)) when the
/// target is missing from a table, cannot be predicted, has too many classes, has one class
/// (or one value) in the holdout, when a table has no row with a target, when no feature is
/// left, and for invalid options; [`QualityError::Core`](crate::QualityError::Core) when a
/// table cannot hand over a column.
pub fn evaluate_utility(
    train_real: &Table,
    holdout_real: &Table,
    synthetic: &Table,
    options: &UtilityOptions,
) -> Result<UtilityReport> {
    options.validate()?;
    let target = options.target.as_str();
    let tables = [
        (train_real, TableRole::TrainReal),
        (holdout_real, TableRole::Holdout),
        (synthetic, TableRole::Synthetic),
    ];
    for (table, role) in tables {
        if table.schema().column(target).is_none() {
            return Err(UtilityError::MissingTarget {
                column: target.to_string(),
                table: role,
            }
            .into());
        }
    }
    let target_spec = FeatureSpec {
        name: target.to_string(),
        kind: train_real.schema().require(target)?.kind.clone(),
    };
    if matches!(
        target_spec.kind,
        ColumnKind::Identifier | ColumnKind::Text | ColumnKind::Constant
    ) {
        return Err(UtilityError::UnusableTarget {
            column: target.to_string(),
            kind: target_spec.kind,
        }
        .into());
    }
    let (specs, skipped) = feature_specs(train_real.schema(), holdout_real, synthetic, target);
    if specs.is_empty() {
        let skipped_for = |reason| skipped.iter().any(|s| s.reason == reason);
        let table = if skipped_for(FeatureSkipReason::MissingFromSynthetic) {
            TableRole::Synthetic
        } else if skipped_for(FeatureSkipReason::MissingFromHoldout) {
            TableRole::Holdout
        } else {
            TableRole::TrainReal
        };
        return Err(UtilityError::NoFeatures { table }.into());
    }

    let task = match options.task {
        Some(task) => task,
        None => infer_task(train_real, &target_spec)?,
    };
    let targets = read_targets(&tables, &target_spec, task)?;
    let mut generator = ChaCha8Rng::seed_from_u64(options.seed);
    let mut prepare = |index: usize| -> Result<(RawTable, Vec<f64>)> {
        let (table, role) = tables[index];
        let values = &targets.values[index];
        let mut rows: Vec<usize> = (0..values.len()).filter(|&r| values.present(r)).collect();
        if rows.is_empty() {
            return Err(UtilityError::EmptyTable {
                table: role,
                detail: format!(" with a value in target column {target:?}"),
            }
            .into());
        }
        if role != TableRole::Holdout
            && let Some(kept) = subsample_rows(rows.len(), options.max_train_rows, &mut generator)
        {
            rows = kept.into_iter().map(|i| rows[i]).collect();
        }
        let features = RawTable::read(table, &specs, role)?.select(&rows);
        Ok((features, values.select(&rows)))
    };
    let (train_features, train_y) = prepare(0)?;
    let (holdout_features, holdout_y) = prepare(1)?;
    let (synthetic_features, synthetic_y) = prepare(2)?;
    check_holdout(&holdout_y, &targets.classes, target)?;

    let arms = Arms {
        specs: &specs,
        task,
        classes: targets.classes.len(),
        options,
        holdout: &holdout_features,
    };
    let (real_arm, synthetic_arm) = std::thread::scope(|scope| {
        let synthetic_arm = scope.spawn(|| arms.train(&synthetic_features, &synthetic_y));
        let real_arm = arms.train(&train_features, &train_y);
        (real_arm, synthetic_arm.join())
    });
    let synthetic_arm = synthetic_arm.unwrap_or_else(|panic| std::panic::resume_unwind(panic));

    let linear = match task {
        Task::Classification => UtilityModel::LogisticRegression,
        Task::Regression => UtilityModel::LinearRegression,
    };
    let models = vec![
        compare(
            UtilityModel::GradientBoosting,
            &holdout_y,
            &real_arm.gbdt,
            &synthetic_arm.gbdt,
        ),
        compare(linear, &holdout_y, &real_arm.linear, &synthetic_arm.linear),
    ];
    Ok(UtilityReport {
        target: target.to_string(),
        task,
        classes: targets.classes,
        features: specs.iter().map(|s| s.name.clone()).collect(),
        skipped,
        models,
        feature_importance: agreement(&specs, &real_arm.importance, &synthetic_arm.importance),
        rows: UtilityRows {
            train_real: train_features.rows,
            synthetic: synthetic_features.rows,
            holdout: holdout_features.rows,
        },
    })
}

/// The real columns that can be features, and those that cannot with why.
fn feature_specs(
    real: &Schema,
    holdout: &Table,
    synthetic: &Table,
    target: &str,
) -> (Vec<FeatureSpec>, Vec<SkippedFeature>) {
    let mut specs = Vec::new();
    let mut skipped = Vec::new();
    for column in real.columns.iter().filter(|c| c.name != target) {
        let reason = match column.kind {
            ColumnKind::Identifier => Some(FeatureSkipReason::Identifier),
            ColumnKind::Text => Some(FeatureSkipReason::Text),
            _ if holdout.schema().column(&column.name).is_none() => {
                Some(FeatureSkipReason::MissingFromHoldout)
            }
            _ if synthetic.schema().column(&column.name).is_none() => {
                Some(FeatureSkipReason::MissingFromSynthetic)
            }
            _ => None,
        };
        match reason {
            Some(reason) => skipped.push(SkippedFeature {
                column: column.name.clone(),
                reason,
            }),
            None => specs.push(FeatureSpec {
                name: column.name.clone(),
                kind: column.kind.clone(),
            }),
        }
    }
    (specs, skipped)
}

/// What both arms share.
struct Arms<'a> {
    specs: &'a [FeatureSpec],
    task: Task,
    classes: usize,
    options: &'a UtilityOptions,
    holdout: &'a RawTable,
}

/// The holdout predictions of one training set's models.
struct Arm {
    gbdt: Prediction,
    linear: Prediction,
    importance: Vec<f64>,
}

impl Arms<'_> {
    fn train(&self, features: &RawTable, labels: &[f64]) -> Arm {
        let encoder = FeatureEncoder::fit(self.specs, &[features]);
        let train = encoder.encode(features);
        let test = encoder.encode(self.holdout);
        let objective = match (self.task, self.classes) {
            (Task::Regression, _) => Objective::SquaredError,
            (Task::Classification, 0..=2) => Objective::Binary,
            (Task::Classification, classes) => Objective::Softmax { classes },
        };
        // The two arms run side by side: each takes half the threads.
        let threads = (available_threads() / 2).max(1);
        let gbdt = GradientBoosting::fit(&train, labels, objective, &self.options.gbdt, threads);
        let config = LinearConfig::default();
        let linear = match self.task {
            Task::Classification => {
                LinearModel::fit_logistic(&train, labels, self.classes, &config)
            }
            Task::Regression => LinearModel::fit_ridge(&train, labels, &config),
        };
        Arm {
            gbdt: gbdt.predict(&test),
            linear: linear.predict(&test),
            importance: gbdt.importance().to_vec(),
        }
    }
}

/// The task's metrics of one prediction on the holdout.
fn metrics(truth: &[f64], prediction: &Prediction) -> Vec<(UtilityMetric, f64)> {
    match prediction {
        Prediction::Probabilities { classes, values } => {
            let truth: Vec<usize> = truth.iter().map(|&y| y as usize).collect();
            let predicted = prediction.classes();
            // The holdout holds two classes at least (checked), so the AUC exists.
            let auc = class_roc_auc(&truth, values, *classes).unwrap_or(0.5);
            vec![
                (UtilityMetric::Accuracy, accuracy(&truth, &predicted)),
                (UtilityMetric::MacroF1, macro_f1(&truth, &predicted)),
                (UtilityMetric::RocAuc, auc),
            ]
        }
        Prediction::Values(values) => vec![
            // The holdout target varies (checked), so R² exists.
            (
                UtilityMetric::RSquared,
                r_squared(truth, values).unwrap_or(0.0),
            ),
            (
                UtilityMetric::MeanAbsoluteError,
                mean_absolute_error(truth, values),
            ),
        ],
    }
}

fn compare(
    model: UtilityModel,
    truth: &[f64],
    real: &Prediction,
    synthetic: &Prediction,
) -> ModelUtility {
    let metrics = metrics(truth, real)
        .into_iter()
        .zip(metrics(truth, synthetic))
        .map(|((metric, r), (_, s))| MetricComparison::new(metric, r, s))
        .collect();
    ModelUtility { model, metrics }
}

/// Importance shares of both models, sorted by the real one, and their rank correlation.
fn agreement(specs: &[FeatureSpec], real: &[f64], synthetic: &[f64]) -> ImportanceAgreement {
    let share = |values: &[f64]| -> Vec<f64> {
        let total: f64 = values.iter().sum();
        values
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect()
    };
    let (real_share, synthetic_share) = (share(real), share(synthetic));
    let mut features: Vec<FeatureImportance> = specs
        .iter()
        .zip(real_share.iter().zip(&synthetic_share))
        .map(|(spec, (&r, &s))| FeatureImportance {
            feature: spec.name.clone(),
            real: r,
            synthetic: s,
        })
        .collect();
    features.sort_by(|a, b| b.real.total_cmp(&a.real));
    ImportanceAgreement {
        spearman: spearman(real, synthetic),
        features,
    }
}
