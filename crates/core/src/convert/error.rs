//! Error codes and error details.

use super::proto;
use super::unspecified;
use crate::error::{CoreError, ErrorCode};

impl From<ErrorCode> for proto::ErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidArgument => proto::ErrorCode::InvalidArgument,
            ErrorCode::NotFound => proto::ErrorCode::NotFound,
            ErrorCode::AlreadyExists => proto::ErrorCode::AlreadyExists,
            ErrorCode::FailedPrecondition => proto::ErrorCode::FailedPrecondition,
            ErrorCode::BudgetExceeded => proto::ErrorCode::BudgetExceeded,
            ErrorCode::PermissionDenied => proto::ErrorCode::PermissionDenied,
            ErrorCode::Unauthenticated => proto::ErrorCode::Unauthenticated,
            ErrorCode::ResourceExhausted => proto::ErrorCode::ResourceExhausted,
            ErrorCode::Cancelled => proto::ErrorCode::Cancelled,
            ErrorCode::Unavailable => proto::ErrorCode::Unavailable,
            ErrorCode::Internal => proto::ErrorCode::Internal,
        }
    }
}

impl TryFrom<proto::ErrorCode> for ErrorCode {
    type Error = CoreError;

    fn try_from(code: proto::ErrorCode) -> Result<Self, Self::Error> {
        Ok(match code {
            proto::ErrorCode::Unspecified => {
                return Err(unspecified::<proto::ErrorCode>(code.as_str_name()));
            }
            proto::ErrorCode::InvalidArgument => ErrorCode::InvalidArgument,
            proto::ErrorCode::NotFound => ErrorCode::NotFound,
            proto::ErrorCode::AlreadyExists => ErrorCode::AlreadyExists,
            proto::ErrorCode::FailedPrecondition => ErrorCode::FailedPrecondition,
            proto::ErrorCode::BudgetExceeded => ErrorCode::BudgetExceeded,
            proto::ErrorCode::PermissionDenied => ErrorCode::PermissionDenied,
            proto::ErrorCode::Unauthenticated => ErrorCode::Unauthenticated,
            proto::ErrorCode::ResourceExhausted => ErrorCode::ResourceExhausted,
            proto::ErrorCode::Cancelled => ErrorCode::Cancelled,
            proto::ErrorCode::Unavailable => ErrorCode::Unavailable,
            proto::ErrorCode::Internal => ErrorCode::Internal,
        })
    }
}

/// The detail the gateway attaches to a failed call: code, message, retryability and the
/// field at fault.
impl From<&CoreError> for proto::ErrorDetail {
    fn from(err: &CoreError) -> Self {
        let code = err.code();
        proto::ErrorDetail {
            code: proto::ErrorCode::from(code) as i32,
            message: err.to_string(),
            retryable: code.is_retryable(),
            field: err.field().unwrap_or_default().to_string(),
            metadata: Default::default(),
        }
    }
}
