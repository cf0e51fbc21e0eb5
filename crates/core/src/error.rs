//! Error codes shared by every API surface, and the errors of this crate.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code. Every error a user can see maps to one of these;
/// the gRPC gateway maps them to status codes, the SDK to exception types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request or its input is malformed; retrying the same request will fail again.
    InvalidArgument,
    /// The named object does not exist (or the caller may not see it).
    NotFound,
    /// An object with this name or id already exists.
    AlreadyExists,
    /// The system is not in a state that allows the operation (e.g. dataset in use).
    FailedPrecondition,
    /// The privacy budget would be overspent.
    BudgetExceeded,
    /// The caller is authenticated but not allowed to do this.
    PermissionDenied,
    /// The caller did not prove who they are.
    Unauthenticated,
    /// A quota or rate limit was hit; retry later.
    ResourceExhausted,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// A transient failure; retry with backoff.
    Unavailable,
    /// A bug or an unexpected failure inside Mirage.
    Internal,
}

impl ErrorCode {
    /// Whether a client may retry the same request and hope for a different outcome.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Unavailable | ErrorCode::ResourceExhausted)
    }

    /// The snake_case name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::FailedPrecondition => "failed_precondition",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::ResourceExhausted => "resource_exhausted",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors raised while building or checking domain types.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A schema refers to a column it does not have.
    #[error("schema has no column named {column:?}")]
    UnknownColumn {
        /// The missing column.
        column: String,
    },
    /// Two columns share a name.
    #[error("schema has two columns named {column:?}: rename one of them")]
    DuplicateColumn {
        /// The repeated name.
        column: String,
    },
    /// A value does not fit the column it is compared with.
    #[error("column {column:?}: {message}")]
    InvalidValue {
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// An id string could not be parsed.
    #[error("{kind} id {text:?} is not a valid id: {source}")]
    InvalidId {
        /// Which id type.
        kind: &'static str,
        /// The text given.
        text: String,
        /// Why it failed.
        source: uuid::Error,
    },
    /// Arrow refused to assemble a table.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A message from the API lacks a field that must be set.
    #[error("{field} is required: set it")]
    MissingField {
        /// The field's dotted path within the message (`schema.columns[2].kind`).
        field: String,
    },
    /// A field of a message from the API holds a value Mirage cannot use.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field's dotted path within the message (`conditions[0].between.lower`).
        field: String,
        /// What is wrong, and what to send instead.
        message: String,
    },
}

impl CoreError {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::Arrow(_) => ErrorCode::Internal,
            _ => ErrorCode::InvalidArgument,
        }
    }

    /// The dotted path of the API field at fault, for errors about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            CoreError::MissingField { field } | CoreError::InvalidField { field, .. } => {
                Some(field)
            }
            _ => None,
        }
    }

    /// The same error with its field path placed under `parent`: `kind` within
    /// `columns[2]` becomes `columns[2].kind`. Errors not about a field are returned as they are.
    pub fn within_field(self, parent: &str) -> Self {
        let join = |field: String| {
            if field.is_empty() {
                parent.to_string()
            } else if field.starts_with('[') {
                format!("{parent}{field}")
            } else {
                format!("{parent}.{field}")
            }
        };
        match self {
            CoreError::MissingField { field } => CoreError::MissingField { field: join(field) },
            CoreError::InvalidField { field, message } => CoreError::InvalidField {
                field: join(field),
                message,
            },
            other => other,
        }
    }
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes_are_the_transient_ones() {
        assert!(ErrorCode::Unavailable.is_retryable());
        assert!(ErrorCode::ResourceExhausted.is_retryable());
        assert!(!ErrorCode::InvalidArgument.is_retryable());
        assert!(!ErrorCode::BudgetExceeded.is_retryable());
    }

    #[test]
    fn codes_serialize_as_snake_case() {
        let json = serde_json::to_string(&ErrorCode::BudgetExceeded).unwrap_or_default();
        assert_eq!(json, "\"budget_exceeded\"");
        assert_eq!(
            ErrorCode::FailedPrecondition.to_string(),
            "failed_precondition"
        );
    }
}
