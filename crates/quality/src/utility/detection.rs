//! [`detection`]: can a classifier tell synthetic rows from real ones?

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use mirage_core::{ColumnKind, Table};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::error::{TableRole, UtilityError};
use super::features::{FeatureEncoder, FeatureSpec, RawTable};
use super::gbdt::{GradientBoosting, Objective};
use super::metrics::roc_auc;
use super::options::DetectionOptions;
use super::prediction::{Prediction, available_threads};
use super::report::DetectionReport;
use crate::error::Result;
use crate::sample::subsample_rows;

/// Cross-validated ROC-AUC of gradient-boosted trees trained to separate real rows (label 0)
/// from synthetic rows (label 1).
///
/// Each side is subsampled to at most `options.max_rows` rows; the rows are split into
/// `options.folds` stratified folds (each fold holds its share of both sides), and for every
/// fold a model trained on the other folds scores it. The features are the real schema's
/// columns, identifiers and free text aside, that the synthetic table also has; category
/// codes come from both sides together (so a category only one side has is visible to the
/// model, as it should be). An AUC of 0.5 means the rows cannot be told apart.
///
/// # Errors
///
/// [`UtilityError`] (as [`QualityError::Utility`](crate::QualityError::Utility)) for an empty
/// side, fewer rows than folds, no shared feature column, or invalid options.
pub fn detection(
    real: &Table,
    synthetic: &Table,
    options: &DetectionOptions,
) -> Result<DetectionReport> {
    options.validate()?;
    for (table, role) in [(real, TableRole::Real), (synthetic, TableRole::Synthetic)] {
        let rows = table.num_rows();
        if rows == 0 {
            return Err(UtilityError::EmptyTable {
                table: role,
                detail: String::new(),
            }
            .into());
        }
        if rows < options.folds {
            return Err(UtilityError::TooFewRows {
                table: role,
                rows,
                folds: options.folds,
            }
            .into());
        }
    }
    let specs: Vec<FeatureSpec> = real
        .schema()
        .columns
        .iter()
        .filter(|c| !matches!(c.kind, ColumnKind::Identifier | ColumnKind::Text))
        .filter(|c| synthetic.schema().column(&c.name).is_some())
        .map(|c| FeatureSpec {
            name: c.name.clone(),
            kind: c.kind.clone(),
        })
        .collect();
    if specs.is_empty() {
        return Err(UtilityError::NoFeatures {
            table: TableRole::Synthetic,
        }
        .into());
    }

    let mut generator = ChaCha8Rng::seed_from_u64(options.seed);
    let mut read = |table: &Table, role| -> Result<RawTable> {
        let raw = RawTable::read(table, &specs, role)?;
        Ok(
            match subsample_rows(raw.rows, options.max_rows, &mut generator) {
                Some(rows) => raw.select(&rows),
                None => raw,
            },
        )
    };
    let real_raw = read(real, TableRole::Real)?;
    let synthetic_raw = read(synthetic, TableRole::Synthetic)?;
    let encoder = FeatureEncoder::fit(&specs, &[&real_raw, &synthetic_raw]);
    let features = encoder
        .encode(&real_raw)
        .stack(&encoder.encode(&synthetic_raw));
    let labels: Vec<f64> = (0..features.rows)
        .map(|r| if r < real_raw.rows { 0.0 } else { 1.0 })
        .collect();

    let folds = stratified_folds(
        real_raw.rows,
        synthetic_raw.rows,
        options.folds,
        &mut generator,
    );
    let fold_auc = |fold: usize, threads: usize| -> Option<f64> {
        let (train_rows, test_rows): (Vec<usize>, Vec<usize>) =
            (0..features.rows).partition(|&r| folds[r] != fold);
        let train = features.select(&train_rows);
        let train_labels: Vec<f64> = train_rows.iter().map(|&r| labels[r]).collect();
        let model = GradientBoosting::fit(
            &train,
            &train_labels,
            Objective::Binary,
            &options.gbdt,
            threads,
        );
        let Prediction::Probabilities { values, .. } = model.predict(&features.select(&test_rows))
        else {
            return None;
        };
        let scores: Vec<f64> = values.chunks_exact(2).map(|p| p[1]).collect();
        let positive: Vec<bool> = test_rows.iter().map(|&r| labels[r] == 1.0).collect();
        // Every fold holds rows of both sides (each side has at least `folds` rows).
        roc_auc(&positive, &scores)
    };
    // Whole folds per thread: coarser, so cheaper, than splitting each fit's histograms.
    let threads = available_threads();
    let workers = threads.min(options.folds);
    let threads_per_fold = (threads / workers).max(1);
    let next_fold = AtomicUsize::new(0);
    let mut results: Vec<(usize, Option<f64>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let fold = next_fold.fetch_add(1, AtomicOrdering::Relaxed);
                        if fold >= options.folds {
                            return done;
                        }
                        done.push((fold, fold_auc(fold, threads_per_fold)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|&(fold, _)| fold);
    let fold_aucs: Vec<f64> = results.into_iter().filter_map(|(_, auc)| auc).collect();
    let auc = fold_aucs.iter().sum::<f64>() / fold_aucs.len().max(1) as f64;
    Ok(DetectionReport {
        auc,
        fold_aucs,
        score: (1.0 - 2.0 * (auc - 0.5).abs()).clamp(0.0, 1.0),
        real_rows: real_raw.rows,
        synthetic_rows: synthetic_raw.rows,
        features: specs.into_iter().map(|s| s.name).collect(),
    })
}

/// The fold of every row (real rows first, then synthetic): each side shuffled and dealt
/// round-robin, so every fold holds ⌊n/k⌋ or ⌈n/k⌉ rows of each side.
fn stratified_folds(
    real: usize,
    synthetic: usize,
    folds: usize,
    generator: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut assignment = vec![0; real + synthetic];
    for (offset, count) in [(0, real), (real, synthetic)] {
        let mut rows: Vec<usize> = (offset..offset + count).collect();
        rows.shuffle(generator);
        for (position, row) in rows.into_iter().enumerate() {
            assignment[row] = position % folds;
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_seeded() {
        let mut generator = ChaCha8Rng::seed_from_u64(3);
        let folds = stratified_folds(10, 7, 3, &mut generator);
        for fold in 0..3 {
            let real = folds[..10].iter().filter(|&&f| f == fold).count();
            let synthetic = folds[10..].iter().filter(|&&f| f == fold).count();
            assert!((3..=4).contains(&real), "{real}");
            assert!((2..=3).contains(&synthetic), "{synthetic}");
        }
        let mut again = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(folds, stratified_folds(10, 7, 3, &mut again));
    }
}
