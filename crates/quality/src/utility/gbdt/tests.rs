//! Behaviour of the boosted trees on data whose answer is known.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::utility::features::{FeatureColumn, FeatureKind};
use crate::utility::metrics::{accuracy, r_squared};

fn numeric(name: &str, values: Vec<f64>) -> FeatureColumn {
    FeatureColumn {
        name: name.into(),
        kind: FeatureKind::Numeric,
        values,
    }
}

fn matrix(columns: Vec<FeatureColumn>) -> FeatureMatrix {
    let rows = columns[0].values.len();
    FeatureMatrix { columns, rows }
}

/// `x` uniform on [0, 10] and two noise features; labels from `label(x)`.
fn dataset(
    rows: usize,
    seed: u64,
    label: impl Fn(f64, &mut ChaCha8Rng) -> f64,
) -> (FeatureMatrix, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..rows).map(|_| rng.random_range(0.0..10.0)).collect();
    let noise_a: Vec<f64> = (0..rows).map(|_| rng.random_range(0.0..1.0)).collect();
    let noise_b: Vec<f64> = (0..rows).map(|_| rng.random_range(-5.0..5.0)).collect();
    let y = x.iter().map(|&v| label(v, &mut rng)).collect();
    (
        matrix(vec![
            numeric("noise_a", noise_a),
            numeric("x", x),
            numeric("noise_b", noise_b),
        ]),
        y,
    )
}

fn as_classes(labels: &[f64]) -> Vec<usize> {
    labels.iter().map(|&y| y as usize).collect()
}

#[test]
fn learns_a_threshold_rule() {
    let rule = |x: f64, _: &mut ChaCha8Rng| if x > 5.0 { 1.0 } else { 0.0 };
    let (train, train_y) = dataset(2_000, 1, rule);
    let (test, test_y) = dataset(1_000, 2, rule);
    let model = GradientBoosting::fit(
        &train,
        &train_y,
        Objective::Binary,
        &GbdtConfig::default(),
        2,
    );
    let predicted = model.predict(&test).classes();
    let hits = accuracy(&as_classes(&test_y), &predicted);
    assert!(hits > 0.99, "accuracy {hits}");
}

#[test]
fn regression_fits_a_line_with_noise() {
    let line = |x: f64, rng: &mut ChaCha8Rng| 2.0 * x + rng.random_range(-1.0..1.0);
    let (train, train_y) = dataset(3_000, 3, line);
    let (test, test_y) = dataset(1_000, 4, line);
    let model = GradientBoosting::fit(
        &train,
        &train_y,
        Objective::SquaredError,
        &GbdtConfig::default(),
        2,
    );
    let Prediction::Values(predicted) = model.predict(&test) else {
        panic!("numbers expected");
    };
    // Noise variance 1/3 against 4·100/12 of signal: the best possible R² is 0.99.
    let r2 = r_squared(&test_y, &predicted).expect("r2");
    assert!(r2 > 0.95, "R² {r2}");
}

#[test]
fn importance_ranks_the_informative_feature_first() {
    let rule = |x: f64, rng: &mut ChaCha8Rng| {
        let flip = rng.random_bool(0.1);
        if (x > 3.0) != flip { 1.0 } else { 0.0 }
    };
    let (train, train_y) = dataset(2_000, 5, rule);
    let model = GradientBoosting::fit(
        &train,
        &train_y,
        Objective::Binary,
        &GbdtConfig::default(),
        2,
    );
    let importance = model.importance();
    assert!(
        importance[1] > 5.0 * importance[0].max(importance[2]),
        "{importance:?}"
    );
}

#[test]
fn fits_are_reproducible() {
    let rule = |x: f64, rng: &mut ChaCha8Rng| {
        if x + rng.random_range(-2.0..2.0) > 5.0 {
            1.0
        } else {
            0.0
        }
    };
    // Enough rows that the root histogram is built on several threads.
    let (train, train_y) = dataset(30_000, 6, rule);
    let (test, _) = dataset(500, 7, rule);
    let config = GbdtConfig::default();
    let first = GradientBoosting::fit(&train, &train_y, Objective::Binary, &config, 2);
    let second = GradientBoosting::fit(&train, &train_y, Objective::Binary, &config, 1);
    assert_eq!(first.predict(&test), second.predict(&test));
    assert_eq!(first.importance(), second.importance());
}

#[test]
fn softmax_separates_three_bands() {
    let bands = |x: f64, _: &mut ChaCha8Rng| (x / 3.4).floor();
    let (train, train_y) = dataset(3_000, 8, bands);
    let (test, test_y) = dataset(1_000, 9, bands);
    let objective = Objective::Softmax { classes: 3 };
    let model = GradientBoosting::fit(&train, &train_y, objective, &GbdtConfig::default(), 2);
    let prediction = model.predict(&test);
    let Prediction::Probabilities { classes, values } = &prediction else {
        panic!("probabilities expected");
    };
    assert_eq!(*classes, 3);
    assert!(
        values
            .chunks_exact(3)
            .all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-9)
    );
    let hits = accuracy(&as_classes(&test_y), &prediction.classes());
    assert!(hits > 0.97, "accuracy {hits}");
}

#[test]
fn categories_out_of_code_order_and_missing_values_are_learned() {
    // Category codes 0..6; classes 1 for the codes {1, 4, 5}, which no single threshold on
    // the codes separates; the mean-target ranking does. A missing x means class 1 too.
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let rows = 3_000;
    let codes: Vec<f64> = (0..rows).map(|_| rng.random_range(0..6) as f64).collect();
    let x: Vec<f64> = (0..rows)
        .map(|_| {
            if rng.random_bool(0.2) {
                f64::NAN
            } else {
                rng.random_range(0.0..1.0)
            }
        })
        .collect();
    let y: Vec<f64> = codes
        .iter()
        .zip(&x)
        .map(|(&c, &v)| {
            if [1.0, 4.0, 5.0].contains(&c) || v.is_nan() {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let category = FeatureColumn {
        name: "category".into(),
        kind: FeatureKind::Categorical { categories: 6 },
        values: codes,
    };
    let features = matrix(vec![category, numeric("x", x)]);
    let config = GbdtConfig {
        max_depth: 3,
        ..GbdtConfig::default()
    };
    let model = GradientBoosting::fit(&features, &y, Objective::Binary, &config, 2);
    let hits = accuracy(&as_classes(&y), &model.predict(&features).classes());
    assert!(hits > 0.999, "accuracy {hits}");

    // An unseen code (6) is missing: the model still answers with a probability.
    let unseen = matrix(vec![
        FeatureColumn {
            name: "category".into(),
            kind: FeatureKind::Categorical { categories: 6 },
            values: vec![6.0],
        },
        numeric("x", vec![0.5]),
    ]);
    let Prediction::Probabilities { values, .. } = model.predict(&unseen) else {
        panic!("probabilities expected");
    };
    assert!(values.iter().all(|p| p.is_finite()));
}
