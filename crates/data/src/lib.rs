//! Mirage ingest: reading tables, inferring their schema, profiling them and finding the
//! personal data in them.
//!
//! The flow of [`read_table`]:
//!
//! 1. [`source`] tells Parquet, gzip and plain text apart by their first bytes.
//! 2. For CSV, [`csv::sniff`] guesses the delimiter and header from the first 64 KiB; a
//!    first streaming pass ([`csv::infer_csv_schema`]) tokenizes every record with the
//!    [`csv::tokenizer`] and feeds one [`infer::ColumnInference`] per column (constant
//!    memory); the [`overrides`] are applied; a second streaming pass
//!    ([`csv::CsvBatchReader`]) builds typed Arrow batches.
//! 3. For Parquet, [`parquet`] casts each batch to Mirage's storage and infers kinds from
//!    the values.
//! 4. [`pii`] flags columns holding personal data.
//!
//! [`profile_table`] computes the statistics of a table, [`TableWriter`] writes one batch by
//! batch in bounded memory as CSV or Parquet ([`write_table`] writes a whole table), and
//! [`fake_values`] makes stand-ins for personal data.

#![warn(missing_docs)]

pub mod cell;
pub mod csv;
pub mod datetime;
pub mod error;
pub mod infer;
pub mod options;
pub mod overrides;
pub mod parquet;
pub mod pii;
pub mod profile;
mod read;
pub mod source;
pub mod write;

pub use csv::{CsvBatchReader, CsvDialect, infer_csv_schema, sniff_dialect};
pub use error::{DataError, Result};
pub use options::ReadOptions;
pub use overrides::{ColumnOverride, SchemaOverrides};
pub use pii::fake_values;
pub use profile::{ProfileOptions, profile_table};
pub use read::read_table;
pub use write::{OutputFormat, TableWriter, write_table};
