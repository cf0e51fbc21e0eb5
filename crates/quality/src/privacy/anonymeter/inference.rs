//! Attribute inference: can the attacker, knowing every other column of a target row,
//! guess its secret column?
//!
//! The guess is the secret of the nearest synthetic row on the known columns (ties broken
//! by a random order of the synthetic rows). It is right when it equals the true value —
//! for a number, when it lies within [`INFERENCE_TOLERANCE`] of the training range of it;
//! null matches null only. The baseline guesses the secret of a random synthetic row.

use rand::Rng;
use rand::seq::SliceRandom;

use super::{AttackData, random_rows};
use crate::privacy::error::PrivacyError;
use crate::privacy::neighbours::nearest_neighbours;
use crate::privacy::risk::RiskEstimate;
use crate::privacy::rows::{RowMatrix, cell_distance};

/// How far, as a share of the training range, a numeric guess may be from the truth.
/// Labels must match exactly (their cell distance is 0 or 1).
pub const INFERENCE_TOLERANCE: f64 = 0.05;

/// Runs the attribute-inference attack on matrix column `secret`.
pub(crate) fn attribute_inference(
    data: &AttackData<'_>,
    secret: usize,
) -> Result<RiskEstimate, PrivacyError> {
    let mut generator = data.generator(3);
    let known: Vec<usize> = (0..data.synthetic.columns())
        .filter(|&c| c != secret)
        .collect();
    let synthetic_rows = data.synthetic.rows();
    if known.is_empty() || synthetic_rows == 0 {
        return Ok(RiskEstimate::from_counts(0, 0, 0, 0));
    }
    let targets = data.targets();
    let mut order: Vec<usize> = (0..synthetic_rows).collect();
    order.shuffle(&mut generator);
    let references = data.synthetic.select_rows(&order).select_columns(&known);
    let secrets: Vec<f64> = order
        .iter()
        .map(|&r| data.synthetic.row(r)[secret])
        .collect();
    let right = |guess: f64, truth: f64| cell_distance(guess, truth) <= INFERENCE_TOLERANCE;

    let attack = |table: &RowMatrix, rows: &[usize]| -> Result<usize, PrivacyError> {
        let targets = table.select_rows(rows);
        let found = nearest_neighbours(&targets.select_columns(&known), &references, 1)?;
        Ok(found
            .nearest_indices()
            .iter()
            .enumerate()
            .filter(|&(t, &i)| right(secrets[i], targets.row(t)[secret]))
            .count())
    };
    let train_rows = random_rows(data.train.rows(), targets, &mut generator);
    let control_rows = random_rows(data.control.rows(), targets, &mut generator);
    let successes = attack(data.train, &train_rows)?;
    let control = attack(data.control, &control_rows)?;
    let baseline = train_rows
        .iter()
        .filter(|&&r| {
            let guess = secrets[generator.random_range(0..synthetic_rows)];
            right(guess, data.train.row(r)[secret])
        })
        .count();
    Ok(RiskEstimate::from_counts(
        targets, successes, baseline, control,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_data::Fixture;
    use super::*;
    use crate::privacy::rows::NULL_NUMBER;

    #[test]
    fn label_inference_by_hand() {
        // Known: a number; secret: a label. Synthetic rows (0, x), (0.5, y), (1, x).
        let synthetic: [&[f64]; 3] = [&[0.0, 1.0], &[0.5, 2.0], &[1.0, 1.0]];
        // Training: 0.1 → x right; 0.45 → y right; 0.9 → x wrong; 0.3 → y (0.2 < 0.3) wrong.
        let train: [&[f64]; 4] = [&[0.1, 1.0], &[0.45, 2.0], &[0.9, 2.0], &[0.3, 1.0]];
        // Control: 0.6 → y right; 0.05 → x wrong; 0.8 → x right; 0.2 → x wrong.
        let control: [&[f64]; 4] = [&[0.6, 2.0], &[0.05, 2.0], &[0.8, 1.0], &[0.2, 2.0]];
        let fixture = Fixture::new(&train, &control, &synthetic, &[true, false]);
        let risk = attribute_inference(&fixture.data(10), 1).expect("attack");
        assert_eq!((risk.attacks, risk.successes), (4, 2));
        assert_eq!(risk.control_rate, 0.5);
    }

    #[test]
    fn numeric_guesses_within_five_percent_of_the_range() {
        // Secret: a number scaled to the training range; the only synthetic row says 0.5.
        let synthetic: [&[f64]; 1] = [&[1.0, 0.5]];
        let train: [&[f64]; 4] = [
            &[1.0, 0.54],
            &[1.0, 0.46],
            &[1.0, 0.56],
            &[1.0, NULL_NUMBER],
        ];
        let fixture = Fixture::new(&train, &train, &synthetic, &[false, true]);
        let risk = attribute_inference(&fixture.data(10), 1).expect("attack");
        assert_eq!(risk.successes, 2);
    }
}
