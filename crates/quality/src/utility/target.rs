//! The target column: which task it is, its values in each table as class indices or
//! numbers, and the checks that make the holdout metrics meaningful.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use mirage_core::{ColumnKind, Table};

use super::error::{TableRole, UtilityError};
use super::features::{FeatureSpec, RawColumn, read_column, read_labels};
use super::options::{Task, UtilityOptions};
use crate::error::Result;

/// Classification targets with more classes are refused (softmax grows one tree per class).
pub const MAX_CLASSES: usize = 50;

/// Labels are classified, numbers regressed, small sets of integers classified.
pub(super) fn infer_task(train_real: &Table, target: &FeatureSpec) -> Result<Task> {
    match target.kind {
        ColumnKind::Integer => {
            let values = read_column(train_real, target, TableRole::TrainReal)?;
            let RawColumn::Numeric(values) = values else {
                return Ok(Task::Classification);
            };
            let distinct: BTreeSet<u64> = values
                .iter()
                .filter(|v| !v.is_nan())
                .map(|v| v.to_bits())
                .collect();
            Ok(if distinct.len() <= UtilityOptions::MAX_INTEGER_CLASSES {
                Task::Classification
            } else {
                Task::Regression
            })
        }
        ColumnKind::Float | ColumnKind::Datetime { .. } => Ok(Task::Regression),
        _ => Ok(Task::Classification),
    }
}

/// Target values of one table: class indices or numbers, `None` / `NaN` for null.
#[derive(Debug, Clone)]
pub(super) enum TargetValues {
    Classes(Vec<Option<usize>>),
    Numbers(Vec<f64>),
}

impl TargetValues {
    pub(super) fn len(&self) -> usize {
        match self {
            TargetValues::Classes(v) => v.len(),
            TargetValues::Numbers(v) => v.len(),
        }
    }

    pub(super) fn present(&self, row: usize) -> bool {
        match self {
            TargetValues::Classes(v) => v[row].is_some(),
            TargetValues::Numbers(v) => !v[row].is_nan(),
        }
    }

    /// The selected rows, which must be present, as model labels.
    pub(super) fn select(&self, rows: &[usize]) -> Vec<f64> {
        match self {
            TargetValues::Classes(v) => rows
                .iter()
                .map(|&r| v[r].map_or(f64::NAN, |c| c as f64))
                .collect(),
            TargetValues::Numbers(v) => rows.iter().map(|&r| v[r]).collect(),
        }
    }
}

/// The targets of the three tables and the class names (empty for regression).
pub(super) struct Targets {
    /// Train, holdout and synthetic, in the order of the tables given.
    pub values: Vec<TargetValues>,
    /// Class names in index order; empty for regression.
    pub classes: Vec<String>,
}

pub(super) fn read_targets(
    tables: &[(&Table, TableRole)],
    spec: &FeatureSpec,
    task: Task,
) -> Result<Targets> {
    if task == Task::Regression {
        if !spec.kind.is_numeric() {
            return Err(UtilityError::NonNumericRegressionTarget {
                column: spec.name.clone(),
                kind: spec.kind.clone(),
            }
            .into());
        }
        let mut values = Vec::new();
        for (table, role) in tables {
            match read_column(table, spec, *role)? {
                RawColumn::Numeric(numbers) => values.push(TargetValues::Numbers(numbers)),
                RawColumn::Labels { .. } => {
                    return Err(UtilityError::NonNumericRegressionTarget {
                        column: spec.name.clone(),
                        kind: spec.kind.clone(),
                    }
                    .into());
                }
            }
        }
        return Ok(Targets {
            values,
            classes: Vec::new(),
        });
    }
    let mut columns = Vec::new();
    for (table, _) in tables {
        let array = table.column_by_name(&spec.name)?;
        columns.push(read_labels(&spec.name, array.as_ref())?);
    }
    let mut names: Vec<String> = columns
        .iter()
        .flat_map(|c| match c {
            RawColumn::Labels { labels, .. } => labels.iter().flatten().cloned().collect(),
            RawColumn::Numeric(_) => Vec::new(),
        })
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    names.sort_by(|a, b| natural_order(a, b));
    if names.len() > MAX_CLASSES {
        return Err(UtilityError::TooManyClasses {
            column: spec.name.clone(),
            classes: names.len(),
            max: MAX_CLASSES,
        }
        .into());
    }
    let values = columns
        .iter()
        .map(|column| {
            let RawColumn::Labels { labels, codes } = column else {
                return TargetValues::Classes(Vec::new());
            };
            let index: Vec<Option<usize>> = labels
                .iter()
                .map(|l| l.as_ref().and_then(|l| names.iter().position(|n| n == l)))
                .collect();
            TargetValues::Classes(codes.iter().map(|&c| index[c as usize]).collect())
        })
        .collect();
    Ok(Targets {
        values,
        classes: names,
    })
}

/// Numbers by value, before any text; text by bytes.
fn natural_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Refuses a holdout on which the metrics say nothing.
pub(super) fn check_holdout(holdout: &[f64], classes: &[String], target: &str) -> Result<()> {
    let first = holdout[0];
    if holdout.iter().any(|&y| y != first) {
        return Ok(());
    }
    let error = if classes.is_empty() {
        UtilityError::ConstantHoldout {
            column: target.to_string(),
        }
    } else {
        UtilityError::SingleClassHoldout {
            column: target.to_string(),
            class: classes.get(first as usize).cloned().unwrap_or_default(),
        }
    };
    Err(error.into())
}
