//! A table in memory: its schema and its rows as Arrow record batches.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::concat;

use crate::error::{CoreError, Result};
use crate::schema::Schema;

/// Rows of one table, held as Arrow batches that all follow `schema.arrow_schema()`.
#[derive(Debug, Clone)]
pub struct Table {
    schema: Schema,
    batches: Vec<RecordBatch>,
}

impl Table {
    /// A table of these batches; each must have the schema's Arrow layout.
    pub fn new(schema: Schema, batches: Vec<RecordBatch>) -> Result<Self> {
        schema.validate()?;
        let expected = schema.arrow_schema();
        for batch in &batches {
            let actual = batch.schema();
            if actual.fields().len() != expected.fields().len() {
                return Err(CoreError::InvalidValue {
                    column: "*".into(),
                    message: format!(
                        "batch has {} columns, schema has {}",
                        actual.fields().len(),
                        expected.fields().len()
                    ),
                });
            }
            for (have, want) in actual.fields().iter().zip(expected.fields()) {
                if have.name() != want.name() || have.data_type() != want.data_type() {
                    return Err(CoreError::InvalidValue {
                        column: want.name().clone(),
                        message: format!(
                            "batch column {:?} is {}, schema wants {}",
                            have.name(),
                            have.data_type(),
                            want.data_type()
                        ),
                    });
                }
            }
        }
        Ok(Self { schema, batches })
    }

    /// The logical schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// Takes the batches out.
    pub fn into_parts(self) -> (Schema, Vec<RecordBatch>) {
        (self.schema, self.batches)
    }

    /// Total rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// One column as a single contiguous array.
    pub fn column(&self, index: usize) -> Result<ArrayRef> {
        let name = self
            .schema
            .columns
            .get(index)
            .map(|c| c.name.clone())
            .ok_or_else(|| CoreError::UnknownColumn {
                column: format!("#{index}"),
            })?;
        if self.batches.is_empty() {
            return Ok(arrow::array::new_empty_array(
                &self.schema.columns[index].physical.arrow_type(),
            ));
        }
        let parts: Vec<&dyn arrow::array::Array> = self
            .batches
            .iter()
            .map(|b| b.column(index).as_ref())
            .collect();
        concat(&parts).map_err(|e| CoreError::InvalidValue {
            column: name,
            message: e.to_string(),
        })
    }

    /// One column by name as a single contiguous array.
    pub fn column_by_name(&self, name: &str) -> Result<ArrayRef> {
        let index = self
            .schema
            .index_of(name)
            .ok_or_else(|| CoreError::UnknownColumn {
                column: name.to_string(),
            })?;
        self.column(index)
    }

    /// The rows at `indices`, in that order, as a table with the same schema.
    pub fn take_rows(&self, indices: &[u32]) -> Result<Table> {
        let rows = self.num_rows();
        if let Some(bad) = indices.iter().find(|&&i| i as usize >= rows) {
            return Err(CoreError::InvalidValue {
                column: "*".into(),
                message: format!("row {bad} does not exist in a table of {rows} rows"),
            });
        }
        let batch = self.to_single_batch()?;
        let indices = arrow::array::UInt32Array::from(indices.to_vec());
        let columns = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c.as_ref(), &indices, None))
            .collect::<Result<Vec<_>, _>>()?;
        let taken = RecordBatch::try_new(batch.schema(), columns)?;
        Table::new(self.schema.clone(), vec![taken])
    }

    /// All rows in one batch.
    pub fn to_single_batch(&self) -> Result<RecordBatch> {
        Ok(arrow::compute::concat_batches(
            &self.schema.arrow_schema(),
            &self.batches,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ColumnKind, ColumnSchema, PhysicalType};
    use arrow::array::{Array, Int64Array};
    use std::sync::Arc;

    #[test]
    fn take_rows_follows_the_indices_across_batches() {
        let schema = Schema::new(vec![ColumnSchema::new(
            "n",
            ColumnKind::Integer,
            PhysicalType::Int64,
        )])
        .expect("schema");
        let batch = |values: Vec<i64>| {
            RecordBatch::try_new(
                schema.arrow_schema(),
                vec![Arc::new(Int64Array::from(values))],
            )
            .expect("batch")
        };
        let table =
            Table::new(schema.clone(), vec![batch(vec![1, 2]), batch(vec![3, 4])]).expect("table");
        let taken = table.take_rows(&[3, 0, 2]).expect("take");
        let column = taken.column(0).expect("column");
        let values = column.as_any().downcast_ref::<Int64Array>().expect("ints");
        assert_eq!(values.values().to_vec(), vec![4, 1, 3]);
        assert!(table.take_rows(&[9]).is_err());
    }
}
