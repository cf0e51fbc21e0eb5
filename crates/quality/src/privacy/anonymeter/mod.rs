//! Anonymeter-style attacks (Giomi et al. 2022, "A Unified Framework for Quantifying
//! Privacy Risk in Synthetic Data"), written from the paper's description.
//!
//! Each attack is run three times, the same number of times (`attacks`) on each side:
//!
//! - **main**: the attacker uses the synthetic data against training rows;
//! - **baseline**: a naive attacker guesses at random, using only the columns' domains;
//! - **control**: the main attack against holdout rows, which the generator never saw.
//!
//! The reported `risk` follows the issue: `(main − baseline) / (1 − baseline)`, with the
//! Wilson interval of the main rate carried through. Anonymeter's own headline is
//! `(main − control) / (1 − control)`, which separates what the synthetic data leak about
//! the training rows from what they teach about the population as a whole; it is reported
//! as `control_risk` (see [`RiskEstimate`](super::RiskEstimate)). On healthy synthetic
//! data the main attack still beats random guessing (that is what useful data does), so
//! `risk` is above 0 while `control_risk` stays near 0; on copied data both are high.
//!
//! The training and control samples have the same number of rows, since whether a
//! predicate singles out a row depends on how many rows there are.
//!
//! - [`singling_out`]: predicates built from synthetic rows that match exactly one
//!   synthetic row; success when they match exactly one target row.
//! - [`linkability`]: link the two halves of a target row through their nearest synthetic
//!   rows.
//! - [`inference`]: guess a secret column from the nearest synthetic row.

pub(crate) mod inference;
pub(crate) mod linkability;
pub(crate) mod singling_out;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::rows::RowMatrix;
pub(crate) use super::sample::random_rows;

/// What every attack works on: encoded samples sharing one encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttackData<'a> {
    /// The training sample: the main attack's targets.
    pub train: &'a RowMatrix,
    /// The holdout sample, as large as `train`: the control attack's targets.
    pub control: &'a RowMatrix,
    /// The synthetic sample: the attacker's knowledge.
    pub synthetic: &'a RowMatrix,
    /// Whether each matrix column is a number (else a label code).
    pub numeric: &'a [bool],
    /// Attacks asked for on each side.
    pub attacks: usize,
    /// The seed of the evaluation.
    pub seed: u64,
}

impl AttackData<'_> {
    /// A generator of its own for each attack, so that attacks do not depend on each
    /// other's draws.
    pub fn generator(&self, stream: u64) -> ChaCha8Rng {
        let mut generator = ChaCha8Rng::seed_from_u64(self.seed);
        generator.set_stream(stream);
        generator
    }

    /// Targets per side: `attacks`, or fewer when a sample is smaller.
    pub fn targets(&self) -> usize {
        self.attacks.min(self.train.rows()).min(self.control.rows())
    }
}

#[cfg(test)]
pub(crate) mod test_data;
