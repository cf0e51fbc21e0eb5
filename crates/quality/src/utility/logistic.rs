//! The linear baselines: L2-regularised logistic regression for classes, ridge regression
//! for numbers.
//!
//! Features become a sparse design row (`DesignEncoder`, fitted on the training rows): an
//! intercept; every numeric feature standardised by the training mean and standard deviation,
//! missing values set to the mean (0) with a 0/1 missing indicator when training had any; every
//! categorical feature one-hot over its [`MAX_ONE_HOT`] most frequent categories, the rest and
//! unseen ones pooled into one "other" column. Every row has the same number of entries.
//!
//! Logistic regression minimises log-loss + λ/2·‖w‖² (intercept free) by Newton's method with
//! step halving; several classes are fitted one-vs-rest and the probabilities normalised.
//! Ridge regression solves the normal equations (XᵀX + λI)·w = Xᵀy.

use super::features::{FeatureKind, FeatureMatrix};
use super::linalg::solve_positive_definite;
use super::prediction::{Prediction, sigmoid};

/// Categories per column that get a one-hot column of their own.
pub(crate) const MAX_ONE_HOT: usize = 50;

/// Newton iterations at most.
const MAX_NEWTON_STEPS: usize = 50;

/// Settings of the linear models.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinearConfig {
    /// L2 penalty λ on every weight but the intercept.
    pub l2: f64,
}

impl Default for LinearConfig {
    fn default() -> Self {
        Self { l2: 1.0 }
    }
}

/// How one feature fills its entries of a design row.
#[derive(Debug, Clone)]
enum Transform {
    Numeric {
        mean: f64,
        scale: f64,
        column: u32,
        missing_column: Option<u32>,
    },
    Categorical {
        first_column: u32,
        /// Codes below this have a column each.
        kept: usize,
        other_column: Option<u32>,
    },
}

/// Feature rows → sparse design rows.
#[derive(Debug, Clone)]
struct DesignEncoder {
    transforms: Vec<Transform>,
    columns: usize,
    per_row: usize,
}

/// Design rows with a fixed number of entries each: `(indices, values)[row * per_row ..]`.
struct Design {
    indices: Vec<u32>,
    values: Vec<f64>,
    per_row: usize,
    rows: usize,
}

impl Design {
    fn row(&self, row: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let range = row * self.per_row..(row + 1) * self.per_row;
        self.indices[range.clone()]
            .iter()
            .zip(&self.values[range])
            .map(|(&i, &v)| (i as usize, v))
    }

    fn dot(&self, row: usize, weights: &[f64]) -> f64 {
        self.row(row).map(|(i, v)| weights[i] * v).sum()
    }
}

impl DesignEncoder {
    fn fit(features: &FeatureMatrix) -> DesignEncoder {
        let mut columns = 1; // the intercept
        let mut per_row = 1;
        let mut next = |count: usize| {
            let first = columns as u32;
            columns += count;
            first
        };
        let mut transforms = Vec::new();
        for feature in &features.columns {
            match feature.kind {
                FeatureKind::Numeric => {
                    let present: Vec<f64> = feature
                        .values
                        .iter()
                        .copied()
                        .filter(|v| !v.is_nan())
                        .collect();
                    let count = present.len().max(1) as f64;
                    let mean = present.iter().sum::<f64>() / count;
                    let variance = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
                    let scale = if variance > 0.0 { variance.sqrt() } else { 1.0 };
                    let column = next(1);
                    let missing_column = (present.len() < feature.values.len()).then(|| next(1));
                    per_row += 1 + usize::from(missing_column.is_some());
                    transforms.push(Transform::Numeric {
                        mean: if mean.is_finite() { mean } else { 0.0 },
                        scale,
                        column,
                        missing_column,
                    });
                }
                FeatureKind::Categorical { categories } => {
                    let kept = categories.min(MAX_ONE_HOT);
                    let first_column = next(kept);
                    let other_column = (categories > kept).then(|| next(1));
                    per_row += 1;
                    transforms.push(Transform::Categorical {
                        first_column,
                        kept,
                        other_column,
                    });
                }
            }
        }
        DesignEncoder {
            transforms,
            columns,
            per_row,
        }
    }

    fn encode(&self, features: &FeatureMatrix) -> Design {
        let capacity = features.rows * self.per_row;
        let mut indices = Vec::with_capacity(capacity);
        let mut values = Vec::with_capacity(capacity);
        for row in 0..features.rows {
            indices.push(0);
            values.push(1.0);
            for (transform, feature) in self.transforms.iter().zip(&features.columns) {
                let x = feature.values[row];
                match *transform {
                    Transform::Numeric {
                        mean,
                        scale,
                        column,
                        missing_column,
                    } => {
                        indices.push(column);
                        values.push(if x.is_nan() { 0.0 } else { (x - mean) / scale });
                        if let Some(missing) = missing_column {
                            indices.push(missing);
                            values.push(if x.is_nan() { 1.0 } else { 0.0 });
                        }
                    }
                    Transform::Categorical {
                        first_column,
                        kept,
                        other_column,
                    } => {
                        let code = x as usize;
                        let (index, value) = if code < kept {
                            (first_column + code as u32, 1.0)
                        } else {
                            // Pooled, or (no pool) an entry that adds nothing.
                            other_column.map_or((0, 0.0), |other| (other, 1.0))
                        };
                        indices.push(index);
                        values.push(value);
                    }
                }
            }
        }
        Design {
            indices,
            values,
            per_row: self.per_row,
            rows: features.rows,
        }
    }
}

/// A fitted linear model.
#[derive(Debug, Clone)]
pub(crate) struct LinearModel {
    encoder: DesignEncoder,
    /// One weight vector per output: one for two classes or numbers, one per class else.
    weights: Vec<Vec<f64>>,
    /// `Some(classes)` for a classifier.
    classes: Option<usize>,
}

impl LinearModel {
    /// Logistic regression of class `labels` (`0..classes`, as numbers).
    pub fn fit_logistic(
        features: &FeatureMatrix,
        labels: &[f64],
        classes: usize,
        config: &LinearConfig,
    ) -> LinearModel {
        let encoder = DesignEncoder::fit(features);
        let design = encoder.encode(features);
        let weights = if classes <= 2 {
            let positive: Vec<f64> = labels.iter().map(|&y| f64::from(y == 1.0)).collect();
            vec![fit_binary(&design, encoder.columns, &positive, config.l2)]
        } else {
            (0..classes)
                .map(|class| {
                    let positive: Vec<f64> = labels
                        .iter()
                        .map(|&y| f64::from(y as usize == class))
                        .collect();
                    fit_binary(&design, encoder.columns, &positive, config.l2)
                })
                .collect()
        };
        LinearModel {
            encoder,
            weights,
            classes: Some(classes),
        }
    }

    /// Ridge regression of `targets`.
    pub fn fit_ridge(
        features: &FeatureMatrix,
        targets: &[f64],
        config: &LinearConfig,
    ) -> LinearModel {
        let encoder = DesignEncoder::fit(features);
        let design = encoder.encode(features);
        let p = encoder.columns;
        let mut gram = vec![0.0; p * p];
        let mut moment = vec![0.0; p];
        for (row, &y) in targets.iter().enumerate() {
            accumulate_outer(&mut gram, p, &design, row, 1.0);
            for (i, v) in design.row(row) {
                moment[i] += v * y;
            }
        }
        add_ridge(&mut gram, p, config.l2);
        let mean = targets.iter().sum::<f64>() / targets.len().max(1) as f64;
        let weights = solve_positive_definite(&gram, &moment).unwrap_or_else(|| {
            let mut constant = vec![0.0; p];
            constant[0] = mean;
            constant
        });
        LinearModel {
            encoder,
            weights: vec![weights],
            classes: None,
        }
    }

    /// Class probabilities or numbers for every row of `features`.
    pub fn predict(&self, features: &FeatureMatrix) -> Prediction {
        let design = self.encoder.encode(features);
        let Some(classes) = self.classes else {
            let weights = &self.weights[0];
            return Prediction::Values((0..design.rows).map(|r| design.dot(r, weights)).collect());
        };
        let mut values = Vec::with_capacity(design.rows * classes.max(2));
        for row in 0..design.rows {
            if self.weights.len() == 1 {
                let p = sigmoid(design.dot(row, &self.weights[0]));
                values.extend([1.0 - p, p]);
                continue;
            }
            let start = values.len();
            values.extend(self.weights.iter().map(|w| sigmoid(design.dot(row, w))));
            let sum: f64 = values[start..].iter().sum();
            for p in &mut values[start..] {
                *p = if sum > 0.0 {
                    *p / sum
                } else {
                    1.0 / classes as f64
                };
            }
        }
        Prediction::Probabilities {
            classes: classes.max(2),
            values,
        }
    }
}

/// Adds `weight · x xᵀ` of one design row to `gram`.
fn accumulate_outer(gram: &mut [f64], p: usize, design: &Design, row: usize, weight: f64) {
    for (i, vi) in design.row(row) {
        let scaled = weight * vi;
        for (j, vj) in design.row(row) {
            gram[i * p + j] += scaled * vj;
        }
    }
}

/// λ on the diagonal of every column but the intercept.
fn add_ridge(gram: &mut [f64], p: usize, l2: f64) {
    for i in 1..p {
        gram[i * p + i] += l2;
    }
}

/// log(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Penalised log-loss of `weights`.
fn penalised_loss(design: &Design, positive: &[f64], weights: &[f64], l2: f64) -> f64 {
    let loss: f64 = (0..design.rows)
        .map(|row| {
            let z = design.dot(row, weights);
            softplus(z) - positive[row] * z
        })
        .sum();
    loss + 0.5 * l2 * weights[1..].iter().map(|w| w * w).sum::<f64>()
}

/// Binary logistic regression by Newton's method with step halving.
fn fit_binary(design: &Design, p: usize, positive: &[f64], l2: f64) -> Vec<f64> {
    let n = positive.len() as f64;
    let positives: f64 = positive.iter().sum();
    let mut weights = vec![0.0; p];
    weights[0] = ((positives + 0.5) / (n - positives + 0.5)).ln();
    if positives == 0.0 || positives == n {
        // One class: the best model is a constant, which Newton would chase to infinity.
        return weights;
    }
    let mut loss = penalised_loss(design, positive, &weights, l2);
    for _step in 0..MAX_NEWTON_STEPS {
        let mut gradient = vec![0.0; p];
        let mut hessian = vec![0.0; p * p];
        for (row, &y) in positive.iter().enumerate() {
            let probability = sigmoid(design.dot(row, &weights));
            for (i, v) in design.row(row) {
                gradient[i] += (probability - y) * v;
            }
            accumulate_outer(
                &mut hessian,
                p,
                design,
                row,
                probability * (1.0 - probability),
            );
        }
        for i in 1..p {
            gradient[i] += l2 * weights[i];
        }
        add_ridge(&mut hessian, p, l2);
        let Some(direction) = solve_positive_definite(&hessian, &gradient) else {
            break;
        };
        let decrease: f64 = gradient.iter().zip(&direction).map(|(g, d)| g * d).sum();
        let mut step = 1.0;
        let mut accepted = None;
        for _halving in 0..30 {
            let candidate: Vec<f64> = weights
                .iter()
                .zip(&direction)
                .map(|(w, d)| w - step * d)
                .collect();
            let candidate_loss = penalised_loss(design, positive, &candidate, l2);
            if candidate_loss <= loss - 1e-4 * step * decrease {
                accepted = Some((candidate, candidate_loss));
                break;
            }
            step /= 2.0;
        }
        let Some((candidate, candidate_loss)) = accepted else {
            break;
        };
        let moved = direction
            .iter()
            .map(|d| (step * d).abs())
            .fold(0.0, f64::max);
        let improvement = loss - candidate_loss;
        weights = candidate;
        loss = candidate_loss;
        if moved < 1e-8 || improvement < 1e-10 * loss.abs().max(1.0) {
            break;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::utility::features::FeatureColumn;
    use crate::utility::metrics::accuracy;

    fn matrix(columns: Vec<(FeatureKind, Vec<f64>)>) -> FeatureMatrix {
        let rows = columns[0].1.len();
        let columns = columns
            .into_iter()
            .enumerate()
            .map(|(i, (kind, values))| FeatureColumn {
                name: format!("f{i}"),
                kind,
                values,
            })
            .collect();
        FeatureMatrix { columns, rows }
    }

    fn probabilities(prediction: &Prediction) -> &[f64] {
        match prediction {
            Prediction::Probabilities { values, .. } => values,
            Prediction::Values(_) => panic!("probabilities expected"),
        }
    }

    #[test]
    fn unpenalised_logistic_recovers_group_rates() {
        // x = 0: one positive in four; x = 1: three in four. The maximum-likelihood model
        // with a free intercept and slope reproduces the two rates exactly.
        let x = vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let y = vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let features = matrix(vec![(FeatureKind::Numeric, x)]);
        let config = LinearConfig { l2: 1e-9 };
        let model = LinearModel::fit_logistic(&features, &y, 2, &config);
        let p = probabilities(&model.predict(&features)).to_vec();
        assert!((p[1] - 0.25).abs() < 1e-6, "{p:?}");
        assert!((p[9] - 0.75).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn separable_classes_are_classified_perfectly() {
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|&v| f64::from(v >= 20.0)).collect();
        let features = matrix(vec![(FeatureKind::Numeric, x)]);
        let model = LinearModel::fit_logistic(&features, &y, 2, &LinearConfig::default());
        let truth: Vec<usize> = y.iter().map(|&v| v as usize).collect();
        assert_eq!(accuracy(&truth, &model.predict(&features).classes()), 1.0);
    }

    #[test]
    fn one_vs_rest_reads_categories_and_pools_rare_ones() {
        // 60 categories, class = code mod 3; codes past the one-hot cap share the "other"
        // column, so only the first 50 codes are learnable exactly.
        let codes: Vec<f64> = (0..600).map(|r| f64::from(r % 60)).collect();
        let y: Vec<f64> = codes.iter().map(|&c| f64::from(c as u32 % 3)).collect();
        let features = matrix(vec![(
            FeatureKind::Categorical { categories: 60 },
            codes.clone(),
        )]);
        let model = LinearModel::fit_logistic(&features, &y, 3, &LinearConfig::default());
        let prediction = model.predict(&features);
        let p = probabilities(&prediction);
        assert!(
            p.chunks_exact(3)
                .all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-9)
        );
        let predicted = prediction.classes();
        let kept_rows: Vec<usize> = (0..600).filter(|&r| codes[r] < 50.0).collect();
        assert!(kept_rows.iter().all(|&r| predicted[r] == y[r] as usize));
    }

    #[test]
    fn ridge_recovers_a_line_and_imputes_missing_values() {
        // y = 2x + 1 with a few x missing (y = 5 there): the missing indicator absorbs them.
        let x: Vec<f64> = (0..50)
            .map(|i| if i % 10 == 0 { f64::NAN } else { f64::from(i) })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| if v.is_nan() { 5.0 } else { 2.0 * v + 1.0 })
            .collect();
        let features = matrix(vec![(FeatureKind::Numeric, x)]);
        let model = LinearModel::fit_ridge(&features, &y, &LinearConfig { l2: 1e-9 });
        let Prediction::Values(predicted) = model.predict(&features) else {
            panic!("numbers expected");
        };
        for (p, t) in predicted.iter().zip(&y) {
            assert!((p - t).abs() < 1e-6, "{p} vs {t}");
        }
    }
}
