//! The errors of utility and detection, turned into [`QualityError`](crate::QualityError)
//! through its `Utility` variant.

use mirage_core::ColumnKind;

/// Which input table an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRole {
    /// The real rows the TRTR models are trained on.
    TrainReal,
    /// The real rows no model (and no generator) has seen; every model is tested on them.
    Holdout,
    /// The generated rows the TSTR models are trained on.
    Synthetic,
    /// The real rows of a detection test.
    Real,
}

impl std::fmt::Display for TableRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TableRole::TrainReal => "real training",
            TableRole::Holdout => "holdout",
            TableRole::Synthetic => "synthetic",
            TableRole::Real => "real",
        })
    }
}

/// Why a utility or detection evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum UtilityError {
    /// The target column is not in one of the tables.
    #[error(
        "target column {column:?} is missing from the {table} table; pick a column that the \
         real training, holdout and synthetic tables all have"
    )]
    MissingTarget {
        /// The target column.
        column: String,
        /// The table without it.
        table: TableRole,
    },
    /// The target column's kind cannot be predicted (identifier, text, constant).
    #[error(
        "target column {column:?} is {kind}, which cannot be predicted; pick a numeric, \
         boolean or categorical column"
    )]
    UnusableTarget {
        /// The target column.
        column: String,
        /// Its kind in the real schema.
        kind: ColumnKind,
    },
    /// Classification with more classes than the models handle.
    #[error(
        "target column {column:?} has {classes} classes, more than the {max} a classification \
         utility test supports; pick a target with fewer classes or set the task to regression \
         if it is numeric"
    )]
    TooManyClasses {
        /// The target column.
        column: String,
        /// Classes found.
        classes: usize,
        /// The limit.
        max: usize,
    },
    /// Regression asked for a target that does not hold numbers.
    #[error(
        "target column {column:?} is {kind} and holds no numbers, so it cannot be a regression \
         target; set the task to classification"
    )]
    NonNumericRegressionTarget {
        /// The target column.
        column: String,
        /// Its kind in the real schema.
        kind: ColumnKind,
    },
    /// The holdout has one class only, so ROC-AUC and macro F1 say nothing.
    #[error(
        "target column {column:?} has one class ({class:?}) in the holdout table; use a larger \
         or stratified holdout that holds at least two classes"
    )]
    SingleClassHoldout {
        /// The target column.
        column: String,
        /// The only class.
        class: String,
    },
    /// The holdout's numeric target does not vary, so R² is undefined.
    #[error(
        "target column {column:?} has one value in the holdout table, so R² is undefined; use \
         a larger holdout"
    )]
    ConstantHoldout {
        /// The target column.
        column: String,
    },
    /// A table has no row to learn or test on.
    #[error(
        "the {table} table has no rows{detail}; pass a table with rows (and non-null target \
         values)"
    )]
    EmptyTable {
        /// The empty table.
        table: TableRole,
        /// What was counted, e.g. " with a value in target column \"income\"".
        detail: String,
    },
    /// Too few rows for the folds asked for.
    #[error(
        "the {table} table has {rows} rows, fewer than the {folds} folds of the detection \
         test; pass more rows or fewer folds"
    )]
    TooFewRows {
        /// The short table.
        table: TableRole,
        /// Its rows.
        rows: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// No column is left to learn from.
    #[error(
        "no feature column is left once the target, identifiers, free text and columns \
         missing from the {table} table are set aside; the tables need at least one shared \
         numeric or categorical column besides the target"
    )]
    NoFeatures {
        /// The table whose missing columns emptied the feature set.
        table: TableRole,
    },
    /// A numeric column is stored as something other than numbers.
    #[error(
        "column {column:?} is {kind} but the {table} table stores it as {physical}; convert it \
         to numbers or fix the column's kind"
    )]
    NotNumeric {
        /// The column.
        column: String,
        /// Its kind in the real schema.
        kind: ColumnKind,
        /// The table.
        table: TableRole,
        /// The Arrow type found.
        physical: String,
    },
    /// An option is out of range.
    #[error("invalid utility option {option}: {message}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
}
