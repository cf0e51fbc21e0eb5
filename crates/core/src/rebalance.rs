//! Augmentation: how generated rows divide among the classes of one column ("half the
//! rows with `income = >50K`", or "every class of `workclass` equally").

use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::error::{CoreError, Result};
use crate::value::Value;

/// A class of the rebalanced column and its share of the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassShare {
    /// The class (a value of the column).
    pub value: Value,
    /// Its share: positive, relative to the other listed shares.
    pub share: f64,
}

/// Rows divided among the classes of `column`: the listed classes in proportion to their
/// shares (unlisted classes get none), or every class the model knows equally when no
/// share is listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rebalance {
    /// The column whose classes divide the rows.
    pub column: String,
    /// The classes and their shares; empty for equal shares of every class.
    #[serde(default)]
    pub shares: Vec<ClassShare>,
}

fn invalid(field: &str, message: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl Rebalance {
    /// Equal shares of every class of `column`.
    pub fn equal(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            shares: Vec::new(),
        }
    }

    /// Refuses an empty column name, a share that is not a positive finite number, and a
    /// class listed twice; errors name the field (`shares[1].share`).
    pub fn validate(&self) -> Result<()> {
        if self.column.trim().is_empty() {
            return Err(CoreError::MissingField {
                field: "column".into(),
            });
        }
        for (index, class) in self.shares.iter().enumerate() {
            if !class.share.is_finite() || class.share <= 0.0 {
                return Err(invalid(
                    &format!("shares[{index}].share"),
                    format!("must be a positive number, not {}", class.share),
                ));
            }
            if self.shares[..index]
                .iter()
                .any(|earlier| earlier.value.equals(&class.value))
            {
                return Err(invalid(
                    &format!("shares[{index}].value"),
                    format!("{} is listed twice; list each class once", class.value),
                ));
            }
        }
        Ok(())
    }
}

impl Rebalance {
    /// Refuses a rebalance of a column that `conditions` already constrain (the two
    /// would fight over its values); the error names `column`.
    pub fn check_conditions(&self, conditions: &[Condition]) -> Result<()> {
        match conditions.iter().position(|c| c.column == self.column) {
            Some(index) => Err(invalid(
                "column",
                format!(
                    "conditions[{index}] already constrains {:?}; rebalance another column or \
                     drop that condition (list only the classes you want in the shares instead)",
                    self.column
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Splits `rows` in proportion to `weights` (all positive): each part is the floor of its
/// exact share, and the rows left over go one each to the parts with the largest
/// remainders (the earlier part on a tie), so the parts always sum to `rows`.
pub fn allocate(rows: usize, weights: &[f64]) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    if weights.is_empty() || total <= 0.0 || !total.is_finite() {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| rows as f64 * w / total).collect();
    let mut parts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let given: usize = parts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &index in order.iter().cycle().take(rows.saturating_sub(given)) {
        parts[index] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_split_by_share_and_always_sum_up() {
        assert_eq!(allocate(10, &[1.0, 1.0]), vec![5, 5]);
        assert_eq!(allocate(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(allocate(7, &[3.0, 1.0]), vec![5, 2]);
        assert_eq!(allocate(1, &[0.2, 0.8]), vec![0, 1]);
        assert_eq!(allocate(0, &[1.0]), vec![0]);
        for rows in [1, 2, 3, 17, 1000, 1001] {
            let parts = allocate(rows, &[0.1, 0.25, 0.3, 0.35]);
            assert_eq!(parts.iter().sum::<usize>(), rows, "{rows}: {parts:?}");
        }
        assert_eq!(allocate(5, &[]), Vec::<usize>::new());
    }

    #[test]
    fn bad_shares_are_refused_by_field() {
        assert!(Rebalance::equal("income").validate().is_ok());
        let missing = Rebalance::equal(" ").validate().expect_err("no column");
        assert!(missing.to_string().contains("column"), "{missing}");
        let share = |value: &str, share: f64| ClassShare {
            value: Value::Str(value.into()),
            share,
        };
        for (shares, field) in [
            (vec![share("a", 0.0)], "shares[0].share"),
            (
                vec![share("a", 1.0), share("b", f64::NAN)],
                "shares[1].share",
            ),
            (vec![share("a", -2.0)], "shares[0].share"),
            (vec![share("a", 1.0), share("a", 2.0)], "shares[1].value"),
        ] {
            let refused = Rebalance {
                column: "income".into(),
                shares,
            }
            .validate()
            .expect_err(field);
            assert!(refused.to_string().contains(field), "{refused}");
        }
    }

    #[test]
    fn a_rebalance_crosses_the_wire_and_bad_ones_name_their_field() {
        use crate::convert::proto;
        let sent = Rebalance {
            column: "income".into(),
            shares: vec![
                ClassShare {
                    value: Value::Str(">50K".into()),
                    share: 1.0,
                },
                ClassShare {
                    value: Value::Str("<=50K".into()),
                    share: 3.0,
                },
            ],
        };
        let wire = proto::Rebalance::from(sent.clone());
        assert_eq!(Rebalance::try_from(wire.clone()).expect("round trip"), sent);

        let mut unset = wire.clone();
        unset.shares[1].value = None;
        let refused = Rebalance::try_from(unset).expect_err("no value");
        assert!(refused.to_string().contains("shares[1].value"), "{refused}");
        let mut negative = wire;
        negative.shares[0].share = -1.0;
        let refused = Rebalance::try_from(negative).expect_err("negative");
        assert!(refused.to_string().contains("shares[0].share"), "{refused}");
    }
}
