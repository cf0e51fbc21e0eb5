//! Small hand-made tables for the attack tests.

use super::AttackData;
use crate::privacy::rows::RowMatrix;

/// Owned samples that lend an [`AttackData`].
#[derive(Debug)]
pub(crate) struct Fixture {
    pub train: RowMatrix,
    pub control: RowMatrix,
    pub synthetic: RowMatrix,
    pub numeric: Vec<bool>,
}

/// A matrix of these rows.
pub(crate) fn matrix(rows: &[&[f64]]) -> RowMatrix {
    let columns = rows.first().map_or(1, |r| r.len());
    RowMatrix::new(
        columns,
        rows.iter().flat_map(|r| r.iter().copied()).collect(),
    )
    .expect("matrix")
}

impl Fixture {
    pub fn new(
        train: &[&[f64]],
        control: &[&[f64]],
        synthetic: &[&[f64]],
        numeric: &[bool],
    ) -> Self {
        Self {
            train: matrix(train),
            control: matrix(control),
            synthetic: matrix(synthetic),
            numeric: numeric.to_vec(),
        }
    }

    pub fn data(&self, attacks: usize) -> AttackData<'_> {
        AttackData {
            train: &self.train,
            control: &self.control,
            synthetic: &self.synthetic,
            numeric: &self.numeric,
            attacks,
            seed: 7,
        }
    }
}
