//! The training, holdout and synthetic tables encoded once into [`RowMatrix`]es that share
//! the encoding of [`rows`](super::rows): one range per numeric column (the training
//! table's) and one label dictionary per discrete column for all three tables.
//!
//! Identifiers and free text are left out. Columns are laid out in decreasing order of
//! their mean cell distance between training rows, so that the nearest-neighbour search's
//! partial sums grow fastest; the report names them in schema order.

use arrow::array::{Array, ArrayRef};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Table};

use super::error::{PrivacyError, TableRole};
use super::rows::{NULL_NUMBER, NUMBER_LIMIT, RowMatrix, cell_distance};
use crate::encode::{encode_discrete, numeric_values};
use crate::error::{QualityError, Result};
use crate::report::{SkipReason, SkippedColumn};

/// Training row pairs sampled to order the columns.
const ORDER_SAMPLE: usize = 1024;

/// A compared column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComparedColumn {
    /// Its name.
    pub name: String,
    /// Its kind in the training schema.
    pub kind: ColumnKind,
}

impl ComparedColumn {
    /// Whether cells are scaled numbers (else label codes).
    pub fn is_numeric(&self) -> bool {
        self.kind.is_numeric()
    }
}

/// The three tables, encoded with the same columns in the same order.
#[derive(Debug, Clone)]
pub(crate) struct EncodedTables {
    /// The matrix columns, in matrix order.
    pub columns: Vec<ComparedColumn>,
    /// The matrix column of each compared column in training-schema order.
    pub schema_order: Vec<usize>,
    /// Training rows.
    pub train: RowMatrix,
    /// Holdout rows.
    pub holdout: RowMatrix,
    /// Synthetic rows.
    pub synthetic: RowMatrix,
    /// Training columns left out.
    pub skipped: Vec<SkippedColumn>,
}

impl EncodedTables {
    /// The matrix column of a compared column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The compared column names in schema order, comma separated, for error messages.
    pub fn names(&self) -> String {
        self.schema_order
            .iter()
            .map(|&c| self.columns[c].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Encodes the compared columns of the three tables.
///
/// # Errors
///
/// [`PrivacyError::MissingColumn`] when the holdout or synthetic table lacks a compared
/// column, [`PrivacyError::IncompatibleColumn`] when it stores it otherwise,
/// [`QualityError::UnsupportedStorage`] for a numeric column not stored as numbers, and
/// [`PrivacyError::NoComparableColumns`] when nothing is left.
pub(crate) fn encode_tables(
    train: &Table,
    holdout: &Table,
    synthetic: &Table,
) -> Result<EncodedTables> {
    let mut skipped = Vec::new();
    let mut columns = Vec::new();
    let mut cells: Vec<[Vec<f64>; 3]> = Vec::new();
    for column in &train.schema().columns {
        let reason = match column.kind {
            ColumnKind::Identifier => Some(SkipReason::Identifier),
            ColumnKind::Text => Some(SkipReason::Text),
            _ => None,
        };
        if let Some(reason) = reason {
            skipped.push(SkippedColumn {
                column: column.name.clone(),
                reason,
            });
            continue;
        }
        check_storage(column, holdout, TableRole::Holdout)?;
        check_storage(column, synthetic, TableRole::Synthetic)?;
        let arrays = [
            train.column_by_name(&column.name)?,
            holdout.column_by_name(&column.name)?,
            synthetic.column_by_name(&column.name)?,
        ];
        let encoded = if column.kind.is_numeric() {
            encode_numbers(&column.name, &arrays)?
        } else {
            encode_labels(&column.name, &arrays)?
        };
        columns.push(ComparedColumn {
            name: column.name.clone(),
            kind: column.kind.clone(),
        });
        cells.push(encoded);
    }
    if columns.is_empty() {
        return Err(PrivacyError::NoComparableColumns {
            skipped: skipped.len(),
        }
        .into());
    }

    let order = contribution_order(&cells);
    let mut schema_order = vec![0; order.len()];
    for (position, &column) in order.iter().enumerate() {
        schema_order[column] = position;
    }
    let matrix = |table: usize| {
        let rows = cells[0][table].len();
        let mut values = vec![0.0; rows * order.len()];
        for (position, &column) in order.iter().enumerate() {
            let source = &cells[column][table];
            for (row, &value) in values.chunks_exact_mut(order.len()).zip(source) {
                row[position] = value;
            }
        }
        RowMatrix::new(order.len(), values)
    };
    Ok(EncodedTables {
        train: matrix(0)?,
        holdout: matrix(1)?,
        synthetic: matrix(2)?,
        columns: order.iter().map(|&c| columns[c].clone()).collect(),
        schema_order,
        skipped,
    })
}

/// Checks that `table` has the training column, stored compatibly.
fn check_storage(column: &ColumnSchema, table: &Table, role: TableRole) -> Result<()> {
    let Some(other) = table.schema().column(&column.name) else {
        return Err(PrivacyError::MissingColumn {
            column: column.name.clone(),
            table: role,
        }
        .into());
    };
    if column.kind.is_numeric() && !stores_numbers(column.physical) {
        return Err(QualityError::UnsupportedStorage {
            column: column.name.clone(),
            kind: column.kind.clone(),
            physical: column.physical,
        });
    }
    let compatible = if column.kind.is_numeric() {
        stores_numbers(other.physical)
    } else {
        other.physical == column.physical
    };
    if !compatible {
        return Err(PrivacyError::IncompatibleColumn {
            column: column.name.clone(),
            table: role,
            expected: column.physical,
            found: other.physical,
        }
        .into());
    }
    Ok(())
}

fn stores_numbers(physical: PhysicalType) -> bool {
    matches!(
        physical,
        PhysicalType::Int64 | PhysicalType::Float64 | PhysicalType::TimestampMillis
    )
}

/// Numbers scaled by the training range; nulls (and `NaN`, infinities) as [`NULL_NUMBER`].
fn encode_numbers(name: &str, arrays: &[ArrayRef; 3]) -> Result<[Vec<f64>; 3]> {
    let [train, holdout, synthetic] = [
        numeric_values(name, arrays[0].as_ref())?,
        numeric_values(name, arrays[1].as_ref())?,
        numeric_values(name, arrays[2].as_ref())?,
    ];
    let range = train
        .iter()
        .filter(|v| !v.is_nan())
        .fold(None, |range: Option<(f64, f64)>, &v| match range {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        });
    let scale = |v: f64| -> f64 {
        if v.is_nan() {
            return NULL_NUMBER;
        }
        let Some((min, max)) = range.filter(|(min, max)| max > min) else {
            return 0.0;
        };
        let width = max - min;
        let scaled = if width.is_finite() {
            (v - min) / width
        } else {
            // Halving is exact and keeps both differences finite.
            (v / 2.0 - min / 2.0) / (max / 2.0 - min / 2.0)
        };
        scaled.clamp(-NUMBER_LIMIT, NUMBER_LIMIT)
    };
    Ok([
        train.into_iter().map(scale).collect(),
        holdout.into_iter().map(scale).collect(),
        synthetic.into_iter().map(scale).collect(),
    ])
}

/// Labels as codes of one dictionary, null as code 0.
fn encode_labels(name: &str, arrays: &[ArrayRef; 3]) -> Result<[Vec<f64>; 3]> {
    let holdout_rows = arrays[1].len();
    let others =
        arrow::compute::concat(&[arrays[1].as_ref(), arrays[2].as_ref()]).map_err(|e| {
            QualityError::UnexpectedArrowType {
                column: name.to_string(),
                data_type: e.to_string(),
            }
        })?;
    let encoded = encode_discrete(name, arrays[0].as_ref(), others.as_ref())?;
    let as_float = |codes: &[u32]| codes.iter().map(|&c| f64::from(c)).collect::<Vec<_>>();
    Ok([
        as_float(&encoded.real),
        as_float(&encoded.synthetic[..holdout_rows]),
        as_float(&encoded.synthetic[holdout_rows..]),
    ])
}

/// Column indices by decreasing mean cell distance over sampled training pairs (ties in
/// schema order).
fn contribution_order(cells: &[[Vec<f64>; 3]]) -> Vec<usize> {
    let rows = cells.first().map_or(0, |c| c[0].len());
    let pairs = ORDER_SAMPLE.min(rows);
    let mean: Vec<f64> = cells
        .iter()
        .map(|column| {
            let train = &column[0];
            (0..pairs)
                .map(|j| {
                    let a = j * rows / pairs;
                    let b = (a + rows / 2 + j) % rows;
                    cell_distance(train[a], train[b])
                })
                .sum::<f64>()
        })
        .collect();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    order
}
