//! The Parquet sink: parquet's `ArrowWriter` with zstd pages, the Mirage schema in the file
//! metadata, and row groups flushed as soon as they fill, so memory stays bounded.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use mirage_core::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{DataError, Result};
use crate::parquet::SCHEMA_METADATA_KEY;

/// A row group is flushed once its buffered data passes this many bytes…
pub const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// …or holds this many rows (parquet's own limit, which also keeps row groups a size
/// readers can skip through).
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Encodes batches into row groups and flushes each as it fills.
#[derive(Debug)]
pub(super) struct ParquetSink {
    path: PathBuf,
    writer: ArrowWriter<File>,
}

impl ParquetSink {
    /// Creates the file with the Mirage schema in its key-value metadata.
    pub(super) fn create(path: &Path, schema: &Schema) -> Result<Self> {
        let schema_json = serde_json::to_string(schema).map_err(|e| DataError::InvalidOption {
            option: "schema",
            message: e.to_string(),
        })?;
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                SCHEMA_METADATA_KEY.to_string(),
                schema_json,
            )]))
            .build();
        let writer = ArrowWriter::try_new(file, schema.arrow_schema(), Some(properties))
            .map_err(|e| DataError::parquet(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Bytes of the row group being filled (encoded pages and unencoded values).
    pub(super) fn buffered_bytes(&self) -> usize {
        self.writer.memory_size()
    }

    /// Appends the batch, flushing the row group when it passes [`ROW_GROUP_BYTES`].
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| DataError::parquet(&self.path, e))?;
        if self.writer.memory_size() >= ROW_GROUP_BYTES {
            self.writer
                .flush()
                .map_err(|e| DataError::parquet(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes the last row group and writes the footer.
    pub(super) fn finish(self) -> Result<()> {
        self.writer
            .close()
            .map_err(|e| DataError::parquet(&self.path, e))?;
        Ok(())
    }
}
