//! The real rows a constrained generation imitates ([`reference_rows`]), so its quality
//! report compares like with like: rows generated under `age > 65` against the real rows
//! over 65, rows rebalanced by class against real rows mixed in the same proportions.

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use mirage_core::rebalance::allocate;
use mirage_core::{Condition, Rebalance, Table, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::columns::value_at;
use crate::error::{ModelError, Result};
use crate::sampling::rows_meeting;

/// The real rows to compare a generation with, and what was done to find them.
#[derive(Debug)]
pub struct Reference {
    /// The rows.
    pub table: Table,
    /// How they were chosen, for the report's reader; `None` when they are the whole table.
    pub note: Option<String>,
}

fn refused(field: &str, message: impl Into<String>) -> ModelError {
    ModelError::InvalidRebalance {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The rows of `real` a generation under `conditions` and `rebalance` imitates: those
/// meeting every condition; with a rebalance, those rows drawn again class by class (with
/// replacement, seeded by `seed`) so the classes come in the generation's proportions, as
/// many rows as met the conditions. When no real row meets the conditions, or no listed
/// class occurs among them, the whole of `real` is kept and the note says so.
pub fn reference_rows(
    real: &Table,
    conditions: &[Condition],
    rebalance: Option<&Rebalance>,
    seed: u64,
) -> Result<Reference> {
    if conditions.is_empty() && rebalance.is_none() {
        return Ok(Reference {
            table: real.clone(),
            note: None,
        });
    }
    let schema = real.schema();
    let arrow_schema = schema.arrow_schema();
    let all = concat_batches(&arrow_schema, real.batches())?;
    let kept = filter_record_batch(&all, &rows_meeting(schema, &all, conditions)?)?;
    let described: Vec<String> = conditions.iter().map(ToString::to_string).collect();
    let mut note = (!conditions.is_empty()).then(|| {
        format!(
            "compared with the {} of {} real rows where {}",
            kept.num_rows(),
            all.num_rows(),
            described.join(" and ")
        )
    });
    if kept.num_rows() == 0 {
        return Ok(Reference {
            table: real.clone(),
            note: Some(format!(
                "no real row meets {}: compared with all {} real rows",
                described.join(" and "),
                all.num_rows()
            )),
        });
    }
    let mut batch = kept;
    if let Some(rebalance) = rebalance {
        let (mixed, said) = mix(&batch, rebalance, seed)?;
        batch = mixed;
        note = Some(match note {
            Some(before) => format!("{before}, {said}"),
            None => format!("compared with {said}"),
        });
    }
    Ok(Reference {
        table: Table::new(schema.clone(), vec![batch])?,
        note,
    })
}

/// `batch`'s rows drawn again by class of `rebalance.column` in its proportions.
fn mix(batch: &RecordBatch, rebalance: &Rebalance, seed: u64) -> Result<(RecordBatch, String)> {
    let column = batch.column_by_name(&rebalance.column).ok_or_else(|| {
        refused(
            "column",
            format!("the real table has no column {:?}", rebalance.column),
        )
    })?;
    let values: Vec<Value> = (0..batch.num_rows())
        .map(|row| value_at(&rebalance.column, column.as_ref(), row))
        .collect::<Result<_>>()?;
    let classes: Vec<(Value, f64)> = if rebalance.shares.is_empty() {
        let mut seen: Vec<Value> = Vec::new();
        for value in values.iter().filter(|v| **v != Value::Null) {
            if !seen.iter().any(|s| s.equals(value)) {
                seen.push(value.clone());
            }
        }
        seen.into_iter().map(|v| (v, 1.0)).collect()
    } else {
        rebalance
            .shares
            .iter()
            .map(|c| (c.value.clone(), c.share))
            .collect()
    };
    // One pass over the rows: each joins the class it equals (or spells, for a class
    // given as a number on a text column).
    let spelled: Vec<String> = classes.iter().map(|(class, _)| class.to_string()).collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); classes.len()];
    for (row, value) in values.iter().enumerate() {
        let class = classes
            .iter()
            .position(|(class, _)| value.equals(class))
            .or_else(|| {
                let text = value.to_string();
                spelled.iter().position(|s| *s == text)
            });
        if let (Some(class), Ok(row)) = (class, u32::try_from(row)) {
            members[class].push(row);
        }
    }
    // Classes with no real row cannot be referenced: the others share the rows.
    let weights: Vec<f64> = classes
        .iter()
        .zip(&members)
        .map(|((_, w), rows)| if rows.is_empty() { 0.0 } else { *w })
        .collect();
    if weights.iter().all(|w| *w == 0.0) {
        return Ok((
            batch.clone(),
            format!(
                "none of the rebalanced classes of {:?} occurs in the real rows",
                rebalance.column
            ),
        ));
    }
    let counts = allocate(batch.num_rows(), &weights);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = Vec::with_capacity(batch.num_rows());
    for (rows, count) in members.iter().zip(&counts) {
        for _ in 0..*count {
            picked.push(rows[rng.random_range(0..rows.len())]);
        }
    }
    let mixed = take_record_batch(batch, &UInt32Array::from(picked))?;
    let missing: Vec<String> = classes
        .iter()
        .zip(&members)
        .filter(|(_, rows)| rows.is_empty())
        .map(|((class, _), _)| class.to_string())
        .collect();
    let mut said = format!(
        "real rows redrawn by {:?} in the generation's class proportions",
        rebalance.column
    );
    if !missing.is_empty() {
        said.push_str(&format!(
            " (no real row of {}, left out)",
            missing.join(", ")
        ));
    }
    Ok((mixed, said))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
    use mirage_core::{ClassShare, ConditionOp, Schema};

    use super::*;

    /// 100 rows: age 0..100, group "a" for the first 80 and "b" for the last 20.
    fn real() -> Table {
        let schema = Schema::new(vec![
            ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
            ColumnSchema::new("group", ColumnKind::Categorical, PhysicalType::Utf8),
        ])
        .expect("schema");
        let ages: Vec<i64> = (0..100).collect();
        let groups: Vec<&str> = (0..100).map(|i| if i < 80 { "a" } else { "b" }).collect();
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ages)),
            Arc::new(StringArray::from(groups)),
        ];
        let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
        Table::new(schema, vec![batch]).expect("table")
    }

    fn groups(table: &Table) -> (usize, usize) {
        let mut counts = (0, 0);
        for batch in table.batches() {
            let column = batch.column_by_name("group").expect("group");
            for row in 0..batch.num_rows() {
                match value_at("group", column.as_ref(), row)
                    .expect("value")
                    .to_string()
                    .as_str()
                {
                    "a" => counts.0 += 1,
                    _ => counts.1 += 1,
                }
            }
        }
        counts
    }

    #[test]
    fn conditions_keep_the_matching_real_rows() {
        let over = Condition::new("age", ConditionOp::Ge(Value::Int(70)));
        let reference = reference_rows(&real(), &[over], None, 1).expect("reference");
        assert_eq!(reference.table.num_rows(), 30);
        assert_eq!(groups(&reference.table), (10, 20));
        let note = reference.note.expect("a note");
        assert!(
            note.contains("30 of 100 real rows where age >= 70"),
            "{note}"
        );

        let untouched = reference_rows(&real(), &[], None, 1).expect("reference");
        assert_eq!(untouched.table.num_rows(), 100);
        assert!(untouched.note.is_none());

        let none = Condition::new("age", ConditionOp::Gt(Value::Int(500)));
        let fallback = reference_rows(&real(), &[none], None, 1).expect("reference");
        assert_eq!(fallback.table.num_rows(), 100);
        assert!(fallback.note.expect("a note").contains("no real row meets"));
    }

    #[test]
    fn a_rebalance_redraws_the_real_rows_in_its_proportions() {
        let reference =
            reference_rows(&real(), &[], Some(&Rebalance::equal("group")), 3).expect("mixed");
        assert_eq!(reference.table.num_rows(), 100);
        assert_eq!(groups(&reference.table), (50, 50));
        let shares = Rebalance {
            column: "group".into(),
            shares: vec![
                ClassShare {
                    value: Value::from("b"),
                    share: 3.0,
                },
                ClassShare {
                    value: Value::from("nowhere"),
                    share: 1.0,
                },
            ],
        };
        let over = Condition::new("age", ConditionOp::Ge(Value::Int(50)));
        let reference = reference_rows(&real(), &[over], Some(&shares), 3).expect("mixed");
        assert_eq!(reference.table.num_rows(), 50);
        assert_eq!(groups(&reference.table), (0, 50));
        let note = reference.note.expect("a note");
        assert!(
            note.contains("where age >= 50") && note.contains("nowhere"),
            "{note}"
        );
        let again =
            reference_rows(&real(), &[], Some(&Rebalance::equal("group")), 3).expect("again");
        assert_eq!(
            again.table.batches(),
            reference_rows(&real(), &[], Some(&Rebalance::equal("group")), 3)
                .expect("again")
                .table
                .batches()
        );
    }
}
