//! Writing tables, whole or batch by batch, as CSV or Parquet (chosen by the extension).
//!
//! [`TableWriter`] is the one code path: it is created with the table's [`Schema`], takes
//! batches as they come and holds at most a bounded buffer in memory (the CSV output
//! buffer, or the Parquet row group being filled, flushed as soon as it passes
//! [`ROW_GROUP_BYTES`] or [`ROW_GROUP_ROWS`]). [`write_table`] writes an in-memory table
//! through it.
//!
//! - `csv_sink.rs`: datetimes in their schema format, booleans in the source's spelling, floats
//!   in shortest round-trip form, nulls as empty cells, quoting only where needed.
//! - `parquet_sink.rs`: native Boolean and Timestamp types, with the Mirage schema in the file
//!   metadata, so that reading it back restores kinds and formats.

mod csv_sink;
mod parquet_sink;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema as ArrowSchema;
use mirage_core::{Schema, Table};

use crate::error::{DataError, Result};

pub use self::parquet_sink::{ROW_GROUP_BYTES, ROW_GROUP_ROWS};

/// The file formats a [`TableWriter`] can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet, zstd-compressed, with the Mirage schema in the file metadata.
    Parquet,
}

impl OutputFormat {
    /// The format `path`'s extension names (`.csv`; `.parquet` or `.pq`), case-insensitively.
    pub fn of(path: &Path) -> Result<Self> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".parquet") || name.ends_with(".pq") {
            Ok(OutputFormat::Parquet)
        } else if name.ends_with(".csv") {
            Ok(OutputFormat::Csv)
        } else {
            Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    }

    /// The format's name for people ("CSV", "Parquet").
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "CSV",
            OutputFormat::Parquet => "Parquet",
        }
    }
}

/// The Parquet writer is boxed: it is large and a writer lives once per file.
#[derive(Debug)]
enum Sink {
    Csv(csv_sink::CsvSink),
    Parquet(Box<parquet_sink::ParquetSink>),
}

/// Writes a table to a file batch by batch in bounded memory.
///
/// Call [`TableWriter::finish`] at the end: until then a CSV file may miss its last
/// buffered rows and a Parquet file has no footer.
#[derive(Debug)]
pub struct TableWriter {
    path: PathBuf,
    arrow_schema: Arc<ArrowSchema>,
    sink: Sink,
    rows: u64,
}

impl TableWriter {
    /// Creates (or truncates) `path` and writes the header (CSV) for a table of `schema`.
    pub fn create(path: &Path, schema: &Schema) -> Result<Self> {
        let format = OutputFormat::of(path)?;
        let sink = match format {
            OutputFormat::Csv => Sink::Csv(csv_sink::CsvSink::create(path, schema)?),
            OutputFormat::Parquet => {
                Sink::Parquet(Box::new(parquet_sink::ParquetSink::create(path, schema)?))
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            arrow_schema: schema.arrow_schema(),
            sink,
            rows: 0,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format being written.
    pub fn format(&self) -> OutputFormat {
        match self.sink {
            Sink::Csv(_) => OutputFormat::Csv,
            Sink::Parquet(_) => OutputFormat::Parquet,
        }
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Bytes held in memory and not yet in the file: the CSV output buffer, or the encoded
    /// and in-progress data of the Parquet row group being filled. Bounded by the buffer
    /// size or the row-group limits plus one batch, whatever the number of rows written.
    pub fn buffered_bytes(&self) -> usize {
        match &self.sink {
            Sink::Csv(sink) => sink.buffered_bytes(),
            Sink::Parquet(sink) => sink.buffered_bytes(),
        }
    }

    /// Appends the rows of `batch`, whose columns must match the schema's names and types.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check(batch)?;
        match &mut self.sink {
            Sink::Csv(sink) => sink.write(batch)?,
            Sink::Parquet(sink) => sink.write(batch)?,
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes what is buffered and closes the file; returns the rows written.
    pub fn finish(self) -> Result<u64> {
        match self.sink {
            Sink::Csv(sink) => sink.finish()?,
            Sink::Parquet(sink) => sink.finish()?,
        }
        Ok(self.rows)
    }

    fn check(&self, batch: &RecordBatch) -> Result<()> {
        let expected = self.arrow_schema.fields();
        let found = batch.schema();
        let found = found.fields();
        let mismatch = |message: String| DataError::BatchMismatch {
            path: self.path.clone(),
            message,
        };
        if expected.len() != found.len() {
            return Err(mismatch(format!(
                "the table has {} columns, the batch {}",
                expected.len(),
                found.len()
            )));
        }
        for (want, got) in expected.iter().zip(found.iter()) {
            if want.name() != got.name() || want.data_type() != got.data_type() {
                return Err(mismatch(format!(
                    "column {:?} ({}) was given as {:?} ({})",
                    want.name(),
                    want.data_type(),
                    got.name(),
                    got.data_type()
                )));
            }
        }
        Ok(())
    }
}

/// Writes `table` to `path`, as CSV or Parquet by the extension (`.csv`, `.parquet`).
pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    let mut writer = TableWriter::create(path, table.schema())?;
    for batch in table.batches() {
        writer.write_batch(batch)?;
    }
    writer.finish()?;
    Ok(())
}
