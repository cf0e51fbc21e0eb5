//! Columns encoded once, so that every metric is a pass over plain vectors.
//!
//! A numeric column (integer, float, datetime) becomes `f64` values with `NaN` for null
//! (datetimes as epoch milliseconds). A discrete column becomes dense `u32` codes from one
//! dictionary shared by the real and the synthetic side, with [`NULL_CODE`] for null: real
//! values get the codes `1..=real_distinct` first, so "does this synthetic category occur in
//! the real data" is a comparison.

use std::collections::HashMap;
use std::hash::Hash;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use mirage_core::ColumnKind;

use crate::error::{QualityError, Result};

/// The code of a null cell, in discrete codes and in numeric bin codes alike.
pub(crate) const NULL_CODE: u32 = 0;

/// One scored column: its real and synthetic values, encoded.
#[derive(Debug, Clone)]
pub(crate) struct EncodedColumn {
    /// The column's name.
    pub name: String,
    /// Its kind in the real schema.
    pub kind: ColumnKind,
    /// The values.
    pub values: EncodedValues,
}

/// The two encodings.
#[derive(Debug, Clone)]
pub(crate) enum EncodedValues {
    /// Integers, floats and datetimes.
    Numeric(NumericColumn),
    /// Booleans, categories and constants.
    Discrete(DiscreteColumn),
}

/// A numeric column as `f64`, `NaN` standing for null.
#[derive(Debug, Clone)]
pub(crate) struct NumericColumn {
    /// Real values, one per row.
    pub real: Vec<f64>,
    /// Synthetic values, one per row.
    pub synthetic: Vec<f64>,
    /// `[min, max]` of the real non-null values; `None` when there are none.
    pub real_range: Option<(f64, f64)>,
}

impl NumericColumn {
    /// A column from its real and synthetic values (`NaN` = null).
    pub fn new(real: Vec<f64>, synthetic: Vec<f64>) -> Self {
        let real_range =
            real.iter()
                .filter(|v| !v.is_nan())
                .fold(None, |range: Option<(f64, f64)>, &v| match range {
                    None => Some((v, v)),
                    Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
                });
        Self {
            real,
            synthetic,
            real_range,
        }
    }

    /// The binning used when this column meets a categorical one.
    pub fn binning(&self, bins: usize) -> Binning {
        Binning::new(self.real_range, bins)
    }
}

/// Equal-width bins over the real column's `[min, max]`.
///
/// Edges sit at `min + i·(max − min)/bins` for `i = 0..=bins`, as numpy's `linspace` puts
/// them. A value is first clipped into `[min, max]`, then falls into bin `i` when
/// `edge_i ≤ x < edge_{i+1}`; the maximum falls into the last bin. Codes are `1..=bins`, with
/// [`NULL_CODE`] for null. When the real column has one value (or none), every non-null value
/// shares code 1.
#[derive(Debug, Clone)]
pub(crate) struct Binning {
    /// The edges strictly between the first and the last.
    inner_edges: Vec<f64>,
    /// Where values are clipped to.
    range: Option<(f64, f64)>,
}

impl Binning {
    /// Bins over `range`.
    pub fn new(range: Option<(f64, f64)>, bins: usize) -> Self {
        let inner_edges = match range {
            Some((min, max)) if max > min => {
                let step = (max - min) / bins as f64;
                (1..bins).map(|i| min + i as f64 * step).collect()
            }
            _ => Vec::new(),
        };
        Self { inner_edges, range }
    }

    /// Codes available, null included.
    pub fn cardinality(&self) -> usize {
        self.inner_edges.len() + 2
    }

    /// The bin code of one value.
    pub fn code(&self, value: f64) -> u32 {
        if value.is_nan() {
            return NULL_CODE;
        }
        let Some((min, max)) = self.range else {
            return 1;
        };
        let clipped = value.clamp(min, max);
        let bin = self.inner_edges.partition_point(|&edge| edge <= clipped);
        bin as u32 + 1
    }
}

/// A discrete column as codes of a dictionary shared by both sides.
#[derive(Debug, Clone)]
pub(crate) struct DiscreteColumn {
    /// Real codes, one per row.
    pub real: Vec<u32>,
    /// Synthetic codes, one per row.
    pub synthetic: Vec<u32>,
    /// Codes in use, null included: every code is below this.
    pub cardinality: usize,
    /// Distinct non-null real values: the codes `1..=real_distinct`.
    pub real_distinct: usize,
    /// Whether the real side has a null.
    pub real_has_null: bool,
}

impl DiscreteColumn {
    /// Whether the category behind `code` occurs in the real data.
    pub fn occurs_in_real(&self, code: u32) -> bool {
        if code == NULL_CODE {
            self.real_has_null
        } else {
            code as usize <= self.real_distinct
        }
    }
}

/// Hands out dense codes in order of first appearance.
struct Dictionary<K> {
    codes: HashMap<K, u32>,
}

impl<K: Hash + Eq> Dictionary<K> {
    fn new() -> Self {
        Self {
            codes: HashMap::new(),
        }
    }

    fn code(&mut self, value: Option<K>) -> u32 {
        let Some(value) = value else {
            return NULL_CODE;
        };
        let next = self.codes.len() as u32 + 1;
        *self.codes.entry(value).or_insert(next)
    }
}

/// Encodes the two sides of a column with one dictionary.
fn encode_with<K: Hash + Eq>(
    real: impl Iterator<Item = Option<K>>,
    synthetic: impl Iterator<Item = Option<K>>,
) -> DiscreteColumn {
    let mut dictionary = Dictionary::new();
    let real: Vec<u32> = real.map(|v| dictionary.code(v)).collect();
    let real_distinct = dictionary.codes.len();
    let real_has_null = real.contains(&NULL_CODE);
    let synthetic: Vec<u32> = synthetic.map(|v| dictionary.code(v)).collect();
    DiscreteColumn {
        real,
        synthetic,
        cardinality: dictionary.codes.len() + 1,
        real_distinct,
        real_has_null,
    }
}

/// The error for an array that is not what its schema says.
fn unexpected(column: &str, array: &dyn Array) -> QualityError {
    QualityError::UnexpectedArrowType {
        column: column.to_string(),
        data_type: array.data_type().to_string(),
    }
}

/// Encodes a discrete column. Both arrays must have the same Arrow type (the caller checks
/// the schemas); floats compare by value with `-0.0 = 0.0`, and `NaN` and infinities count
/// as null, as in [`numeric_values`].
pub(crate) fn encode_discrete(
    column: &str,
    real: &dyn Array,
    synthetic: &dyn Array,
) -> Result<DiscreteColumn> {
    if real.data_type() != synthetic.data_type() {
        return Err(unexpected(column, synthetic));
    }
    let encoded = match real.data_type() {
        DataType::Utf8 => {
            let (Some(r), Some(s)) = (
                real.as_string_opt::<i32>(),
                synthetic.as_string_opt::<i32>(),
            ) else {
                return Err(unexpected(column, real));
            };
            encode_with(r.iter(), s.iter())
        }
        DataType::Int64 => {
            let (Some(r), Some(s)) = (
                real.as_primitive_opt::<Int64Type>(),
                synthetic.as_primitive_opt::<Int64Type>(),
            ) else {
                return Err(unexpected(column, real));
            };
            encode_with(r.iter(), s.iter())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let (Some(r), Some(s)) = (
                real.as_primitive_opt::<TimestampMillisecondType>(),
                synthetic.as_primitive_opt::<TimestampMillisecondType>(),
            ) else {
                return Err(unexpected(column, real));
            };
            encode_with(r.iter(), s.iter())
        }
        DataType::Float64 => {
            let (Ok(r), Ok(s)) = (
                numeric_values(column, real),
                numeric_values(column, synthetic),
            ) else {
                return Err(unexpected(column, real));
            };
            // `+ 0.0` turns -0.0 into 0.0 so that the two share a code.
            let bits = |v: f64| (!v.is_nan()).then(|| (v + 0.0).to_bits());
            encode_with(r.into_iter().map(bits), s.into_iter().map(bits))
        }
        DataType::Boolean => {
            let (Some(r), Some(s)) = (real.as_boolean_opt(), synthetic.as_boolean_opt()) else {
                return Err(unexpected(column, real));
            };
            encode_with(r.iter(), s.iter())
        }
        _ => return Err(unexpected(column, real)),
    };
    Ok(encoded)
}

/// A numeric array as `f64`, `NaN` for null. Integers and epoch milliseconds convert exactly
/// up to 2^53; float `NaN` and infinities count as null, since they have no place on the
/// real line that the KS statistic and the bins need.
pub(crate) fn numeric_values(column: &str, array: &dyn Array) -> Result<Vec<f64>> {
    let values = match array.data_type() {
        DataType::Int64 => array
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| unexpected(column, array))?
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| v as f64))
            .collect(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| unexpected(column, array))?
            .iter()
            .map(|v| v.map_or(f64::NAN, |v| v as f64))
            .collect(),
        DataType::Float64 => array
            .as_primitive_opt::<arrow::datatypes::Float64Type>()
            .ok_or_else(|| unexpected(column, array))?
            .iter()
            .map(|v| v.filter(|v| v.is_finite()).unwrap_or(f64::NAN))
            .collect(),
        _ => return Err(unexpected(column, array)),
    };
    Ok(values)
}

/// Distinct and total counts of the non-null values of a key column.
pub(crate) fn key_counts(column: &str, array: &dyn Array) -> Result<(usize, usize)> {
    let empty = arrow::array::new_empty_array(array.data_type());
    let encoded = encode_discrete(column, empty.as_ref(), array)?;
    let non_null = encoded
        .synthetic
        .iter()
        .filter(|&&code| code != NULL_CODE)
        .count();
    Ok((encoded.cardinality - 1, non_null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};

    #[test]
    fn discrete_codes_share_one_dictionary() {
        let real = StringArray::from(vec![Some("a"), None, Some("b"), Some("a")]);
        let synthetic = StringArray::from(vec![Some("b"), Some("c"), None]);
        let encoded = encode_discrete("x", &real, &synthetic).expect("encode");
        assert_eq!(encoded.real, vec![1, NULL_CODE, 2, 1]);
        assert_eq!(encoded.synthetic, vec![2, 3, NULL_CODE]);
        assert_eq!(encoded.cardinality, 4);
        assert_eq!(encoded.real_distinct, 2);
        assert!(encoded.occurs_in_real(2));
        assert!(!encoded.occurs_in_real(3));
        assert!(encoded.occurs_in_real(NULL_CODE));
    }

    #[test]
    fn float_categories_treat_negative_zero_and_nan() {
        let real = Float64Array::from(vec![Some(0.0), Some(f64::NAN)]);
        let synthetic = Float64Array::from(vec![Some(-0.0), None]);
        let encoded = encode_discrete("x", &real, &synthetic).expect("encode");
        assert_eq!(encoded.real, vec![1, NULL_CODE]);
        assert_eq!(encoded.synthetic, vec![1, NULL_CODE]);
    }

    #[test]
    fn mismatched_arrays_are_refused() {
        let real = BooleanArray::from(vec![true]);
        let synthetic = Int64Array::from(vec![1]);
        let err = encode_discrete("flag", &real, &synthetic).expect_err("mismatch");
        assert!(err.to_string().contains("\"flag\""), "{err}");
    }

    #[test]
    fn bins_follow_the_real_range_clip_and_close_the_last_bin() {
        // Real [0, 10] in 5 bins: edges 0, 2, 4, 6, 8, 10.
        let binning = Binning::new(Some((0.0, 10.0)), 5);
        assert_eq!(binning.cardinality(), 6);
        let codes: Vec<u32> = [0.0, 1.9, 2.0, 9.9, 10.0, 25.0, -3.0, f64::NAN]
            .into_iter()
            .map(|v| binning.code(v))
            .collect();
        assert_eq!(codes, vec![1, 1, 2, 5, 5, 5, 1, NULL_CODE]);
    }

    #[test]
    fn a_single_real_value_makes_one_bin() {
        let binning = Binning::new(Some((3.0, 3.0)), 10);
        assert_eq!(binning.code(3.0), 1);
        assert_eq!(binning.code(-100.0), 1);
        assert_eq!(binning.code(f64::NAN), NULL_CODE);
    }

    #[test]
    fn key_counts_ignore_nulls() {
        let keys = Int64Array::from(vec![Some(1), Some(2), Some(2), None]);
        assert_eq!(key_counts("id", &keys).expect("counts"), (2, 3));
    }
}
