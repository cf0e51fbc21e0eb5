//! Generation: conditioned sampling, decoding tokens into Arrow columns, and imputation.

use arrow::array::{Array, ArrayRef, RecordBatch};
use mirage_core::{Condition, Table, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::sampler::{TokenRequest, generate};
use super::{ColumnCodec, ColumnOrder, TabularArgn, encode_column};
use crate::columns::{build_values, value_at};
use crate::error::{ModelError, Result};

impl TabularArgn {
    /// Draws rows with the given conditions (operands in the columns' units, as
    /// [`crate::sampling`] resolves them): conditioned columns come first in every row's
    /// order and may only take tokens that satisfy their conditions; decoded values are
    /// drawn inside the allowed part of their bin. Keys and text cannot be conditioned on.
    pub fn sample_with_conditions(
        &self,
        rows: usize,
        first_row: u64,
        conditions: &[Condition],
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let columns = self.network_columns.len();
        let mut by_column: Vec<Vec<&Condition>> = vec![Vec::new(); columns];
        for condition in conditions {
            let position = self
                .schema
                .index_of(&condition.column)
                .and_then(|i| self.network_columns.iter().position(|&c| c == i))
                .ok_or_else(|| ModelError::InvalidCondition {
                    condition: condition.to_string(),
                    message: "the column is not modelled by the network (keys and free text \
                              cannot be conditioned on)"
                        .into(),
                })?;
            by_column[position].push(condition);
        }
        let mut allowed: Vec<Option<Vec<bool>>> = Vec::with_capacity(columns);
        for (column, conditions) in by_column.iter().enumerate() {
            if conditions.is_empty() {
                allowed.push(None);
                continue;
            }
            let mask = self.encoder(column).allowed(conditions);
            if !mask.iter().any(|&a| a) {
                let text: Vec<String> = conditions.iter().map(|c| c.to_string()).collect();
                return Err(ModelError::InvalidCondition {
                    condition: text.join(", "),
                    message: "no value the model can generate satisfies it".into(),
                });
            }
            allowed.push(Some(mask));
        }
        let first: Vec<bool> = by_column.iter().map(|c| !c.is_empty()).collect();
        let tokens = generate(
            &self.heads,
            &TokenRequest {
                rows,
                fixed: &[],
                allowed: &allowed,
                first: &first,
                random_order: self.config.order == ColumnOrder::Random,
                temperature: self.config.temperature,
                top_p: self.config.top_p,
            },
            rng,
        )?;
        self.decode(&tokens, rows, first_row, &by_column, rng)
    }

    fn decode(
        &self,
        tokens: &[Vec<u32>],
        rows: usize,
        first_row: u64,
        conditions: &[Vec<&Condition>],
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let mut network_column = 0;
        for (column, codec) in self.schema.columns.iter().zip(&self.columns) {
            let array: ArrayRef = match codec {
                ColumnCodec::Tokens(encoder) => {
                    let column_conditions = &conditions[network_column];
                    let values: Vec<Value> = tokens[network_column]
                        .iter()
                        .map(|&t| encoder.decode(t, column_conditions, rng))
                        .collect();
                    network_column += 1;
                    let refs: Vec<Option<&Value>> = values.iter().map(Some).collect();
                    build_values(&column.name, column.physical, &refs)?
                }
                ColumnCodec::Key(generator) => generator.array(column.physical, rows, first_row),
                ColumnCodec::Text(generator) => generator.array(rows, rng),
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }

    /// Fills the nulls of `table` (same schema as the model): known cells stay as they
    /// are and come first in every row's order; the missing ones are drawn given them,
    /// never as null. Keys and text are left as they are.
    pub fn impute(&self, table: &Table, seed: u64) -> Result<Table> {
        if table.schema().columns.len() != self.schema.len() {
            return Err(ModelError::UnsupportedColumn {
                column: "*".into(),
                message: "the table's columns differ from the model's".into(),
            });
        }
        let rows = table.num_rows();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut fixed = Vec::with_capacity(self.network_columns.len());
        let mut allowed = Vec::with_capacity(self.network_columns.len());
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (position, &index) in self.network_columns.iter().enumerate() {
            let encoder = self.encoder(position);
            let array = table.column(index)?;
            let mut known =
                encode_column(encoder, &self.schema.columns[index].name, array.as_ref())?;
            if let Some(null) = encoder.null_token() {
                for (row, token) in known.iter_mut().enumerate() {
                    if array.is_null(row) || *token == Some(null) {
                        *token = None;
                    }
                }
                let mut mask = vec![true; encoder.cardinality()];
                mask[null as usize] = false;
                allowed.push(mask.iter().any(|&a| a).then_some(mask));
            } else {
                allowed.push(None);
            }
            fixed.push(known);
        }
        let first = vec![false; self.network_columns.len()];
        let tokens = generate(
            &self.heads,
            &TokenRequest {
                rows,
                fixed: &fixed,
                allowed: &allowed,
                first: &first,
                random_order: self.config.order == ColumnOrder::Random,
                temperature: self.config.temperature,
                top_p: self.config.top_p,
            },
            &mut rng,
        )?;
        let mut network_column = 0;
        for (index, (column, codec)) in self.schema.columns.iter().zip(&self.columns).enumerate() {
            let original = table.column(index)?;
            let ColumnCodec::Tokens(encoder) = codec else {
                arrays.push(original);
                continue;
            };
            let mut values = Vec::with_capacity(rows);
            for (row, &token) in tokens[network_column].iter().enumerate() {
                values.push(if original.is_null(row) {
                    encoder.decode(token, &[], &mut rng)
                } else {
                    value_at(&column.name, original.as_ref(), row)?
                });
            }
            network_column += 1;
            let refs: Vec<Option<&Value>> = values.iter().map(Some).collect();
            arrays.push(build_values(&column.name, column.physical, &refs)?);
        }
        let batch = RecordBatch::try_new(self.schema.arrow_schema(), arrays)?;
        Ok(Table::new(self.schema.clone(), vec![batch])?)
    }
}
