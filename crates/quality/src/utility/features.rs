//! Tables → feature matrices that the models read.
//!
//! Each input table is read once into [`RawTable`]: numbers and datetimes as `f64` (`NaN`
//! for null, datetimes as epoch milliseconds), labels as codes of a dictionary local to that
//! table. A [`FeatureEncoder`] fitted on the training side then gives every label a code
//! shared by training and test: codes `0..categories` with the most frequent label first
//! (null counts as a label of its own), and the reserved code `categories` for a label that
//! the training side never showed. Identifiers and free text are never features.

use std::collections::HashMap;
use std::hash::Hash;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType};
use mirage_core::{ColumnKind, Table};

use super::error::{TableRole, UtilityError};
use crate::encode::numeric_values;
use crate::error::{QualityError, Result};

/// A column to read, with its kind from the real schema.
#[derive(Debug, Clone)]
pub(crate) struct FeatureSpec {
    /// The column's name.
    pub name: String,
    /// Its kind in the real schema.
    pub kind: ColumnKind,
}

/// One column of one table, read.
#[derive(Debug, Clone)]
pub(crate) enum RawColumn {
    /// Numbers, `NaN` for null.
    Numeric(Vec<f64>),
    /// Labels: `codes[row]` indexes `labels`; `None` is the null label.
    Labels {
        /// The distinct labels of this table, in order of first appearance.
        labels: Vec<Option<String>>,
        /// One code per row.
        codes: Vec<u32>,
    },
}

impl RawColumn {
    /// The column restricted to `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> RawColumn {
        match self {
            RawColumn::Numeric(values) => {
                RawColumn::Numeric(rows.iter().map(|&r| values[r]).collect())
            }
            RawColumn::Labels { labels, codes } => RawColumn::Labels {
                labels: labels.clone(),
                codes: rows.iter().map(|&r| codes[r]).collect(),
            },
        }
    }
}

/// The feature columns of one table, read.
#[derive(Debug, Clone)]
pub(crate) struct RawTable {
    /// The columns, in the order of the specs they were read with.
    pub columns: Vec<RawColumn>,
    /// Rows of the table.
    pub rows: usize,
}

impl RawTable {
    /// Reads the `specs` columns of `table` (every one must exist).
    pub fn read(table: &Table, specs: &[FeatureSpec], role: TableRole) -> Result<RawTable> {
        let columns = specs
            .iter()
            .map(|spec| read_column(table, spec, role))
            .collect::<Result<Vec<_>>>()?;
        Ok(RawTable {
            columns,
            rows: table.num_rows(),
        })
    }

    /// The table restricted to `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> RawTable {
        RawTable {
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            rows: rows.len(),
        }
    }
}

/// Reads one column: numbers for numeric kinds, labels for every other kind.
pub(crate) fn read_column(table: &Table, spec: &FeatureSpec, role: TableRole) -> Result<RawColumn> {
    let array = table.column_by_name(&spec.name)?;
    if spec.kind.is_numeric() {
        if !matches!(
            array.data_type(),
            DataType::Int64 | DataType::Float64 | DataType::Timestamp(TimeUnit::Millisecond, _)
        ) {
            return Err(UtilityError::NotNumeric {
                column: spec.name.clone(),
                kind: spec.kind.clone(),
                table: role,
                physical: array.data_type().to_string(),
            }
            .into());
        }
        return Ok(RawColumn::Numeric(numeric_values(
            &spec.name,
            array.as_ref(),
        )?));
    }
    read_labels(&spec.name, array.as_ref())
}

/// Reads any supported array as labels (numbers and booleans written as text).
pub(crate) fn read_labels(column: &str, array: &dyn Array) -> Result<RawColumn> {
    let unexpected = || QualityError::UnexpectedArrowType {
        column: column.to_string(),
        data_type: array.data_type().to_string(),
    };
    let column = match array.data_type() {
        DataType::Utf8 => {
            let strings = array.as_string_opt::<i32>().ok_or_else(unexpected)?;
            local_dictionary(strings.iter(), |s| s.to_string())
        }
        DataType::Int64 => {
            let ints = array
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(unexpected)?;
            local_dictionary(ints.iter(), |v| v.to_string())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let ints = array
                .as_primitive_opt::<TimestampMillisecondType>()
                .ok_or_else(unexpected)?;
            local_dictionary(ints.iter(), |v| v.to_string())
        }
        DataType::Float64 => {
            let floats = array
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(unexpected)?;
            // `+ 0.0` folds -0.0 into 0.0; NaN and infinities are null, as elsewhere.
            let bits = floats
                .iter()
                .map(|v| v.filter(|v| v.is_finite()).map(|v| (v + 0.0).to_bits()));
            local_dictionary(bits, |b| f64::from_bits(*b).to_string())
        }
        DataType::Boolean => {
            let flags = array.as_boolean_opt().ok_or_else(unexpected)?;
            local_dictionary(flags.iter(), |b| b.to_string())
        }
        _ => return Err(unexpected()),
    };
    Ok(column)
}

/// Codes values in order of first appearance, null included.
fn local_dictionary<K: Hash + Eq>(
    values: impl Iterator<Item = Option<K>>,
    label: impl Fn(&K) -> String,
) -> RawColumn {
    let mut seen: HashMap<Option<K>, u32> = HashMap::new();
    let mut labels = Vec::new();
    let codes = values
        .map(|value| {
            let next = seen.len() as u32;
            *seen.entry(value).or_insert_with_key(|key| {
                labels.push(key.as_ref().map(&label));
                next
            })
        })
        .collect();
    RawColumn::Labels { labels, codes }
}

/// How a feature column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeatureKind {
    /// A number; `NaN` is missing.
    Numeric,
    /// A category code in `0..categories`, most frequent in training first; the code
    /// `categories` is reserved for labels the training side never showed.
    Categorical {
        /// Categories seen in training (null included when it occurred).
        categories: usize,
    },
}

/// One feature column, encoded.
#[derive(Debug, Clone)]
pub(crate) struct FeatureColumn {
    /// The source column's name.
    pub name: String,
    /// How to read the values.
    pub kind: FeatureKind,
    /// One value per row.
    pub values: Vec<f64>,
}

/// Features column by column, every column the same length.
#[derive(Debug, Clone)]
pub(crate) struct FeatureMatrix {
    /// The columns.
    pub columns: Vec<FeatureColumn>,
    /// Rows.
    pub rows: usize,
}

impl FeatureMatrix {
    /// The rows of `self` followed by those of `other` (same encoder, same columns).
    pub fn stack(&self, other: &FeatureMatrix) -> FeatureMatrix {
        debug_assert_eq!(self.columns.len(), other.columns.len());
        let columns = self
            .columns
            .iter()
            .zip(&other.columns)
            .map(|(a, b)| FeatureColumn {
                name: a.name.clone(),
                kind: a.kind,
                values: a.values.iter().chain(&b.values).copied().collect(),
            })
            .collect();
        FeatureMatrix {
            columns,
            rows: self.rows + other.rows,
        }
    }

    /// The matrix restricted to `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> FeatureMatrix {
        let columns = self
            .columns
            .iter()
            .map(|c| FeatureColumn {
                name: c.name.clone(),
                kind: c.kind,
                values: rows.iter().map(|&r| c.values[r]).collect(),
            })
            .collect();
        FeatureMatrix {
            columns,
            rows: rows.len(),
        }
    }
}

/// How one column turns into a feature.
#[derive(Debug, Clone)]
enum ColumnEncoder {
    Numeric,
    Categorical { codes: HashMap<Option<String>, u32> },
}

/// The label codes of the training side, applied to any table read with the same specs.
#[derive(Debug, Clone)]
pub(crate) struct FeatureEncoder {
    names: Vec<String>,
    columns: Vec<ColumnEncoder>,
}

impl FeatureEncoder {
    /// Codes every label of the `training` tables, most frequent first (ties by label).
    pub fn fit(specs: &[FeatureSpec], training: &[&RawTable]) -> FeatureEncoder {
        let columns = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                if spec.kind.is_numeric() {
                    return ColumnEncoder::Numeric;
                }
                let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
                for table in training {
                    if let RawColumn::Labels { labels, codes } = &table.columns[index] {
                        let mut local = vec![0usize; labels.len()];
                        for &code in codes {
                            local[code as usize] += 1;
                        }
                        for (label, count) in labels.iter().zip(local) {
                            if count > 0 {
                                *counts.entry(label.as_deref()).or_default() += count;
                            }
                        }
                    }
                }
                let mut ordered: Vec<(Option<&str>, usize)> = counts.into_iter().collect();
                ordered.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let codes = ordered
                    .into_iter()
                    .enumerate()
                    .map(|(code, (label, _))| (label.map(str::to_string), code as u32))
                    .collect();
                ColumnEncoder::Categorical { codes }
            })
            .collect();
        FeatureEncoder {
            names: specs.iter().map(|s| s.name.clone()).collect(),
            columns,
        }
    }

    /// Encodes a table read with the specs this encoder was fitted with.
    pub fn encode(&self, table: &RawTable) -> FeatureMatrix {
        let columns = self
            .columns
            .iter()
            .zip(&table.columns)
            .zip(&self.names)
            .map(|((encoder, raw), name)| encode_column(name, encoder, raw))
            .collect();
        FeatureMatrix {
            columns,
            rows: table.rows,
        }
    }
}

fn encode_column(name: &str, encoder: &ColumnEncoder, raw: &RawColumn) -> FeatureColumn {
    let (kind, values) = match (encoder, raw) {
        (
            ColumnEncoder::Categorical { codes },
            RawColumn::Labels {
                labels,
                codes: rows,
            },
        ) => {
            let categories = codes.len();
            let global: Vec<f64> = labels
                .iter()
                .map(|label| codes.get(label).map_or(categories, |&c| c as usize) as f64)
                .collect();
            let values = rows.iter().map(|&code| global[code as usize]).collect();
            (FeatureKind::Categorical { categories }, values)
        }
        (_, RawColumn::Numeric(values)) => (FeatureKind::Numeric, values.clone()),
        // A numeric spec always reads numbers: this pairing cannot occur.
        (ColumnEncoder::Numeric, RawColumn::Labels { codes, .. }) => {
            (FeatureKind::Numeric, vec![f64::NAN; codes.len()])
        }
    };
    FeatureColumn {
        name: name.to_string(),
        kind,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Int64Array, StringArray};

    fn labels(values: &[Option<&str>]) -> RawColumn {
        read_labels("c", &StringArray::from(values.to_vec())).expect("labels")
    }

    #[test]
    fn codes_follow_training_frequency_and_reserve_unseen() {
        let spec = [FeatureSpec {
            name: "c".into(),
            kind: ColumnKind::Categorical,
        }];
        let train = RawTable {
            columns: vec![labels(&[
                Some("b"),
                Some("a"),
                Some("b"),
                None,
                Some("a"),
                Some("b"),
            ])],
            rows: 6,
        };
        let test = RawTable {
            columns: vec![labels(&[Some("a"), Some("z"), None, Some("b")])],
            rows: 4,
        };
        let encoder = FeatureEncoder::fit(&spec, &[&train]);
        let encoded = encoder.encode(&test);
        // b: 3 rows → 0, a: 2 → 1, null: 1 → 2, unseen z → the reserved 3.
        assert_eq!(
            encoded.columns[0].kind,
            FeatureKind::Categorical { categories: 3 }
        );
        assert_eq!(encoded.columns[0].values, vec![1.0, 3.0, 2.0, 0.0]);
    }

    #[test]
    fn numbers_and_booleans_read_as_labels() {
        let ints = read_labels("n", &Int64Array::from(vec![Some(3), None, Some(3)])).expect("ints");
        let RawColumn::Labels { labels, codes } = ints else {
            panic!("labels expected");
        };
        assert_eq!(labels, vec![Some("3".to_string()), None]);
        assert_eq!(codes, vec![0, 1, 0]);
        let flags = read_labels("f", &BooleanArray::from(vec![true, false])).expect("flags");
        assert!(matches!(flags, RawColumn::Labels { ref labels, .. } if labels.len() == 2));
    }
}
