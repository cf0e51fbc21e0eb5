//! The second pass over a CSV file: with the schema known, records become typed Arrow
//! batches, one batch at a time, so memory holds one batch of raw text at most.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::SchemaRef;
use mirage_core::Schema;
use mirage_core::schema::PhysicalType;

use crate::cell::{NullTokens, parse_bool, parse_float, parse_int};
use crate::csv::CsvDialect;
use crate::csv::tokenizer::{RawRecord, TokenizeError, Tokenizer};
use crate::datetime::{DatetimeFormat, TIMESTAMP_FORMAT};
use crate::error::{DataError, Result};
use crate::source::{FileFormat, detect_format, open_text};

/// How one column's cells are parsed.
#[derive(Debug, Clone)]
pub(crate) enum CellParser {
    Int,
    Float,
    Boolean,
    Text,
    Datetime(DatetimeFormat),
}

impl CellParser {
    /// The parser for a column stored as `physical`, whose datetimes are written in
    /// `datetime_format` (Mirage's [`TIMESTAMP_FORMAT`] when `None`); `None` when that
    /// format is not a valid one.
    pub(crate) fn for_column(
        physical: PhysicalType,
        datetime_format: Option<&str>,
    ) -> Option<Self> {
        Some(match physical {
            PhysicalType::Int64 => CellParser::Int,
            PhysicalType::Float64 => CellParser::Float,
            PhysicalType::Boolean => CellParser::Boolean,
            PhysicalType::Utf8 => CellParser::Text,
            PhysicalType::TimestampMillis => CellParser::Datetime(DatetimeFormat::new(
                datetime_format.unwrap_or(TIMESTAMP_FORMAT),
            )?),
        })
    }

    /// What a value must look like, for error messages.
    pub(crate) fn expected(&self) -> String {
        match self {
            CellParser::Int => "integer".into(),
            CellParser::Float => "number".into(),
            CellParser::Boolean => "boolean (true/false, yes/no, t/f, y/n or 1/0)".into(),
            CellParser::Text => "text".into(),
            CellParser::Datetime(format) => format!("datetime in format {}", format.pattern()),
        }
    }

    pub(crate) fn builder_for(&self, capacity: usize) -> ColumnBuilder {
        match self {
            CellParser::Int => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            CellParser::Float => ColumnBuilder::Float(Float64Builder::with_capacity(capacity)),
            CellParser::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            CellParser::Text => {
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 8))
            }
            CellParser::Datetime(_) => {
                ColumnBuilder::Datetime(TimestampMillisecondBuilder::with_capacity(capacity))
            }
        }
    }
}

/// An Arrow builder for one column of a batch.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Boolean(BooleanBuilder),
    Text(StringBuilder),
    Datetime(TimestampMillisecondBuilder),
}

impl ColumnBuilder {
    pub(crate) fn append_null(&mut self) {
        match self {
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Float(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Datetime(b) => b.append_null(),
        }
    }

    /// Parses and appends `text`; `false` when it does not parse.
    pub(crate) fn append(&mut self, parser: &CellParser, text: &str) -> bool {
        match (self, parser) {
            (ColumnBuilder::Int(b), _) => parse_int(text).map(|v| b.append_value(v)).is_some(),
            (ColumnBuilder::Float(b), _) => parse_float(text).map(|v| b.append_value(v)).is_some(),
            (ColumnBuilder::Boolean(b), _) => parse_bool(text).map(|v| b.append_value(v)).is_some(),
            (ColumnBuilder::Text(b), _) => {
                b.append_value(text);
                true
            }
            (ColumnBuilder::Datetime(b), CellParser::Datetime(format)) => {
                format.parse(text).map(|v| b.append_value(v)).is_some()
            }
            (ColumnBuilder::Datetime(_), _) => false,
        }
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Float(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Datetime(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Reads a CSV file with a known schema as typed Arrow batches that follow
/// `schema.arrow_schema()`. Each item is one batch of up to `batch_size` rows; after an
/// error the iterator ends.
pub struct CsvBatchReader {
    path: PathBuf,
    tokenizer: Tokenizer<Box<dyn BufRead + Send>>,
    record: RawRecord,
    names: Vec<String>,
    parsers: Vec<CellParser>,
    arrow_schema: SchemaRef,
    nulls: NullTokens,
    batch_size: usize,
    done: bool,
}

impl std::fmt::Debug for CsvBatchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvBatchReader")
            .field("path", &self.path)
            .field("columns", &self.names)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl CsvBatchReader {
    /// Opens `path` (plain or gzip) to read it as `schema` in the given dialect.
    pub fn open(
        path: &Path,
        schema: &Schema,
        dialect: &CsvDialect,
        batch_size: usize,
    ) -> Result<Self> {
        let gzip = matches!(detect_format(path)?, FileFormat::Csv { gzip: true });
        let reader = open_text(path, gzip)?;
        let mut parsers = Vec::with_capacity(schema.len());
        for column in &schema.columns {
            let parser = CellParser::for_column(column.physical, column.datetime_format())
                .ok_or_else(|| DataError::UnsupportedOverride {
                    path: path.to_path_buf(),
                    column: column.name.clone(),
                    message: format!(
                        "{:?} is not a valid datetime format; fix it in the schema file",
                        column.datetime_format().unwrap_or(TIMESTAMP_FORMAT)
                    ),
                })?;
            parsers.push(parser);
        }
        let mut this = Self {
            path: path.to_path_buf(),
            tokenizer: Tokenizer::new(reader, dialect.delimiter, dialect.trim),
            record: RawRecord::default(),
            names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            parsers,
            arrow_schema: schema.arrow_schema(),
            nulls: NullTokens::new(&dialect.na_values),
            batch_size: batch_size.max(1),
            done: false,
        };
        if dialect.has_header && !this.next_record()? {
            return Err(DataError::EmptyFile { path: this.path });
        }
        Ok(this)
    }

    fn next_record(&mut self) -> Result<bool> {
        self.tokenizer
            .next_record(&mut self.record)
            .map_err(|e| tokenize_error(&self.path, e))
    }

    fn read_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut builders: Vec<ColumnBuilder> = self
            .parsers
            .iter()
            .map(|p| p.builder_for(self.batch_size))
            .collect();
        let mut rows = 0;
        while rows < self.batch_size && self.next_record()? {
            check_width(&self.path, &self.record, self.names.len())?;
            for (i, (builder, parser)) in builders.iter_mut().zip(&self.parsers).enumerate() {
                let text = field_text(&self.path, &self.record, i, &self.names)?;
                if self.nulls.is_null(text) {
                    builder.append_null();
                } else if !builder.append(parser, text) {
                    return Err(DataError::InvalidValue {
                        path: self.path.clone(),
                        line: self.record.field_line(i),
                        column: self.names[i].clone(),
                        value: text.to_string(),
                        expected: parser.expected(),
                    });
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let arrays = builders.into_iter().map(ColumnBuilder::finish).collect();
        Ok(Some(RecordBatch::try_new(
            self.arrow_schema.clone(),
            arrays,
        )?))
    }
}

impl Iterator for CsvBatchReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The error for a tokenizer failure in `path`.
pub(crate) fn tokenize_error(path: &Path, error: TokenizeError) -> DataError {
    match error {
        TokenizeError::Io(source) => DataError::io(path, source),
        TokenizeError::UnterminatedQuote { line } => DataError::UnterminatedQuote {
            path: path.to_path_buf(),
            line,
        },
    }
}

/// Fails unless the record has `expected` fields.
pub(crate) fn check_width(path: &Path, record: &RawRecord, expected: usize) -> Result<()> {
    if record.len() == expected {
        return Ok(());
    }
    Err(DataError::RaggedRow {
        path: path.to_path_buf(),
        line: record.line(),
        expected,
        found: record.len(),
    })
}

/// Field `index` as text, or an error naming its line and column when it is not UTF-8.
pub(crate) fn field_text<'r>(
    path: &Path,
    record: &'r RawRecord,
    index: usize,
    names: &[String],
) -> Result<&'r str> {
    record.field(index).ok_or_else(|| DataError::InvalidUtf8 {
        path: path.to_path_buf(),
        line: record.field_line(index),
        column: crate::error::column_label(names, index),
    })
}
