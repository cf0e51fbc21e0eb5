//! Record batches as `RowBatch` messages: each one a self-contained Arrow IPC stream
//! (schema message, the batch, end-of-stream marker), so a client decodes any batch on its
//! own with `arrow::ipc::reader::StreamReader`.
//!
//! Cost: one pass over the batch's buffers into one buffer sized up front (no regrowth);
//! the schema message is a few hundred bytes per batch, negligible against a batch of
//! thousands of rows and what makes every message readable alone.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use mirage_proto::v1;

/// Room for the schema message, the batch's metadata and the end marker beyond the data.
const FRAMING_BYTES: usize = 4096;

/// Encodes batches of one schema.
#[derive(Debug, Clone)]
pub struct BatchEncoder {
    schema: SchemaRef,
    options: IpcWriteOptions,
}

impl BatchEncoder {
    /// An encoder for batches of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            options: IpcWriteOptions::default(),
        }
    }

    /// `batch` as a message whose first row is row `row_offset` of the whole answer.
    pub fn encode(&self, batch: &RecordBatch, row_offset: u64) -> Result<v1::RowBatch, ArrowError> {
        let capacity = batch.get_array_memory_size() + FRAMING_BYTES;
        let mut writer = StreamWriter::try_new_with_options(
            Vec::with_capacity(capacity),
            &self.schema,
            self.options.clone(),
        )?;
        writer.write(batch)?;
        writer.finish()?;
        let arrow_ipc = writer.into_inner()?;
        Ok(v1::RowBatch {
            arrow_ipc,
            row_offset,
            rows: batch.num_rows() as u64,
        })
    }
}

impl BatchEncoder {
    /// `batch` as messages of at most `max_bytes` each (cut into consecutive row ranges
    /// when one message would be larger), the first starting at row `row_offset`. A
    /// single row larger than `max_bytes` is still sent, alone.
    pub fn encode_within(
        &self,
        batch: &RecordBatch,
        row_offset: u64,
        max_bytes: usize,
    ) -> Result<Vec<v1::RowBatch>, ArrowError> {
        let whole = self.encode(batch, row_offset)?;
        let rows = batch.num_rows();
        if whole.arrow_ipc.len() <= max_bytes || rows <= 1 {
            return Ok(vec![whole]);
        }
        // Cut into parts sized from the measured encoding, aiming a tenth under the limit
        // so that one pass usually suffices; a part still too large is cut again.
        let target = (max_bytes - max_bytes / 10).max(1);
        let parts = whole.arrow_ipc.len().div_ceil(target).clamp(2, rows);
        let part_rows = rows.div_ceil(parts);
        let mut messages = Vec::with_capacity(parts);
        let mut start = 0;
        while start < rows {
            let length = part_rows.min(rows - start);
            let part = batch.slice(start, length);
            messages.extend(self.encode_within(&part, row_offset + start as u64, max_bytes)?);
            start += length;
        }
        Ok(messages)
    }
}

/// The batches of an Arrow IPC stream (the inverse of [`BatchEncoder::encode`], for
/// clients and tests).
pub fn decode(arrow_ipc: &[u8]) -> Result<Vec<RecordBatch>, ArrowError> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(arrow_ipc), None)?;
    reader.collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_batch_round_trips_through_its_message() -> anyhow::Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("age", DataType::Float64, true),
            Field::new("sex", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![Some(70.0), None, Some(66.5)])),
                Arc::new(StringArray::from(vec![Some("Female"), Some("Male"), None])),
            ],
        )?;
        let encoder = BatchEncoder::new(schema);
        let message = encoder.encode(&batch, 4096)?;
        assert_eq!((message.rows, message.row_offset), (3, 4096));
        let decoded = decode(&message.arrow_ipc)?;
        assert_eq!(decoded, vec![batch.clone()]);
        // Encoding is deterministic: the same rows give the same bytes.
        assert_eq!(encoder.encode(&batch, 4096)?.arrow_ipc, message.arrow_ipc);
        Ok(())
    }

    #[test]
    fn a_batch_too_large_for_one_message_is_cut_in_order() -> anyhow::Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
        let values: Vec<f64> = (0..100_000).map(f64::from).collect();
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))])?;
        let encoder = BatchEncoder::new(schema);
        let whole = encoder.encode(&batch, 10)?.arrow_ipc.len();
        let limit = whole / 3;
        let messages = encoder.encode_within(&batch, 10, limit)?;
        assert!(messages.len() >= 3, "{} messages", messages.len());
        let mut expected_offset = 10;
        let mut decoded = Vec::new();
        for message in &messages {
            assert!(message.arrow_ipc.len() <= limit);
            assert_eq!(message.row_offset, expected_offset);
            expected_offset += message.rows;
            decoded.extend(decode(&message.arrow_ipc)?);
        }
        assert_eq!(expected_offset, 100_010);
        let schema = batch.schema();
        assert_eq!(arrow::compute::concat_batches(&schema, &decoded)?, batch);
        // Small enough: one message, as is.
        assert_eq!(encoder.encode_within(&batch, 10, whole)?.len(), 1);
        Ok(())
    }
}
