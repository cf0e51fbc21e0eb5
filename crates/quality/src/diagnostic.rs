//! Diagnostic: basic validity of the synthetic data (values inside the real range, only real
//! categories, unique keys).

use serde::{Deserialize, Serialize};

use crate::encode::{DiscreteColumn, EncodedColumn, EncodedValues, NumericColumn};
use crate::report::mean;

/// What a diagnostic check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiagnosticCheckKind {
    /// Synthetic numbers stay inside the real `[min, max]`.
    BoundaryAdherence,
    /// Synthetic categories occur in the real data.
    CategoryAdherence,
    /// Synthetic key values are unique.
    KeyUniqueness,
}

/// One diagnostic check of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticCheck {
    /// The column.
    pub column: String,
    /// The check.
    pub check: DiagnosticCheckKind,
    /// The share of synthetic values that pass, in `[0, 1]`.
    pub score: f64,
}

/// The Diagnostic property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Mean of the check scores; 1 when there are no checks.
    pub score: f64,
    /// Boundary and category checks in the real schema's order, then key checks.
    pub checks: Vec<DiagnosticCheck>,
}

/// Checks every scored column, then adds the key checks already computed.
pub(crate) fn diagnostic(columns: &[EncodedColumn], keys: Vec<DiagnosticCheck>) -> Diagnostic {
    let mut checks: Vec<DiagnosticCheck> = columns
        .iter()
        .map(|column| {
            let (check, score) = match &column.values {
                EncodedValues::Numeric(numeric) => (
                    DiagnosticCheckKind::BoundaryAdherence,
                    boundary_adherence(numeric),
                ),
                EncodedValues::Discrete(discrete) => (
                    DiagnosticCheckKind::CategoryAdherence,
                    category_adherence(discrete),
                ),
            };
            DiagnosticCheck {
                column: column.name.clone(),
                check,
                score,
            }
        })
        .collect();
    checks.extend(keys);
    Diagnostic {
        score: mean(checks.iter().map(|c| c.score)).unwrap_or(1.0),
        checks,
    }
}

/// BoundaryAdherence = share of the synthetic non-null values `x` with
/// `min_real ≤ x ≤ max_real`. With no synthetic values nothing is out of bounds (1); with
/// synthetic values but no real ones, nothing is in bounds (0).
pub(crate) fn boundary_adherence(column: &NumericColumn) -> f64 {
    let values = column.synthetic.iter().filter(|v| !v.is_nan());
    let total = values.clone().count();
    if total == 0 {
        return 1.0;
    }
    let Some((min, max)) = column.real_range else {
        return 0.0;
    };
    let inside = values.filter(|&&v| min <= v && v <= max).count();
    inside as f64 / total as f64
}

/// CategoryAdherence = share of synthetic values, nulls included as a category, whose
/// category occurs in the real data; 1 for an empty synthetic column.
pub(crate) fn category_adherence(column: &DiscreteColumn) -> f64 {
    if column.synthetic.is_empty() {
        return 1.0;
    }
    let inside = column
        .synthetic
        .iter()
        .filter(|&&code| column.occurs_in_real(code))
        .count();
    inside as f64 / column.synthetic.len() as f64
}

/// KeyUniqueness = distinct / non-null count of the synthetic key values; 1 when every
/// value is null.
pub(crate) fn key_uniqueness(distinct: usize, non_null: usize) -> f64 {
    if non_null == 0 {
        return 1.0;
    }
    distinct as f64 / non_null as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{NULL_CODE, encode_discrete, key_counts};
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn boundary_adherence_by_hand() {
        // Real range [1, 5]; synthetic 0 and 6 fall outside, the null is not counted.
        let column = NumericColumn::new(
            vec![1.0, 5.0, f64::NAN],
            vec![0.0, 1.0, 3.0, 5.0, 6.0, f64::NAN],
        );
        assert!((boundary_adherence(&column) - 0.6).abs() < 1e-12);
        let empty_real = NumericColumn::new(vec![f64::NAN], vec![1.0]);
        assert_eq!(boundary_adherence(&empty_real), 0.0);
        let empty_synthetic = NumericColumn::new(vec![1.0], vec![f64::NAN]);
        assert_eq!(boundary_adherence(&empty_synthetic), 1.0);
    }

    #[test]
    fn category_adherence_counts_nulls_as_a_category() {
        let real = StringArray::from(vec![Some("a"), Some("b")]);
        let synthetic = StringArray::from(vec![Some("a"), None, Some("c"), Some("b")]);
        let column = encode_discrete("c", &real, &synthetic).expect("encode");
        assert_eq!(column.synthetic[1], NULL_CODE);
        // a and b occur in the real data; null and c do not.
        assert!((category_adherence(&column) - 0.5).abs() < 1e-12);
        let real = StringArray::from(vec![Some("a"), None]);
        let column = encode_discrete("c", &real, &synthetic).expect("encode");
        assert!((category_adherence(&column) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn key_uniqueness_by_hand() {
        // 4 non-null values, 3 distinct.
        let keys = Int64Array::from(vec![Some(1), Some(2), Some(2), None, Some(9)]);
        let (distinct, non_null) = key_counts("id", &keys).expect("counts");
        assert!((key_uniqueness(distinct, non_null) - 0.75).abs() < 1e-12);
        assert_eq!(key_uniqueness(0, 0), 1.0);
    }
}
