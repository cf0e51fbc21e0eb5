//! The data transformer of the GAN and VAE models (CTGAN, CopulaGAN, TVAE): tables to
//! fixed-width numeric rows and back.
//!
//! - Numeric and datetime columns get mode-specific normalization ([`mixture`]: a
//!   variational Gaussian mixture with a Dirichlet-process prior per column; encoding in
//!   `continuous.rs`), optionally after mapping the values to normal scores through a
//!   fitted marginal (the Gaussian-copula preprocessing of CopulaGAN). Datetimes add
//!   cyclical features; nulls add a (present, null) indicator.
//! - Categorical and boolean columns get a one-hot with null as a category, or a compact
//!   base-B digit encoding when they have many categories (`discrete.rs`).
//! - Keys, free text and constants are generated outside the network and take no width.
//!
//! Fitting and encoding use all cores (`parallel.rs`, scoped threads): the columns are
//! fitted in parallel, each mixture on a seeded sample of at most
//! [`TransformerOptions::fit_sample`] values (50,000 by default) so that fitting cost does
//! not grow with the table; categorical codes are computed column-parallel, and the
//! matrix is written in parallel chunks of 4,096 rows (all columns of a chunk), O(rows × K)
//! with no allocation per row. Each (column, chunk) draws modes from its own ChaCha8
//! stream, so results do not depend on the number of threads.

pub mod calibration;
mod continuous;
mod discrete;
mod dp;
pub mod grid;
pub mod mixture;
mod options;
mod parallel;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Schema, Table, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tracing::debug;

pub use mixture::BayesianGaussianMixture;
pub use options::TransformerOptions;

use crate::columns::{build_numeric, build_values, encode_categories};
use crate::copula::{KeyGenerator, NumberKind, TextGenerator};
use crate::error::{ModelError, Result};
use continuous::{ContinuousColumn, NumberReader};
use discrete::{CategoryLayout, DiscreteEncoding};

/// Rows encoded together by one worker; each (column, chunk) pair has its own random
/// stream, so results do not depend on the number of threads.
const CHUNK_ROWS: usize = 4_096;

/// The activation a network applies to a span of its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Element-wise tanh: values in [-1, 1].
    Tanh,
    /// A softmax over the span: one category (or mode, digit, null flag) of several.
    Softmax,
}

/// A slice of the encoded row with one activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First position in the row.
    pub start: usize,
    /// Number of positions.
    pub width: usize,
    /// How the network's outputs in the span are activated.
    pub activation: Activation,
}

/// A discrete column the conditional vector can select: a one-hot categorical or boolean
/// column, or the null indicator of a numeric column with nulls (not high-cardinality
/// digits, not mode indicators). Null indicators are discrete columns like any other:
/// CTGAN's training-by-sampling then shows the generator the rare null rows as often as
/// the common ones, which keeps it from dropping them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscreteColumn {
    /// The column's name.
    pub column: String,
    /// Its one-hot's index into [`DataTransformer::spans`].
    pub span: usize,
    /// Number of categories (null included when the column had nulls).
    pub categories: usize,
    /// Training rows per category.
    pub frequencies: Vec<u64>,
    /// The (present, null) indicator of numeric column `column`, not the column itself:
    /// conditions on the column's values never map to it.
    #[serde(default)]
    pub null_indicator: bool,
}

/// A table in encoded form.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Number of rows.
    pub rows: usize,
    /// Width of each row.
    pub width: usize,
    /// Row-major `rows × width` values.
    pub data: Vec<f32>,
    /// For each [`DiscreteColumn`], each row's category index (`codes[d][row]`).
    pub codes: Vec<Vec<u32>>,
}

/// How one column is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoder", rename_all = "snake_case")]
enum ColumnTransform {
    /// Mode-specific normalization.
    Continuous(ContinuousColumn),
    /// One-hot or digits.
    Discrete(DiscreteEncoding),
    /// Unique keys, outside the network.
    Key(KeyGenerator),
    /// Free text, outside the network.
    Text(TextGenerator),
    /// One value (or null at the training null rate), outside the network.
    Constant {
        /// The value.
        value: Value,
        /// Share of nulls.
        null_rate: f64,
    },
    /// A column with no values at all.
    Null,
}

impl ColumnTransform {
    fn spans(&self) -> Vec<(usize, Activation)> {
        match self {
            ColumnTransform::Continuous(c) => c.spans(),
            ColumnTransform::Discrete(d) => d.spans(),
            _ => Vec::new(),
        }
    }
}

/// The fitted transformer; serialisable into a model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTransformer {
    options: TransformerOptions,
    schema: Schema,
    columns: Vec<ColumnTransform>,
    /// Where each column's slice of the row starts.
    offsets: Vec<usize>,
    spans: Vec<Span>,
    discrete: Vec<DiscreteColumn>,
    width: usize,
}

impl DataTransformer {
    /// Fits an encoding for every column of `table`.
    pub fn fit(table: &Table, options: &TransformerOptions) -> Result<Self> {
        options.validate()?;
        let schema = table.schema().clone();
        let rows = table.num_rows();
        crate::synthesizer::ensure_not_empty(table)?;
        let fitted = parallel::map(schema.len(), |index| fit_column(table, index, options));
        let mut transforms = Vec::with_capacity(schema.len());
        for (column, result) in schema.columns.iter().zip(fitted) {
            let (transform, frequencies) = result?;
            if let ColumnTransform::Continuous(c) = &transform {
                debug!(
                    column = %column.name,
                    components = c.mixture.components(),
                    iterations = c.mixture.iterations,
                    "mixture fitted"
                );
            }
            transforms.push((transform, frequencies));
        }
        Ok(Self::assemble(schema, transforms, options, |c| {
            vec![rows as u64 - c.null_count, c.null_count]
        }))
    }

    /// Lays fitted column transforms out in a row: offsets, spans, and the discrete
    /// spans the conditional vector and calibration use (one-hot categories with their
    /// frequencies, and numeric null indicators whose `(present, null)` frequencies
    /// `null_frequencies` gives).
    fn assemble(
        schema: Schema,
        transforms: Vec<(ColumnTransform, Option<Vec<u64>>)>,
        options: &TransformerOptions,
        null_frequencies: impl Fn(&ContinuousColumn) -> Vec<u64>,
    ) -> Self {
        let mut columns = Vec::with_capacity(schema.len());
        let (mut offsets, mut spans, mut discrete) = (Vec::new(), Vec::new(), Vec::new());
        let mut width = 0;
        for (column, (transform, frequencies)) in schema.columns.iter().zip(transforms) {
            offsets.push(width);
            if let (Some(frequencies), ColumnTransform::Discrete(encoding)) =
                (frequencies, &transform)
                && encoding.layout == CategoryLayout::OneHot
            {
                discrete.push(DiscreteColumn {
                    column: column.name.clone(),
                    span: spans.len(),
                    categories: encoding.categories.len(),
                    frequencies,
                    null_indicator: false,
                });
            }
            if let ColumnTransform::Continuous(c) = &transform
                && c.has_nulls
            {
                // Spans: alpha, modes, then the (present, null) indicator.
                discrete.push(DiscreteColumn {
                    column: column.name.clone(),
                    span: spans.len() + 2,
                    categories: 2,
                    frequencies: null_frequencies(c),
                    null_indicator: true,
                });
            }
            for (span_width, activation) in transform.spans() {
                spans.push(Span {
                    start: width,
                    width: span_width,
                    activation,
                });
                width += span_width;
            }
            columns.push(transform);
        }
        Self {
            options: options.clone(),
            schema,
            columns,
            offsets,
            spans,
            discrete,
            width,
        }
    }

    /// The encoded row width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The spans of the row, in order, covering `0..width` exactly.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The columns the conditional vector can select.
    pub fn discrete_columns(&self) -> &[DiscreteColumn] {
        &self.discrete
    }

    /// The schema of generated rows.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The options the transformer was fitted with.
    pub fn options(&self) -> &TransformerOptions {
        &self.options
    }

    /// The indices into [`Self::spans`] of a column's spans (empty for keys, text and
    /// constants). A numeric column's spans are alpha (tanh, width 1), modes (softmax),
    /// then the null indicator (softmax, 2) if it had nulls, then the cyclical features
    /// (tanh) if it is a datetime.
    pub fn column_spans(&self, column: &str) -> Option<std::ops::Range<usize>> {
        let index = self.schema.index_of(column)?;
        let start: usize = self.columns[..index].iter().map(|c| c.spans().len()).sum();
        Some(start..start + self.columns[index].spans().len())
    }

    fn transform_of(&self, column: &str) -> Option<&ColumnTransform> {
        self.schema.index_of(column).map(|i| &self.columns[i])
    }

    /// Encodes `table` (which must have the fitted columns): a row-major `rows × width`
    /// matrix, and for each [`DiscreteColumn`] the category index of each row. The modes
    /// of numeric values are drawn from their posterior with `rng`.
    pub fn transform(&self, table: &Table, rng: &mut ChaCha8Rng) -> Result<Encoded> {
        let rows = table.num_rows();
        let width = self.width;
        let needed = |c: usize| {
            matches!(
                self.columns[c],
                ColumnTransform::Continuous(_) | ColumnTransform::Discrete(_)
            )
        };
        let arrays = parallel::map(self.columns.len(), |c| -> Result<Option<ArrayRef>> {
            if !needed(c) {
                return Ok(None);
            }
            Ok(Some(table.column_by_name(&self.schema.columns[c].name)?))
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        let mut codes = parallel::map(self.columns.len(), |c| -> Result<Option<Vec<u32>>> {
            match (&self.columns[c], &arrays[c]) {
                (ColumnTransform::Discrete(encoding), Some(array)) => Ok(Some(
                    encoding.codes(&self.schema.columns[c].name, array.as_ref())?,
                )),
                _ => Ok(None),
            }
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        let mut readers = Vec::with_capacity(self.columns.len());
        for (c, array) in arrays.iter().enumerate() {
            readers.push(match (&self.columns[c], array) {
                (ColumnTransform::Continuous(_), Some(array)) => Some(NumberReader::new(
                    &self.schema.columns[c].name,
                    array.as_ref(),
                )?),
                _ => None,
            });
        }
        let seed: u64 = rng.random();
        let mut data = vec![0f32; rows * width];
        parallel::for_each_chunk(&mut data, CHUNK_ROWS * width, |chunk_index, chunk| {
            let first = chunk_index * CHUNK_ROWS;
            let mut scratch = vec![0.0; self.options.max_components];
            for (c, transform) in self.columns.iter().enumerate() {
                let offset = self.offsets[c];
                match (transform, &readers[c], &codes[c]) {
                    (ColumnTransform::Continuous(column), Some(reader), _) => {
                        let w = column.width();
                        let scratch = &mut scratch[..column.mixture.components()];
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        rng.set_stream(c as u64);
                        rng.set_word_pos((chunk_index as u128) << 40);
                        for (r, row) in chunk.chunks_exact_mut(width).enumerate() {
                            let out = &mut row[offset..offset + w];
                            column.encode(reader.get(first + r), out, scratch, &mut rng);
                        }
                    }
                    (ColumnTransform::Discrete(encoding), _, Some(codes)) => {
                        let w = encoding.width();
                        for (r, row) in chunk.chunks_exact_mut(width).enumerate() {
                            encoding.encode(codes[first + r], &mut row[offset..offset + w]);
                        }
                    }
                    _ => {}
                }
            }
        });
        let codes = self
            .discrete
            .iter()
            .map(|d| {
                let column = self.schema.index_of(&d.column);
                if d.null_indicator {
                    let reader = column.and_then(|c| readers[c].as_ref());
                    reader.map_or_else(Vec::new, |reader| {
                        (0..rows)
                            .map(|r| u32::from(reader.get(r).is_none()))
                            .collect()
                    })
                } else {
                    column.and_then(|c| codes[c].take()).unwrap_or_default()
                }
            })
            .collect();
        Ok(Encoded {
            rows,
            width,
            data,
            codes,
        })
    }

    /// Decodes `rows` rows (row-major, `width` each, activations applied) into a batch with
    /// the schema's columns: argmax for every softmax group, keys numbered from
    /// `first_row`, text and constants' nulls drawn with `rng`.
    pub fn inverse(
        &self,
        data: &[f32],
        rows: usize,
        first_row: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let width = self.width;
        if data.len() != rows * width {
            return Err(ModelError::Tensor {
                message: format!(
                    "{} values cannot be {rows} rows of width {width}",
                    data.len()
                ),
            });
        }
        let slices = |c: usize, w: usize| {
            let offset = self.offsets[c];
            (0..rows).map(move |r| &data[r * width + offset..r * width + offset + w])
        };
        let built = parallel::map(self.columns.len(), |c| -> Option<Result<ArrayRef>> {
            let column = &self.schema.columns[c];
            Some(match &self.columns[c] {
                ColumnTransform::Continuous(numeric) => {
                    let values: Vec<Option<f64>> = slices(c, numeric.width())
                        .map(|row| numeric.decode(row))
                        .collect();
                    Ok(build_numeric(column.physical, &values))
                }
                ColumnTransform::Discrete(encoding) => {
                    let values: Vec<Option<&Value>> = slices(c, encoding.width())
                        .map(|row| Some(&encoding.categories[encoding.decode(row)]))
                        .collect();
                    build_values(&column.name, column.physical, &values)
                }
                ColumnTransform::Key(generator) => {
                    Ok(generator.array(column.physical, rows, first_row))
                }
                ColumnTransform::Null => Ok(new_null_array(&column.physical.arrow_type(), rows)),
                ColumnTransform::Text(_) | ColumnTransform::Constant { .. } => return None,
            })
        });
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (c, array) in built.into_iter().enumerate() {
            let column = &self.schema.columns[c];
            let array = match (array, &self.columns[c]) {
                (Some(array), _) => array?,
                (None, ColumnTransform::Text(generator)) => generator.array(rows, rng),
                (None, ColumnTransform::Constant { value, null_rate }) => {
                    let values: Vec<Option<&Value>> = (0..rows)
                        .map(|_| {
                            (*null_rate == 0.0 || rng.random::<f64>() >= *null_rate)
                                .then_some(value)
                        })
                        .collect();
                    build_values(&column.name, column.physical, &values)?
                }
                (None, _) => new_null_array(&column.physical.arrow_type(), rows),
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }

    /// For the condition `column == value`: the index into [`Self::discrete_columns`] and
    /// the category's index. `None` when the column is not a one-hot discrete column or the
    /// value never occurred in it.
    pub fn condition_index(&self, column: &str, value: &Value) -> Option<(usize, usize)> {
        let d = self
            .discrete
            .iter()
            .position(|d| d.column == column && !d.null_indicator)?;
        let ColumnTransform::Discrete(encoding) = self.transform_of(column)? else {
            return None;
        };
        let category = encoding.categories.iter().position(|c| {
            c.equals(value)
                || (*c != Value::Null
                    && *value != Value::Null
                    && c.to_string() == value.to_string())
        })?;
        Some((d, category))
    }

    /// The values a discrete or constant column can take (nulls left out).
    pub fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        match self.transform_of(column)? {
            ColumnTransform::Discrete(encoding) => Some(encoding.non_null()),
            ColumnTransform::Constant { value, .. } => Some(vec![value.clone()]),
            _ => None,
        }
    }

    /// The observed range of a numeric or datetime column (generated values stay inside).
    pub fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        match self.transform_of(column)? {
            ColumnTransform::Continuous(c) => Some((c.min, c.max)),
            _ => None,
        }
    }
}

/// Fits column `index`; for one-hot candidates also returns the category frequencies.
fn fit_column(
    table: &Table,
    index: usize,
    options: &TransformerOptions,
) -> Result<(ColumnTransform, Option<Vec<u64>>)> {
    let column = &table.schema().columns[index];
    let name = column.name.as_str();
    let array = table.column(index)?;
    let physical = column.physical;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(index as u64);
    Ok(match &column.kind {
        ColumnKind::Identifier => (
            ColumnTransform::Key(KeyGenerator::fit_column(name, array.as_ref())?),
            None,
        ),
        ColumnKind::Text if physical == PhysicalType::Utf8 => (
            ColumnTransform::Text(TextGenerator::fit_column(name, array.as_ref())?),
            None,
        ),
        ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. }
            if physical != PhysicalType::Utf8 =>
        {
            let kind = if matches!(column.kind, ColumnKind::Datetime { .. })
                || physical == PhysicalType::TimestampMillis
            {
                NumberKind::Datetime
            } else if matches!(column.kind, ColumnKind::Integer) || physical == PhysicalType::Int64
            {
                NumberKind::Integer
            } else {
                NumberKind::Float
            };
            let reader = NumberReader::new(name, array.as_ref())?;
            match ContinuousColumn::fit(&reader, kind, options, &mut rng) {
                Some(fitted) => (ColumnTransform::Continuous(fitted), None),
                None => (ColumnTransform::Null, None),
            }
        }
        ColumnKind::Constant => {
            let (categories, codes) = encode_categories(name, array.as_ref())?;
            let mut counts = vec![0usize; categories.len()];
            codes
                .iter()
                .flatten()
                .for_each(|&c| counts[c as usize] += 1);
            let most = (0..categories.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
            match most {
                Some(i) => {
                    let nulls = codes.iter().filter(|c| c.is_none()).count();
                    let value = categories[i].clone();
                    let null_rate = nulls as f64 / codes.len() as f64;
                    (ColumnTransform::Constant { value, null_rate }, None)
                }
                None => (ColumnTransform::Null, None),
            }
        }
        kind => {
            let compact = matches!(kind, ColumnKind::HighCardinality);
            let (encoding, frequencies, _) = DiscreteEncoding::fit(
                name,
                array.as_ref(),
                compact,
                options.high_cardinality_threshold,
                options.digit_base,
            )?;
            if encoding.categories == [Value::Null] {
                (ColumnTransform::Null, None)
            } else {
                (ColumnTransform::Discrete(encoding), Some(frequencies))
            }
        }
    })
}

#[cfg(test)]
mod tests;
