//! Singling out: can the attacker write a predicate that matches exactly one training row?
//!
//! The attacker draws a synthetic row and [`PREDICATE_COLUMNS`] random columns, and writes
//! one condition per column: equality for a label (or a null), and `≤ value` or `≥ value`
//! (chosen at random) for a number. Only predicates that match exactly one *synthetic* row
//! are kept (the attacker can check that much), up to `attacks` distinct ones, giving up
//! after [`ATTEMPTS_PER_PREDICATE`] draws per predicate. A kept predicate succeeds when it
//! matches exactly one row of the target table (training for the main attack, holdout for
//! the control).
//!
//! The baseline writes as many predicates from random values of each column's synthetic
//! domain (a label or null drawn uniformly from those present, a number uniformly between
//! the synthetic minimum and maximum, or null at the synthetic null share), without looking
//! at the rows.

use std::collections::HashSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{AttackData, random_rows};
use crate::privacy::risk::RiskEstimate;
use crate::privacy::rows::{NULL_NUMBER, RowMatrix};

/// Columns per predicate (Anonymeter's multivariate mode).
pub const PREDICATE_COLUMNS: usize = 4;
/// Synthetic rows drawn per wanted predicate before giving up.
pub const ATTEMPTS_PER_PREDICATE: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Comparison {
    Equal,
    AtMost,
    AtLeast,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Condition {
    column: usize,
    comparison: Comparison,
    value: f64,
}

impl Condition {
    #[inline]
    fn holds(&self, cell: f64) -> bool {
        match self.comparison {
            Comparison::Equal => cell == self.value,
            Comparison::AtMost => cell != NULL_NUMBER && cell <= self.value,
            Comparison::AtLeast => cell != NULL_NUMBER && cell >= self.value,
        }
    }

    /// A numeric condition on `value`: null is matched by equality, a number by a random
    /// side.
    fn number(column: usize, value: f64, generator: &mut ChaCha8Rng) -> Self {
        let comparison = if value == NULL_NUMBER {
            Comparison::Equal
        } else if generator.random_bool(0.5) {
            Comparison::AtMost
        } else {
            Comparison::AtLeast
        };
        Self {
            column,
            comparison,
            value,
        }
    }
}

/// A conjunction of conditions.
#[derive(Debug, Clone, PartialEq)]
struct Predicate(Vec<Condition>);

impl Predicate {
    fn matches(&self, row: &[f64]) -> bool {
        self.0.iter().all(|c| c.holds(row[c.column]))
    }

    /// Matching rows, counting no further than `limit`.
    fn count(&self, rows: &RowMatrix, limit: usize) -> usize {
        let mut found = 0;
        for r in 0..rows.rows() {
            if self.matches(rows.row(r)) {
                found += 1;
                if found >= limit {
                    break;
                }
            }
        }
        found
    }

    fn singles_out(&self, rows: &RowMatrix) -> bool {
        self.count(rows, 2) == 1
    }

    /// An order-free identity, to keep predicates distinct.
    fn key(&self) -> Vec<(usize, Comparison, u64)> {
        let mut key: Vec<_> = self
            .0
            .iter()
            .map(|c| (c.column, c.comparison, c.value.to_bits()))
            .collect();
        key.sort_by_key(|k| (k.0, k.2));
        key
    }
}

/// Runs the singling-out attack.
pub(crate) fn singling_out(data: &AttackData<'_>) -> RiskEstimate {
    let mut generator = data.generator(1);
    let wanted = data.targets();
    let predicates = synthetic_predicates(data, wanted, &mut generator);
    let successes = predicates
        .iter()
        .filter(|p| p.singles_out(data.train))
        .count();
    let control = predicates
        .iter()
        .filter(|p| p.singles_out(data.control))
        .count();
    let domains = Domain::of(data);
    let baseline = (0..predicates.len())
        .filter(|_| random_predicate(data, &domains, &mut generator).singles_out(data.train))
        .count();
    RiskEstimate::from_counts(predicates.len(), successes, baseline, control)
}

/// Up to `wanted` distinct predicates from synthetic rows that single out a synthetic row.
fn synthetic_predicates(
    data: &AttackData<'_>,
    wanted: usize,
    generator: &mut ChaCha8Rng,
) -> Vec<Predicate> {
    let synthetic = data.synthetic;
    let mut kept = Vec::new();
    let mut seen = HashSet::new();
    if synthetic.rows() == 0 {
        return kept;
    }
    for _ in 0..wanted.saturating_mul(ATTEMPTS_PER_PREDICATE) {
        if kept.len() == wanted {
            break;
        }
        let row = synthetic.row(generator.random_range(0..synthetic.rows()));
        let predicate = Predicate(
            chosen_columns(data, generator)
                .into_iter()
                .map(|column| {
                    if data.numeric[column] {
                        Condition::number(column, row[column], generator)
                    } else {
                        Condition {
                            column,
                            comparison: Comparison::Equal,
                            value: row[column],
                        }
                    }
                })
                .collect(),
        );
        if predicate.singles_out(synthetic) && seen.insert(predicate.key()) {
            kept.push(predicate);
        }
    }
    kept
}

/// The values a column takes in the synthetic data, for the baseline's random guesses.
#[derive(Debug, Clone, PartialEq)]
enum Domain {
    /// A number between `low` and `high`, or null at `null_share`.
    Number {
        low: f64,
        high: f64,
        null_share: f64,
    },
    /// One of these codes (null included when present).
    Labels(Vec<f64>),
}

impl Domain {
    /// The domain of every column of `data.synthetic`.
    fn of(data: &AttackData<'_>) -> Vec<Domain> {
        let synthetic = data.synthetic;
        (0..synthetic.columns())
            .map(|column| {
                let cells = (0..synthetic.rows()).map(|r| synthetic.row(r)[column]);
                if data.numeric[column] {
                    let present: Vec<f64> = cells.filter(|&v| v != NULL_NUMBER).collect();
                    let (low, high) = present
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                            (lo.min(v), hi.max(v))
                        });
                    let null_share = 1.0 - present.len() as f64 / synthetic.rows().max(1) as f64;
                    Domain::Number {
                        low,
                        high,
                        null_share,
                    }
                } else {
                    let mut codes: Vec<f64> = cells.collect();
                    codes.sort_by(f64::total_cmp);
                    codes.dedup();
                    Domain::Labels(codes)
                }
            })
            .collect()
    }

    /// A random value of the domain (null when it is empty).
    fn draw(&self, generator: &mut ChaCha8Rng) -> f64 {
        match self {
            Domain::Number {
                low,
                high,
                null_share,
            } => {
                if low > high || generator.random_bool(null_share.clamp(0.0, 1.0)) {
                    NULL_NUMBER
                } else if high > low {
                    generator.random_range(*low..=*high)
                } else {
                    *low
                }
            }
            Domain::Labels(codes) => {
                if codes.is_empty() {
                    0.0
                } else {
                    codes[generator.random_range(0..codes.len())]
                }
            }
        }
    }
}

/// A predicate of random values from the columns' synthetic domains.
fn random_predicate(
    data: &AttackData<'_>,
    domains: &[Domain],
    generator: &mut ChaCha8Rng,
) -> Predicate {
    let conditions = chosen_columns(data, generator)
        .into_iter()
        .map(|column| {
            let value = domains[column].draw(generator);
            if data.numeric[column] {
                Condition::number(column, value, generator)
            } else {
                Condition {
                    column,
                    comparison: Comparison::Equal,
                    value,
                }
            }
        })
        .collect();
    Predicate(conditions)
}

/// [`PREDICATE_COLUMNS`] distinct random columns (all of them when there are fewer).
fn chosen_columns(data: &AttackData<'_>, generator: &mut ChaCha8Rng) -> Vec<usize> {
    let columns = data.synthetic.columns();
    random_rows(columns, PREDICATE_COLUMNS, generator)
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{Fixture, matrix};
    use super::*;

    #[test]
    fn conditions_by_hand() {
        let rows = matrix(&[&[0.2, 1.0], &[NULL_NUMBER, 1.0], &[0.7, 2.0]]);
        let at_most = |value| {
            Predicate(vec![Condition {
                column: 0,
                comparison: Comparison::AtMost,
                value,
            }])
        };
        // Null is neither ≤ nor ≥ a number.
        assert_eq!(at_most(0.5).count(&rows, 10), 1);
        assert_eq!(at_most(1.0).count(&rows, 10), 2);
        let null_and_label = Predicate(vec![
            Condition {
                column: 0,
                comparison: Comparison::Equal,
                value: NULL_NUMBER,
            },
            Condition {
                column: 1,
                comparison: Comparison::Equal,
                value: 1.0,
            },
        ]);
        assert!(null_and_label.singles_out(&rows));
        assert!(!at_most(1.0).singles_out(&rows));
    }

    #[test]
    fn singling_out_by_hand() {
        // Four label columns, so every predicate is a whole synthetic row. The unique
        // synthetic rows a, b, c, d give four predicates; e is there twice so never unique.
        let row = |a, b, c, d| [a, b, c, d];
        let (a, b, c) = (
            row(1.0, 1.0, 1.0, 1.0),
            row(1.0, 1.0, 1.0, 2.0),
            row(2.0, 2.0, 2.0, 2.0),
        );
        let (d, e, other) = (
            row(3.0, 3.0, 3.0, 3.0),
            row(4.0, 4.0, 4.0, 4.0),
            row(5.0, 5.0, 5.0, 5.0),
        );
        let (a, b, c, d, e, other) = (&a[..], &b[..], &c[..], &d[..], &e[..], &other[..]);
        // Training: a once, b twice, c once, d never → a and c are singled out.
        // Control: a once → one of four.
        let fixture = Fixture::new(
            &[a, b, b, c, e, other],
            &[a, e, e, other, other, other],
            &[a, b, c, d, e, e],
            &[false; 4],
        );
        let risk = singling_out(&fixture.data(500));
        assert_eq!((risk.attacks, risk.successes), (4, 2));
        assert_eq!(risk.attack_rate, 0.5);
        assert_eq!(risk.control_rate, 0.25);
    }
}
