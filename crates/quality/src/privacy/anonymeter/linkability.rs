//! Linkability: can the attacker tell that two records, each holding a different set of a
//! person's columns, belong together?
//!
//! The attacker holds the first column set of a target row (say, from one database) and the
//! second set of the same row (from another). For each half they find the
//! [`LINK_NEIGHBOURS`] nearest synthetic rows, comparing only that half's columns; the link
//! succeeds when the two neighbour lists share a synthetic row. The baseline draws the two
//! lists at random. Ties between synthetic rows are broken by a random order of the
//! synthetic rows, drawn independently for each half, so that ties cannot create links.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{AttackData, random_rows};
use crate::privacy::error::PrivacyError;
use crate::privacy::neighbours::nearest_neighbours;
use crate::privacy::risk::RiskEstimate;
use crate::privacy::rows::RowMatrix;

/// Synthetic neighbours per half (Anonymeter's `n_neighbors`).
pub const LINK_NEIGHBOURS: usize = 1;

/// Runs the linkability attack with the two (disjoint, non-empty) column sets.
pub(crate) fn linkability(
    data: &AttackData<'_>,
    first: &[usize],
    second: &[usize],
) -> Result<RiskEstimate, PrivacyError> {
    let mut generator = data.generator(2);
    let targets = data.targets();
    let k = LINK_NEIGHBOURS.min(data.synthetic.rows());
    if first.is_empty() || second.is_empty() || k == 0 {
        return Ok(RiskEstimate::from_counts(0, 0, 0, 0));
    }
    let halves = [
        ShuffledHalf::new(data.synthetic, first, &mut generator),
        ShuffledHalf::new(data.synthetic, second, &mut generator),
    ];
    let train_rows = random_rows(data.train.rows(), targets, &mut generator);
    let control_rows = random_rows(data.control.rows(), targets, &mut generator);
    let successes = linked(&halves, &data.train.select_rows(&train_rows), k)?;
    let control = linked(&halves, &data.control.select_rows(&control_rows), k)?;
    let baseline = (0..targets)
        .filter(|_| {
            let a = random_rows(data.synthetic.rows(), k, &mut generator);
            let b = random_rows(data.synthetic.rows(), k, &mut generator);
            a.iter().any(|i| b.contains(i))
        })
        .count();
    Ok(RiskEstimate::from_counts(
        targets, successes, baseline, control,
    ))
}

/// The synthetic rows restricted to one column set, in a random row order.
struct ShuffledHalf {
    columns: Vec<usize>,
    rows: RowMatrix,
    /// The synthetic row at each shuffled position.
    original: Vec<usize>,
}

impl ShuffledHalf {
    fn new(synthetic: &RowMatrix, columns: &[usize], generator: &mut ChaCha8Rng) -> Self {
        let mut original: Vec<usize> = (0..synthetic.rows()).collect();
        original.shuffle(generator);
        Self {
            columns: columns.to_vec(),
            rows: synthetic.select_rows(&original).select_columns(columns),
            original,
        }
    }

    /// The synthetic rows nearest to each target on this half, as original row numbers.
    fn neighbours(&self, targets: &RowMatrix, k: usize) -> Result<Vec<Vec<usize>>, PrivacyError> {
        let found = nearest_neighbours(&targets.select_columns(&self.columns), &self.rows, k)?;
        Ok((0..found.len())
            .map(|q| {
                found
                    .indices(q)
                    .iter()
                    .map(|&i| self.original[i as usize])
                    .collect()
            })
            .collect())
    }
}

/// How many targets have a synthetic row among the neighbours of both halves.
fn linked(
    halves: &[ShuffledHalf; 2],
    targets: &RowMatrix,
    k: usize,
) -> Result<usize, PrivacyError> {
    let first = halves[0].neighbours(targets, k)?;
    let second = halves[1].neighbours(targets, k)?;
    Ok(first
        .iter()
        .zip(&second)
        .filter(|(a, b)| a.iter().any(|i| b.contains(i)))
        .count())
}

#[cfg(test)]
mod tests {
    use super::super::test_data::Fixture;
    use super::*;

    #[test]
    fn linkability_by_hand() {
        // Two numbers; the attacker links the first column to the second. The synthetic
        // rows copy the training rows, so each training half finds its own row: 4 of 4.
        // Each control row's nearest synthetic row on column 0 (0.05 → rows 0 or 1,
        // 0.15 → 1 or 2, 0.25 → 2 or 3, 0.35 → 3) differs from its nearest on column 1
        // (0.9 → 2, 0.2 → 3, 0.0 → 0, 0.5 → 1): 0 of 4.
        let train: [&[f64]; 4] = [&[0.0, 0.0], &[0.1, 0.5], &[0.2, 0.9], &[0.3, 0.2]];
        let control: [&[f64]; 4] = [&[0.05, 0.9], &[0.15, 0.2], &[0.25, 0.0], &[0.35, 0.5]];
        let fixture = Fixture::new(&train, &control, &train, &[true, true]);
        let risk = linkability(&fixture.data(10), &[0], &[1]).expect("attack");
        assert_eq!((risk.attacks, risk.successes), (4, 4));
        assert_eq!(risk.control_rate, 0.0);
        assert!(risk.baseline_rate < 1.0);
    }
}
