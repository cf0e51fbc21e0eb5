//! The entry point of ingest: [`read_table`] picks the reader by the file's format, then
//! flags personal data.

use std::path::Path;
use std::time::Instant;

use mirage_core::Table;
use tracing::info;

use crate::error::Result;
use crate::options::ReadOptions;
use crate::source::{FileFormat, detect_format};

/// Reads a CSV (`.csv`, `.tsv`, `.txt`, any of them gzip-compressed) or Parquet file into a
/// table with an inferred schema, overrides applied and personal data flagged.
pub fn read_table(path: &Path, options: &ReadOptions) -> Result<Table> {
    options.validate()?;
    let started = Instant::now();
    let format = detect_format(path)?;
    let table = match format {
        FileFormat::Parquet => crate::parquet::read_parquet(path, options)?,
        FileFormat::Csv { .. } => crate::csv::read_csv(path, options)?,
    };
    let table = crate::pii::annotate(table, options.overrides.as_ref(), options.detect_pii)?;
    info!(
        path = %path.display(),
        ?format,
        rows = table.num_rows(),
        columns = table.schema().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "table read"
    );
    Ok(table)
}
