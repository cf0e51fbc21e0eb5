//! The encoded row matrix every privacy metric works on, and the row distance.
//!
//! A row is a slice of `f64`, one cell per compared column, encoded so that one formula,
//! `min(|a − b|, 1)`, gives the per-column distance of the common convention:
//!
//! - a number (integer, float, datetime) is `(value − min) / (max − min)` with the training
//!   table's `min` and `max`, so `|Δ|` is the difference over the range; a zero range (or a
//!   column with no training value) encodes every value as `0`, making non-null differences 0;
//! - a label (boolean, categorical, high-cardinality, constant) is its dictionary code
//!   `1, 2, …` as a float, so two different labels are at least 1 apart;
//! - a null number is [`NULL_NUMBER`] and a null label is code `0`: null against null is 0,
//!   null against any value is at least 1, hence 1 once capped.
//!
//! The row distance is the mean of the capped cell distances. It is 0 exactly when every
//! encoded cell is equal: the terms are non-negative and `a − b = 0` only for `a = b`.

use super::error::PrivacyError;

/// The encoding of a null number: far enough from every encoded value that the capped
/// distance is 1, and equal to itself so that null against null is 0.
pub const NULL_NUMBER: f64 = f64::MAX;

/// Encoded numbers are clamped into `±NUMBER_LIMIT` so that no difference overflows into a
/// `NaN` (values that far out are at distance 1 from every training value anyway).
pub(crate) const NUMBER_LIMIT: f64 = 1e300;

/// The distance of two encoded cells: `min(|a − b|, 1)`.
#[inline]
pub fn cell_distance(a: f64, b: f64) -> f64 {
    let difference = (a - b).abs();
    // Written as a comparison, not `f64::min`, so that it compiles to one `minpd`.
    if difference < 1.0 { difference } else { 1.0 }
}

/// The distance of two encoded rows: the mean of their cell distances, in `[0, 1]`.
/// The cells are summed in column order, the order the nearest-neighbour search uses, so
/// that both give bit-identical distances.
pub fn row_distance(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.is_empty() {
        return 0.0;
    }
    let sum = a
        .iter()
        .zip(b)
        .fold(0.0, |sum, (&x, &y)| sum + cell_distance(x, y));
    sum / a.len() as f64
}

/// Rows of encoded cells, row-major: `rows × columns` finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMatrix {
    columns: usize,
    values: Vec<f64>,
}

impl RowMatrix {
    /// A matrix of `values.len() / columns` rows, encoded as the module doc says.
    ///
    /// Put the columns with the largest typical differences first: the nearest-neighbour
    /// search sums cells in column order and abandons a candidate as soon as the partial sum
    /// exceeds the current k-th best.
    ///
    /// # Errors
    ///
    /// [`PrivacyError::InvalidSearch`] for zero columns, a length that is not a multiple of
    /// `columns`, or a cell that is `NaN` or infinite.
    pub fn new(columns: usize, values: Vec<f64>) -> Result<Self, PrivacyError> {
        let invalid = |message: String| PrivacyError::InvalidSearch { message };
        if columns == 0 {
            return Err(invalid("a row matrix needs at least one column".into()));
        }
        if !values.len().is_multiple_of(columns) {
            return Err(invalid(format!(
                "{} values do not make rows of {columns} columns",
                values.len()
            )));
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "cell {} of row {} is not a finite number; encode nulls as NULL_NUMBER",
                at % columns,
                at / columns
            )));
        }
        Ok(Self { columns, values })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.values.len() / self.columns
    }

    /// Columns.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// One row.
    pub fn row(&self, index: usize) -> &[f64] {
        &self.values[index * self.columns..(index + 1) * self.columns]
    }

    /// All cells, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The given rows, in the given order.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> RowMatrix {
        let mut values = Vec::with_capacity(rows.len() * self.columns);
        for &row in rows {
            values.extend_from_slice(self.row(row));
        }
        RowMatrix {
            columns: self.columns,
            values,
        }
    }

    /// The given columns (at least one), in the given order.
    pub(crate) fn select_columns(&self, columns: &[usize]) -> RowMatrix {
        debug_assert!(!columns.is_empty());
        let mut values = Vec::with_capacity(self.rows() * columns.len());
        for row in self.values.chunks_exact(self.columns) {
            values.extend(columns.iter().map(|&c| row[c]));
        }
        RowMatrix {
            columns: columns.len(),
            values,
        }
    }

    /// Each row as exact bit patterns (with `-0.0` read as `0.0`), for identity checks:
    /// two rows are at distance 0 exactly when their keys are equal.
    pub(crate) fn row_key(&self, index: usize) -> Vec<u64> {
        self.row(index)
            .iter()
            .map(|&v| (v + 0.0).to_bits())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_distance_by_hand() {
        // Columns: age (range 0–50 in training), income (range 1,000–3,000), city (codes),
        // smoker (codes), weight (range 10). Row a: age 20, income 1,500, city "Paris" (1),
        // smoker null (0), weight null. Row b: age 45, income 9,000 (beyond the range),
        // city "Lyon" (2), smoker null (0), weight 70 (encoded 0.5).
        let a = [20.0 / 50.0, 500.0 / 2000.0, 1.0, 0.0, NULL_NUMBER];
        let b = [45.0 / 50.0, 8000.0 / 2000.0, 2.0, 0.0, 0.5];
        // |20 − 45| / 50 = 0.5; |1,500 − 9,000| / 2,000 = 3.75 → 1; Paris ≠ Lyon → 1;
        // null = null → 0; null against 70 → 1. Mean: (0.5 + 1 + 1 + 0 + 1) / 5 = 0.7.
        assert!((row_distance(&a, &b) - 0.7).abs() < 1e-15);
        assert_eq!(row_distance(&a, &a), 0.0);
        assert_eq!(cell_distance(NULL_NUMBER, -NUMBER_LIMIT), 1.0);
        assert_eq!(cell_distance(NULL_NUMBER, NULL_NUMBER), 0.0);
    }

    #[test]
    fn matrices_refuse_bad_shapes_and_nan() {
        assert!(RowMatrix::new(0, vec![]).is_err());
        assert!(RowMatrix::new(2, vec![1.0, 2.0, 3.0]).is_err());
        let err = RowMatrix::new(2, vec![1.0, 2.0, 3.0, f64::NAN]).expect_err("nan");
        assert!(err.to_string().contains("row 1"), "{err}");
        assert!(RowMatrix::new(1, vec![f64::INFINITY]).is_err());
        let matrix = RowMatrix::new(3, vec![1.0, 2.0, 3.0, 4.0, -0.0, 6.0]).expect("matrix");
        assert_eq!(matrix.rows(), 2);
        assert_eq!(
            matrix.select_columns(&[2, 0]).values(),
            &[3.0, 1.0, 6.0, 4.0]
        );
        assert_eq!(matrix.select_rows(&[1]).row(0), &[4.0, -0.0, 6.0]);
        assert_eq!(matrix.row_key(1)[1], 0.0f64.to_bits());
    }
}
