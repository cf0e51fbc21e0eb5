//! Delimited text: dialect sniffing, the inference pass, and the typed batch reader.
//!
//! A CSV file is read twice, streaming both times: [`infer_csv_schema`] tokenizes every
//! record once and feeds each column's [`ColumnInference`], then [`CsvBatchReader`] reads
//! the file again and builds typed Arrow batches that follow the inferred schema.

pub mod reader;
pub mod sniff;
pub mod tokenizer;

use std::path::Path;

use mirage_core::{ColumnSchema, Schema, Table};
use tracing::debug;

pub use reader::CsvBatchReader;

use crate::cell::NullTokens;
use crate::datetime::inferred_formats;
use crate::error::{DataError, Result};
use crate::infer::ColumnInference;
use crate::options::ReadOptions;
use crate::overrides::resolve_kind;
use crate::source::{FileFormat, detect_format, open_text, read_head};
use reader::{check_width, field_text, tokenize_error};
use sniff::{SNIFF_BYTES, sample_records, sniff_delimiter, sniff_header};
use tokenizer::{RawRecord, Tokenizer};

/// How a delimited file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDialect {
    /// The field delimiter.
    pub delimiter: u8,
    /// Whether the first row names the columns.
    pub has_header: bool,
    /// Whether ASCII whitespace around unquoted fields is dropped.
    pub trim: bool,
    /// Cell texts read as null.
    pub na_values: Vec<String>,
}

/// The dialect of `path`: what `options` fixes, the rest sniffed from its first 64 KiB.
pub fn sniff_dialect(path: &Path, options: &ReadOptions) -> Result<CsvDialect> {
    let gzip = matches!(detect_format(path)?, FileFormat::Csv { gzip: true });
    let (sample, truncated) = read_head(path, gzip, SNIFF_BYTES)?;
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&sample, truncated));
    let has_header = match options.has_header {
        Some(has_header) => has_header,
        None => {
            let records = sample_records(&sample, truncated, delimiter, options.trim);
            sniff_header(
                &records,
                &NullTokens::new(&options.na_values),
                &inferred_formats(),
            )
        }
    };
    Ok(CsvDialect {
        delimiter,
        has_header,
        trim: options.trim,
        na_values: options.na_values.clone(),
    })
}

/// Reads every record of `path` once and infers its schema, with `options.overrides` applied.
pub fn infer_csv_schema(
    path: &Path,
    dialect: &CsvDialect,
    options: &ReadOptions,
) -> Result<Schema> {
    let gzip = matches!(detect_format(path)?, FileFormat::Csv { gzip: true });
    let mut tokenizer = Tokenizer::new(open_text(path, gzip)?, dialect.delimiter, dialect.trim);
    let mut record = RawRecord::default();
    let mut next = |record: &mut RawRecord| {
        tokenizer
            .next_record(record)
            .map_err(|e| tokenize_error(path, e))
    };
    if !next(&mut record)? {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let width = record.len();
    let formats = inferred_formats();
    let nulls = NullTokens::new(&dialect.na_values);
    let threshold = options.high_cardinality_threshold;
    let mut columns: Vec<ColumnInference> = (0..width)
        .map(|_| ColumnInference::new(threshold, formats.len()))
        .collect();
    let names = if dialect.has_header {
        header_names(path, &record)?
    } else {
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let observe = |record: &RawRecord, columns: &mut [ColumnInference]| -> Result<()> {
        check_width(path, record, width)?;
        for (i, column) in columns.iter_mut().enumerate() {
            let text = field_text(path, record, i, &names)?;
            if nulls.is_null(text) {
                column.observe_null();
            } else {
                column.observe(text, &formats);
            }
        }
        Ok(())
    };
    let mut rows: u64 = 0;
    if !dialect.has_header {
        observe(&record, &mut columns)?;
        rows += 1;
    }
    while next(&mut record)? {
        observe(&record, &mut columns)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::NoDataRows {
            path: path.to_path_buf(),
        });
    }
    debug!(path = %path.display(), rows, columns = width, "inferred csv schema");
    build_schema(path, &names, &columns, &formats, options)
}

/// The column names of a header record: trimmed, blanks named by position, all distinct.
fn header_names(path: &Path, record: &RawRecord) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for i in 0..record.len() {
        let name = field_text(path, record, i, &[])?.trim();
        let name = if name.is_empty() {
            format!("column_{}", i + 1)
        } else {
            name.to_string()
        };
        if names.contains(&name) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: name,
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// The schema from per-column inference, with the overrides applied.
fn build_schema(
    path: &Path,
    names: &[String],
    columns: &[ColumnInference],
    formats: &[crate::datetime::DatetimeFormat],
    options: &ReadOptions,
) -> Result<Schema> {
    if let Some(overrides) = &options.overrides {
        overrides.check_columns(names, path)?;
    }
    let mut schema_columns = Vec::with_capacity(names.len());
    for (name, column) in names.iter().zip(columns) {
        let inferred = column.infer(name, formats, options.high_cardinality_threshold);
        let column_override = options.overrides.as_ref().and_then(|o| o.column(name));
        let (kind, physical) = match (column_override.and_then(|o| o.kind.as_ref()), inferred) {
            (Some(kind), inferred) => resolve_kind(
                kind,
                inferred.as_ref().map(|t| t.physical),
                inferred.as_ref().map(|t| &t.kind),
            )
            .map_err(|message| DataError::UnsupportedOverride {
                path: path.to_path_buf(),
                column: name.clone(),
                message,
            })?,
            (None, Some(inferred)) => (inferred.kind, inferred.physical),
            (None, None) => {
                return Err(DataError::AllNullColumn {
                    path: path.to_path_buf(),
                    column: name.clone(),
                });
            }
        };
        // The source's datetime format, kept for a column whose kind does not carry it.
        let datetime_format = column
            .base_type(formats)
            .and_then(|(_, format)| format)
            .map(crate::datetime::DatetimeFormat::pattern);
        let format = column.format_for(&kind, physical, datetime_format);
        let mut schema_column = ColumnSchema::new(name.clone(), kind, physical);
        schema_column.nullable = column.nulls() > 0;
        schema_column.format = format;
        schema_columns.push(schema_column);
    }
    let mut schema = Schema::new(schema_columns)?;
    schema.primary_key = options
        .overrides
        .as_ref()
        .and_then(|o| o.primary_key.clone());
    schema.validate()?;
    Ok(schema)
}

/// Reads a delimited file into a table: sniff, infer, then convert batch by batch.
pub fn read_csv(path: &Path, options: &ReadOptions) -> Result<Table> {
    let dialect = sniff_dialect(path, options)?;
    let schema = infer_csv_schema(path, &dialect, options)?;
    let batches = CsvBatchReader::open(path, &schema, &dialect, options.batch_size)?
        .collect::<Result<Vec<_>>>()?;
    Ok(Table::new(schema, batches)?)
}
