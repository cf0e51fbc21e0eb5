//! Errors of the model crate.

use std::path::PathBuf;

use mirage_core::ErrorCode;

/// Everything that can go wrong while fitting, sampling, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model's configuration is invalid.
    #[error("invalid {model} config: {field}: {message}")]
    InvalidConfig {
        /// The model kind.
        model: String,
        /// The offending field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A model name nobody implements (yet).
    #[error("unknown model {name:?}; available: {available}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The names that work.
        available: String,
    },
    /// Training data with no rows or no modelled columns.
    #[error("cannot fit on an empty table: {message}")]
    EmptyTable {
        /// What is empty.
        message: String,
    },
    /// A column the model cannot handle.
    #[error("column {column:?}: {message}")]
    UnsupportedColumn {
        /// The column.
        column: String,
        /// Why.
        message: String,
    },
    /// A condition that names an unknown column or a value that cannot occur.
    #[error("condition {condition}: {message}")]
    InvalidCondition {
        /// The condition as written.
        condition: String,
        /// What is wrong.
        message: String,
    },
    /// An augmentation (rebalance) the model cannot follow.
    #[error("rebalance.{field}: {message}")]
    InvalidRebalance {
        /// The field at fault (`column`, `shares[1].value`).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Conditions that rejection sampling cannot satisfy in reasonable time.
    #[error(
        "conditions [{conditions}] accepted {accepted} of {drawn} sampled rows ({rate:.4}%); \
         {rows} rows would need about {needed:.0} draws, more than the limit of {limit}: \
         loosen the conditions or ask for fewer rows"
    )]
    HopelessConditions {
        /// The conditions.
        conditions: String,
        /// Rows accepted so far.
        accepted: u64,
        /// Rows drawn so far.
        drawn: u64,
        /// Acceptance in percent.
        rate: f64,
        /// Rows asked for.
        rows: u64,
        /// Draws the request would take.
        needed: f64,
        /// The draw limit.
        limit: u64,
    },
    /// Fitting was cancelled.
    #[error("training was cancelled")]
    Cancelled,
    /// A model directory that already exists (model versions are immutable).
    #[error(
        "model directory {path} already exists: model versions are immutable, choose a new path"
    )]
    AlreadyExists {
        /// The directory.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model directory whose files are damaged or from an unknown version.
    #[error("model directory {path} is not usable: {message}")]
    Corrupt {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor operation failed (shapes, safetensors files).
    #[error("tensor operation failed: {message}")]
    Tensor {
        /// What candle reported.
        message: String,
    },
    /// Arrow failed to build a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A domain-type error.
    #[error(transparent)]
    Core(#[from] mirage_core::CoreError),
    /// Privacy accounting refused a parameter.
    #[error("privacy: {0}")]
    Privacy(#[from] mirage_privacy::PrivacyError),
    /// A DP fit would read the data without accounting for it.
    #[error("not differentially private: {}", reasons.join("; "))]
    NotPrivate {
        /// Every uncharged data read.
        reasons: Vec<String>,
    },
}

impl ModelError {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ModelError::InvalidConfig { .. }
            | ModelError::UnknownModel { .. }
            | ModelError::EmptyTable { .. }
            | ModelError::UnsupportedColumn { .. }
            | ModelError::InvalidCondition { .. }
            | ModelError::InvalidRebalance { .. }
            | ModelError::HopelessConditions { .. }
            | ModelError::Privacy(_)
            | ModelError::NotPrivate { .. } => ErrorCode::InvalidArgument,
            ModelError::Cancelled => ErrorCode::Cancelled,
            ModelError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            ModelError::Io { .. }
            | ModelError::Corrupt { .. }
            | ModelError::Arrow(_)
            | ModelError::Tensor { .. } => ErrorCode::Internal,
            ModelError::Core(e) => e.code(),
        }
    }
}

/// Result with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
