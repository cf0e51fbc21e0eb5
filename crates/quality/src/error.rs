//! The errors of the quality crate.

use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, CoreError, ErrorCode};

/// Why a quality report could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// The synthetic table stores a column in a type that cannot be compared with the real one.
    #[error(
        "column {column:?}: the real table stores it as {real:?} but the synthetic table as \
         {synthetic:?}; generate the synthetic column with the real column's type"
    )]
    IncompatibleColumn {
        /// The column.
        column: String,
        /// Its physical type in the real table.
        real: PhysicalType,
        /// Its physical type in the synthetic table.
        synthetic: PhysicalType,
    },
    /// A column's kind does not fit how it is stored (e.g. a number held as text).
    #[error(
        "column {column:?} is {kind} but stored as {physical:?}; fix the column's kind or \
         convert it before scoring"
    )]
    UnsupportedStorage {
        /// The column.
        column: String,
        /// Its kind in the real schema.
        kind: ColumnKind,
        /// How it is stored.
        physical: PhysicalType,
    },
    /// A column's Arrow array is not of the type its schema promises (a bug upstream).
    #[error("column {column:?}: unexpected arrow type {data_type}")]
    UnexpectedArrowType {
        /// The column.
        column: String,
        /// The Arrow type found.
        data_type: String,
    },
    /// Nothing is left to score once missing, identifier and text columns are set aside.
    #[error(
        "no column can be scored: the synthetic table shares no numeric or categorical column \
         with the real table ({skipped} columns skipped)"
    )]
    NoComparableColumns {
        /// How many real columns were skipped.
        skipped: usize,
    },
    /// The options make no sense.
    #[error("invalid quality options: {message}")]
    InvalidOptions {
        /// What is wrong.
        message: String,
    },
    /// A table could not hand over a column.
    #[error("table: {0}")]
    Core(#[from] CoreError),
    /// A privacy evaluation could not run.
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    /// Utility or detection could not run.
    #[error(transparent)]
    Utility(#[from] crate::utility::UtilityError),
    /// A report could not be read back from JSON.
    #[error("quality report json: {0}")]
    Json(#[from] serde_json::Error),
}

impl QualityError {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            QualityError::Core(inner) => inner.code(),
            QualityError::UnexpectedArrowType { .. } => ErrorCode::Internal,
            _ => ErrorCode::InvalidArgument,
        }
    }
}

/// Result with [`QualityError`].
pub type Result<T, E = QualityError> = std::result::Result<T, E>;
