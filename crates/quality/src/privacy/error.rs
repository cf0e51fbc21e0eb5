//! The errors of the privacy evaluation, wrapped by [`QualityError::Privacy`](crate::QualityError).

use mirage_core::schema::PhysicalType;

/// The three tables a privacy evaluation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableRole {
    /// The rows the generator was trained on.
    Train,
    /// Real rows the generator never saw.
    Holdout,
    /// The generated rows.
    Synthetic,
}

impl std::fmt::Display for TableRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TableRole::Train => "training",
            TableRole::Holdout => "holdout",
            TableRole::Synthetic => "synthetic",
        })
    }
}

/// Why a privacy evaluation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivacyError {
    /// A table has too few rows for the distances and attacks.
    #[error(
        "the {table} table has {rows} rows but privacy risk needs at least {needed}; pass a \
         larger {table} table"
    )]
    TooFewRows {
        /// Which table.
        table: TableRole,
        /// Its rows.
        rows: usize,
        /// The least that works.
        needed: usize,
    },
    /// A compared column of the training table is absent from another table.
    #[error(
        "column {column:?} of the training table is missing from the {table} table; give the \
         {table} table every column of the training table"
    )]
    MissingColumn {
        /// The column.
        column: String,
        /// The table that lacks it.
        table: TableRole,
    },
    /// A column is stored in another type than in the training table.
    #[error(
        "column {column:?}: the training table stores it as {expected:?} but the {table} table \
         as {found:?}; store it with the training table's type"
    )]
    IncompatibleColumn {
        /// The column.
        column: String,
        /// The table that differs.
        table: TableRole,
        /// The training table's type.
        expected: PhysicalType,
        /// The other table's type.
        found: PhysicalType,
    },
    /// Every column is an identifier or free text.
    #[error(
        "no column can be compared: the training table has only identifier and free-text \
         columns ({skipped} skipped); privacy risk needs numeric or categorical columns"
    )]
    NoComparableColumns {
        /// How many columns were left out.
        skipped: usize,
    },
    /// An option names a column that is not compared.
    #[error(
        "{option} names column {column:?}, which is not a compared column of the training \
         table; pick one of: {available}"
    )]
    UnknownColumn {
        /// The option (`secret`, `aux_columns`).
        option: &'static str,
        /// The column it names.
        column: String,
        /// The compared columns, comma separated.
        available: String,
    },
    /// The options make no sense.
    #[error("invalid privacy options: {message}")]
    InvalidOptions {
        /// What is wrong.
        message: String,
    },
    /// A nearest-neighbour search was asked for something it cannot do.
    #[error("nearest-neighbour search: {message}")]
    InvalidSearch {
        /// What is wrong.
        message: String,
    },
}
