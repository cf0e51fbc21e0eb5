//! One mapping from the cluster's errors to gRPC statuses with a stable error code.
//!
//! Every refusal a client can see goes through here: the status code follows the
//! [`v1::ErrorCode`], the message says what to do, and the `mirage-error-code` metadata
//! carries the code's name so clients can branch on it without parsing messages.
//! "Not the leader" never reaches a client: the state client forwards writes and reads to
//! the leader and retries through elections; what remains is `UNAVAILABLE` (retryable).

use mirage_actors::{ClientError, StateError};
use mirage_proto::v1;
use tonic::{Code, Status};

/// The metadata key holding the stable error code's name (`ERROR_CODE_BUDGET_EXCEEDED`).
pub const ERROR_CODE_KEY: &str = "mirage-error-code";

/// The gRPC code of an error code.
pub fn grpc_code(code: v1::ErrorCode) -> Code {
    use v1::ErrorCode as E;
    match code {
        E::InvalidArgument => Code::InvalidArgument,
        E::NotFound => Code::NotFound,
        E::AlreadyExists => Code::AlreadyExists,
        E::FailedPrecondition | E::BudgetExceeded => Code::FailedPrecondition,
        E::PermissionDenied => Code::PermissionDenied,
        E::Unauthenticated => Code::Unauthenticated,
        E::ResourceExhausted => Code::ResourceExhausted,
        E::Cancelled => Code::Cancelled,
        E::Unavailable => Code::Unavailable,
        E::Internal | E::Unspecified => Code::Internal,
    }
}

/// A status with `code` and `message`, tagged with the code's name.
pub fn error(code: v1::ErrorCode, message: impl Into<String>) -> Status {
    let mut status = Status::new(grpc_code(code), message.into());
    if let Ok(value) = code.as_str_name().parse() {
        status.metadata_mut().insert(ERROR_CODE_KEY, value);
    }
    status
}

/// The protobuf form of a domain error code.
pub fn proto_code(code: mirage_core::ErrorCode) -> v1::ErrorCode {
    use mirage_core::ErrorCode as C;
    use v1::ErrorCode as E;
    match code {
        C::InvalidArgument => E::InvalidArgument,
        C::NotFound => E::NotFound,
        C::AlreadyExists => E::AlreadyExists,
        C::FailedPrecondition => E::FailedPrecondition,
        C::BudgetExceeded => E::BudgetExceeded,
        C::PermissionDenied => E::PermissionDenied,
        C::Unauthenticated => E::Unauthenticated,
        C::ResourceExhausted => E::ResourceExhausted,
        C::Cancelled => E::Cancelled,
        C::Unavailable => E::Unavailable,
        C::Internal => E::Internal,
    }
}

/// The stable code of a refusal by the state machine.
pub fn state_code(refusal: &StateError) -> v1::ErrorCode {
    proto_code(refusal.code())
}

/// A refusal by the state machine as a status.
pub fn refused(refusal: &StateError) -> Status {
    error(state_code(refusal), refusal.to_string())
}

/// The state could not be reached (no leader, no quorum, a network failure): retryable.
pub fn unavailable(failure: ClientError) -> Status {
    error(
        v1::ErrorCode::Unavailable,
        format!("the cluster state is not reachable, retry shortly: {failure}"),
    )
}

/// Shorthands for the common codes.
pub fn invalid(field: &str, message: impl std::fmt::Display) -> Status {
    error(
        v1::ErrorCode::InvalidArgument,
        format!("{field}: {message}"),
    )
}

/// `NOT_FOUND` for an object the caller does not have (or may not see: the two are not
/// told apart, so ids of other tenants' objects leak nothing).
pub fn not_found(what: impl std::fmt::Display) -> Status {
    error(v1::ErrorCode::NotFound, format!("{what}"))
}

/// `FAILED_PRECONDITION`.
pub fn precondition(message: impl Into<String>) -> Status {
    error(v1::ErrorCode::FailedPrecondition, message)
}

/// `INTERNAL`, for failures that are Mirage's fault.
pub fn internal(message: impl Into<String>) -> Status {
    error(v1::ErrorCode::Internal, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_the_stable_code() {
        let status = error(v1::ErrorCode::BudgetExceeded, "dataset ds_1: over budget");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status
                .metadata()
                .get(ERROR_CODE_KEY)
                .and_then(|v| v.to_str().ok()),
            Some("ERROR_CODE_BUDGET_EXCEEDED")
        );
        assert_eq!(
            grpc_code(v1::ErrorCode::ResourceExhausted),
            Code::ResourceExhausted
        );
        let refusal = StateError::InvalidField {
            field: "rows".into(),
            reason: "must be positive".into(),
        };
        assert_eq!(refused(&refusal).code(), Code::InvalidArgument);
    }
}
