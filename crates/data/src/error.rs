//! The errors of the ingest crate.
//!
//! Every variant that comes from a user's file names the file, and where it can, the
//! 1-based physical line and the column (by name, or by 1-based position before the header
//! is known), so that a message alone is enough to find and fix the problem.

use std::path::{Path, PathBuf};

use mirage_core::ErrorCode;

/// Errors raised while reading, profiling or writing tables.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}; check that the path exists and is readable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file has no rows at all.
    #[error("{path}: the file is empty; give a file with a header row and at least one data row")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header row and nothing else.
    #[error(
        "{path}: the file has a header row but no data rows; add data rows or check the file is complete"
    )]
    NoDataRows {
        /// The file.
        path: PathBuf,
    },
    /// A quoted field is never closed.
    #[error(
        "{path}: line {line}: a quoted field starts here but its closing quote is missing; close the quote, or write a quote inside a quoted field as \"\""
    )]
    UnterminatedQuote {
        /// The file.
        path: PathBuf,
        /// The line where the quoted field begins.
        line: u64,
    },
    /// A row has a different number of fields than the header.
    #[error(
        "{path}: line {line}: expected {expected} fields, found {found}; check the delimiter and the quoting on that line"
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// The line where the row begins.
        line: u64,
        /// Fields in the header (or first row).
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A field holds bytes that are not UTF-8.
    #[error(
        "{path}: line {line}, column {column}: the bytes are not valid UTF-8; re-save the file as UTF-8"
    )]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The line where the field begins.
        line: u64,
        /// The column, as a quoted name or a 1-based position.
        column: String,
    },
    /// Two columns share a name.
    #[error(
        "{path}: two columns are named {column:?}; rename one of them so that every column name is unique"
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        column: String,
    },
    /// A column holds no values at all, so its type cannot be inferred.
    #[error(
        "{path}: column {column:?} is empty (every value is null), so its type cannot be inferred; drop the column or give it a kind in the schema file"
    )]
    AllNullColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A value does not parse as its column's type.
    #[error(
        "{path}: line {line}, column {column:?}: {value:?} is not a valid {expected}; fix the value or give the column another kind in the schema file"
    )]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// The 1-based physical line where the value's field begins.
        line: u64,
        /// The column.
        column: String,
        /// The offending text.
        value: String,
        /// What was expected, e.g. "integer" or "datetime in format %d/%m/%Y".
        expected: String,
    },
    /// A value stored as text in a Parquet file does not parse as its overridden type.
    #[error(
        "{path}: row {row}, column {column:?}: {value:?} is not a valid {expected}; fix the value or give the column another kind in the schema file"
    )]
    InvalidStoredValue {
        /// The file.
        path: PathBuf,
        /// The 1-based row of the value.
        row: u64,
        /// The column.
        column: String,
        /// The offending text.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The schema-override file could not be parsed.
    #[error("{path}: cannot read the schema file: {message}")]
    OverridesSyntax {
        /// The schema file.
        path: PathBuf,
        /// The parser's message, with its position.
        message: String,
    },
    /// A field of the schema-override file has a value Mirage does not know.
    #[error("{path}: {field}: {message}")]
    OverridesField {
        /// The schema file.
        path: PathBuf,
        /// The field, e.g. `columns.age.kind`.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// The schema-override file names a column the data does not have.
    #[error(
        "{overrides}: {field} names column {column:?}, which {data} does not have; the columns are: {available}"
    )]
    UnknownOverrideColumn {
        /// The schema file.
        overrides: PathBuf,
        /// The field naming the column, e.g. `columns.zip` or `primary_key`.
        field: String,
        /// The unknown column.
        column: String,
        /// The data file.
        data: PathBuf,
        /// The data's columns, comma separated.
        available: String,
    },
    /// A Parquet column has a type Mirage cannot hold.
    #[error(
        "{path}: column {column:?} has type {data_type}, which Mirage cannot read; convert it to a number, string, boolean, date or timestamp"
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The Arrow type.
        data_type: String,
    },
    /// An override asks for a conversion Mirage cannot make.
    #[error("{path}: column {column:?}: {message}")]
    UnsupportedOverride {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What cannot be done and what to do instead.
        message: String,
    },
    /// The file extension names no format Mirage can write.
    #[error("{path}: cannot tell the output format from the extension; use .csv or .parquet")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A batch handed to a table writer does not have the table's columns.
    #[error(
        "{path}: cannot write the batch: {message}; give batches with the table's columns in order"
    )]
    BatchMismatch {
        /// The file being written.
        path: PathBuf,
        /// Which column differs and how.
        message: String,
    },
    /// The Parquet library failed.
    #[error("{path}: parquet: {source}; check that the file is a complete Parquet file")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The library's error.
        source: parquet::errors::ParquetError,
    },
    /// An option is out of range.
    #[error("invalid option {option}: {message}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Arrow refused an operation.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A domain type refused the result.
    #[error(transparent)]
    Core(#[from] mirage_core::CoreError),
}

impl DataError {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            DataError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorCode::NotFound
            }
            DataError::Arrow(_) => ErrorCode::Internal,
            DataError::Core(inner) => inner.code(),
            _ => ErrorCode::InvalidArgument,
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A Parquet error on `path`.
    pub(crate) fn parquet(path: &Path, source: parquet::errors::ParquetError) -> Self {
        DataError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// How an error names a column: its quoted name when known, else its 1-based position.
pub(crate) fn column_label(names: &[String], index: usize) -> String {
    match names.get(index) {
        Some(name) => format!("{name:?}"),
        None => (index + 1).to_string(),
    }
}
