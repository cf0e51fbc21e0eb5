//! Gradient-boosted trees, histogram-based and second order (as XGBoost's `hist` and
//! LightGBM build them), small enough to read in one sitting.
//!
//! [`GradientBoosting::fit`]:
//! 1. bins every feature (`binning`): quantile cuts, missing values in bin 0; categories
//!    ranked by smoothed mean target (by frequency for several classes) and then treated as
//!    ordered, so a split sends a contiguous run of that order left — an approximation to
//!    true categorical splits that is exact for one split on two classes or squared error;
//! 2. starts every row at the base score (log-odds of the class rate, log priors, or the
//!    mean);
//! 3. each round computes per-row gradients and hessians of the loss — binary log-loss,
//!    softmax cross-entropy (one tree per class per round) or squared error — and grows a
//!    tree on them (`tree`, `histogram`): depth limit, at least `min_leaf` rows per leaf,
//!    gain `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`, leaf value `−η·G/(H+λ)`;
//! 4. adds each split's gain to its feature's importance (total gain).
//!
//! Nothing is random, so a fit is a pure function of its input; threads split histogram
//! building by feature and never change a sum's order.

mod binning;
mod histogram;
mod tree;

use binning::{BinnedMatrix, FeatureBins};
use histogram::SplitRules;
use tree::{GrowSettings, Tree, TreeGrower};

use super::features::FeatureMatrix;
use super::options::GbdtConfig;
use super::prediction::{Prediction, sigmoid, softmax_in_place};

/// Smallest hessian sum a child may have (keeps leaf values finite when the model is sure).
const MIN_CHILD_HESSIAN: f64 = 1e-3;

/// The loss the trees descend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Objective {
    /// Two classes, labels 0 and 1: log-loss of the sigmoid of the score.
    Binary,
    /// `classes` classes, labels `0..classes`: cross-entropy of the softmax of the scores.
    Softmax {
        /// Classes.
        classes: usize,
    },
    /// Numbers: half the squared error.
    SquaredError,
}

impl Objective {
    /// Scores per row.
    fn outputs(self) -> usize {
        match self {
            Objective::Softmax { classes } => classes,
            _ => 1,
        }
    }
}

/// A fitted ensemble of trees.
#[derive(Debug, Clone)]
pub(crate) struct GradientBoosting {
    objective: Objective,
    bins: Vec<FeatureBins>,
    base_scores: Vec<f64>,
    /// Round by round, one tree per output.
    trees: Vec<Tree>,
    importance: Vec<f64>,
}

impl GradientBoosting {
    /// Fits on `features` and `labels` (class indices as numbers, or targets). `labels`
    /// has one finite value per row, and there is at least one row. Histograms are built on
    /// up to `threads` threads; the model does not depend on how many.
    pub fn fit(
        features: &FeatureMatrix,
        labels: &[f64],
        objective: Objective,
        config: &GbdtConfig,
        threads: usize,
    ) -> GradientBoosting {
        debug_assert_eq!(features.rows, labels.len());
        let order_target = match objective {
            Objective::Softmax { .. } => None,
            _ => Some(labels),
        };
        let bins: Vec<FeatureBins> = features
            .columns
            .iter()
            .map(|c| FeatureBins::fit(&c.values, c.kind, order_target, config.bins))
            .collect();
        let binned = BinnedMatrix::new(features, &bins);
        let n = features.rows;
        let outputs = objective.outputs();
        let base_scores = base_scores(objective, labels);
        let mut scores: Vec<f64> = (0..n).flat_map(|_| base_scores.iter().copied()).collect();
        let settings = GrowSettings {
            rules: SplitRules {
                min_leaf: u32::try_from(config.min_leaf).unwrap_or(u32::MAX),
                min_hessian: MIN_CHILD_HESSIAN,
                l2: config.l2,
            },
            max_depth: config.max_depth,
            learning_rate: config.learning_rate,
            threads,
        };
        let mut grower = TreeGrower::new(&binned, n, settings);
        let mut importance = vec![0.0; features.columns.len()];
        let mut trees = Vec::with_capacity(config.trees * outputs);
        let mut gradients = vec![vec![0.0; n]; outputs];
        let mut hessians = vec![vec![0.0; n]; outputs];
        for _round in 0..config.trees {
            derivatives(objective, &scores, labels, &mut gradients, &mut hessians);
            for output in 0..outputs {
                let (tree, leaves) =
                    grower.grow(&gradients[output], &hessians[output], &mut importance);
                for leaf in leaves {
                    for &row in &grower.rows()[leaf.rows] {
                        scores[row as usize * outputs + output] += leaf.value;
                    }
                }
                trees.push(tree);
            }
        }
        GradientBoosting {
            objective,
            bins,
            base_scores,
            trees,
            importance,
        }
    }

    /// Class probabilities or numbers for every row of `features` (encoded like the
    /// training features).
    pub fn predict(&self, features: &FeatureMatrix) -> Prediction {
        let binned = BinnedMatrix::new(features, &self.bins);
        let outputs = self.base_scores.len();
        let mut scores = Vec::with_capacity(features.rows * outputs);
        for row in 0..features.rows {
            scores.extend_from_slice(&self.base_scores);
            let row_scores = &mut scores[row * outputs..];
            for (index, tree) in self.trees.iter().enumerate() {
                row_scores[index % outputs] += tree.predict_row(&binned, row);
            }
        }
        match self.objective {
            Objective::Binary => Prediction::Probabilities {
                classes: 2,
                values: scores
                    .iter()
                    .flat_map(|&s| {
                        let p = sigmoid(s);
                        [1.0 - p, p]
                    })
                    .collect(),
            },
            Objective::Softmax { classes } => {
                for row in scores.chunks_exact_mut(classes) {
                    softmax_in_place(row);
                }
                Prediction::Probabilities {
                    classes,
                    values: scores,
                }
            }
            Objective::SquaredError => Prediction::Values(scores),
        }
    }

    /// Total gain of every feature's splits, in feature order.
    pub fn importance(&self) -> &[f64] {
        &self.importance
    }
}

/// The constant score every row starts from.
fn base_scores(objective: Objective, labels: &[f64]) -> Vec<f64> {
    let n = labels.len() as f64;
    match objective {
        Objective::Binary => {
            // Half a row of each class keeps the log-odds finite for one-class training sets.
            let positives = labels.iter().filter(|&&y| y == 1.0).count() as f64;
            vec![((positives + 0.5) / (n - positives + 0.5)).ln()]
        }
        Objective::Softmax { classes } => {
            let mut counts = vec![0.5_f64; classes];
            for &y in labels {
                if let Some(count) = counts.get_mut(y as usize) {
                    *count += 1.0;
                }
            }
            counts.iter().map(|c| c.ln()).collect()
        }
        Objective::SquaredError => vec![labels.iter().sum::<f64>() / n.max(1.0)],
    }
}

/// Per-row gradients and hessians of the loss at the current scores, per output.
fn derivatives(
    objective: Objective,
    scores: &[f64],
    labels: &[f64],
    gradients: &mut [Vec<f64>],
    hessians: &mut [Vec<f64>],
) {
    match objective {
        Objective::Binary => {
            for (row, (&s, &y)) in scores.iter().zip(labels).enumerate() {
                let p = sigmoid(s);
                gradients[0][row] = p - y;
                hessians[0][row] = (p * (1.0 - p)).max(1e-16);
            }
        }
        Objective::Softmax { classes } => {
            let mut probabilities = vec![0.0; classes];
            for (row, (row_scores, &y)) in scores.chunks_exact(classes).zip(labels).enumerate() {
                probabilities.copy_from_slice(row_scores);
                softmax_in_place(&mut probabilities);
                for (class, &p) in probabilities.iter().enumerate() {
                    let truth = if y as usize == class { 1.0 } else { 0.0 };
                    gradients[class][row] = p - truth;
                    hessians[class][row] = (p * (1.0 - p)).max(1e-16);
                }
            }
        }
        Objective::SquaredError => {
            for (row, (&s, &y)) in scores.iter().zip(labels).enumerate() {
                gradients[0][row] = s - y;
                hessians[0][row] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests;
