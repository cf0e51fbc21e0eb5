//! Augmentation: rows divided among the classes of one column ([`sample_by_class`]).
//!
//! Each class gets its part of the rows (see [`mirage_core::rebalance::allocate`]),
//! generated with the request's conditions plus `column = class` (natively where the
//! model conditions, else by rejection), one class after the other, the key sequence
//! continuing from one part to the next. Every part is checked before a row is drawn,
//! so a class the model cannot produce is refused at once, not part-way through a
//! stream.

use std::collections::VecDeque;

use arrow::array::RecordBatch;
use mirage_core::rebalance::allocate;
use mirage_core::schema::ColumnKind;
use mirage_core::{Condition, ConditionOp, Rebalance, Value};

use crate::error::{ModelError, Result};
use crate::sampling::{SampleIter, SampleRequest, sample};
use crate::synthesizer::Synthesizer;

/// Seeds of successive classes: far apart, so no two parts share a random stream.
const SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

fn refused(field: &str, message: impl Into<String>) -> ModelError {
    ModelError::InvalidRebalance {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A rebalance's own refusal (its field relative to `rebalance`) as a model error.
fn from_core(error: mirage_core::CoreError) -> ModelError {
    match error {
        mirage_core::CoreError::InvalidField { field, message } => refused(&field, message),
        other => refused("column", other.to_string()),
    }
}

/// The rows of a rebalanced generation, class by class; see [`sample_by_class`].
#[derive(Debug)]
pub struct ClassIter<'a> {
    model: &'a dyn Synthesizer,
    /// The parts not started yet (each already checked).
    waiting: VecDeque<SampleRequest>,
    /// The part being drawn.
    current: Option<SampleIter<'a>>,
    /// Where the next part's key sequence starts: after every row drawn so far.
    next_row: u64,
}

impl Iterator for ClassIter<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(part) = self.current.as_mut() {
                match part.next() {
                    Some(Err(error)) => {
                        self.current = None;
                        self.waiting.clear();
                        return Some(Err(error));
                    }
                    Some(batch) => return Some(batch),
                    None => {
                        self.next_row += part.rows_drawn();
                        self.current = None;
                    }
                }
            }
            let mut request = self.waiting.pop_front()?;
            request.first_row = self.next_row;
            match sample(self.model, &request) {
                Ok(part) => self.current = Some(part),
                Err(error) => {
                    self.waiting.clear();
                    return Some(Err(error));
                }
            }
        }
    }
}

/// The classes of `rebalance` with their weights: the listed ones, or every class the
/// model knows for the column, equally.
fn classes(model: &dyn Synthesizer, rebalance: &Rebalance) -> Result<Vec<(Value, f64)>> {
    if !rebalance.shares.is_empty() {
        return Ok(rebalance
            .shares
            .iter()
            .map(|class| (class.value.clone(), class.share))
            .collect());
    }
    let schema = model.schema();
    let column = schema
        .index_of(&rebalance.column)
        .map(|index| &schema.columns[index]);
    let known = model.category_set(&rebalance.column).or_else(|| {
        column
            .filter(|c| c.kind == ColumnKind::Boolean)
            .map(|_| vec![Value::Bool(false), Value::Bool(true)])
    });
    let known: Vec<Value> = known
        .unwrap_or_default()
        .into_iter()
        .filter(|value| *value != Value::Null)
        .collect();
    if known.is_empty() {
        return Err(refused(
            "column",
            format!(
                "the model knows no fixed set of classes for {:?}; rebalance a categorical or \
                 boolean column, or list the classes and their shares",
                rebalance.column
            ),
        ));
    }
    Ok(known.into_iter().map(|value| (value, 1.0)).collect())
}

/// Starts a generation of `request.rows` rows divided among the classes of
/// `rebalance.column`: in proportion to the listed shares, or equally among every class
/// the model knows when none is listed. The request's conditions apply to every row and
/// must not constrain the rebalanced column. The same model, request and rebalance give
/// the same rows.
pub fn sample_by_class<'a>(
    model: &'a dyn Synthesizer,
    request: &SampleRequest,
    rebalance: &Rebalance,
) -> Result<ClassIter<'a>> {
    rebalance.validate().map_err(from_core)?;
    let schema = model.schema();
    if schema.index_of(&rebalance.column).is_none() {
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        return Err(refused(
            "column",
            format!(
                "the model has no column {:?}; use one of: {}",
                rebalance.column,
                names.join(", ")
            ),
        ));
    }
    rebalance
        .check_conditions(&request.conditions)
        .map_err(from_core)?;
    let classes = classes(model, rebalance)?;
    let weights: Vec<f64> = classes.iter().map(|(_, weight)| *weight).collect();
    let counts = allocate(request.rows, &weights);
    let mut waiting = VecDeque::new();
    for (index, ((class, _), rows)) in classes.into_iter().zip(counts).enumerate() {
        if rows == 0 {
            continue;
        }
        let mut part = request.clone();
        part.rows = rows;
        part.seed = request
            .seed
            .wrapping_add((index as u64 + 1).wrapping_mul(SEED_STRIDE));
        part.conditions.push(Condition::new(
            rebalance.column.clone(),
            ConditionOp::Eq(class.clone()),
        ));
        // Checked now (no rows are drawn), so a class the model cannot produce is refused
        // before the first row.
        sample(model, &part).map_err(|error| match error {
            ModelError::InvalidCondition { message, .. } => {
                let field = if rebalance.shares.is_empty() {
                    "column".to_owned()
                } else {
                    format!("shares[{index}].value")
                };
                refused(&field, format!("class {class}: {message}"))
            }
            other => other,
        })?;
        waiting.push_back(part);
    }
    Ok(ClassIter {
        model,
        waiting,
        current: None,
        next_row: request.first_row,
    })
}

/// Rows of a generation, in batches: by class when there is a `rebalance`
/// ([`sample_by_class`]), else the model's own mix ([`sample`]).
pub type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>;

/// Starts the generation `request` asks for, rebalanced when `rebalance` is given.
pub fn sample_with<'a>(
    model: &'a dyn Synthesizer,
    request: &SampleRequest,
    rebalance: Option<&Rebalance>,
) -> Result<Batches<'a>> {
    Ok(match rebalance {
        Some(rebalance) => Box::new(sample_by_class(model, request, rebalance)?),
        None => Box::new(sample(model, request)?),
    })
}
