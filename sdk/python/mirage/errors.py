"""Typed errors: every failed call raises a subclass of :class:`MirageError` whose message
is the server's own (it says what to do)."""

from __future__ import annotations

from typing import Optional

import grpc

#: The trailing metadata key with the server's stable error code (``ERROR_CODE_…``).
ERROR_CODE_KEY = "mirage-error-code"
#: The trailing metadata key with the time to wait before retrying, in milliseconds.
RETRY_AFTER_KEY = "retry-after-ms"


class MirageError(Exception):
    """A call to Mirage failed.

    Attributes:
        message: the server's message.
        code: the server's stable error code (``"ERROR_CODE_NOT_FOUND"``…), or ``None``.
        grpc_code: the gRPC status code, when the failure came over gRPC.
    """

    def __init__(self, message: str, code: Optional[str] = None, grpc_code: Optional[grpc.StatusCode] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.grpc_code = grpc_code

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later."""
        return False


class AuthenticationError(MirageError):
    """The credentials are missing, unknown, revoked or expired."""


class PermissionDenied(MirageError):
    """The credentials are valid but their role may not do this."""


class NotFound(MirageError):
    """The object does not exist, or belongs to another tenant."""


class AlreadyExists(MirageError):
    """An object with this name or id already exists."""


class InvalidArgument(MirageError):
    """The request is malformed; the message names the field."""


class FailedPrecondition(MirageError):
    """The system is not in a state that allows the call (a dataset still ingesting…)."""


class BudgetExceeded(FailedPrecondition):
    """The dataset's privacy budget would be overspent."""


class RateLimited(MirageError):
    """The tenant's rate limit was reached; retry after :attr:`retry_after` seconds."""

    def __init__(self, message: str, code: Optional[str] = None, grpc_code: Optional[grpc.StatusCode] = None,
                 retry_after: Optional[float] = None):
        super().__init__(message, code, grpc_code)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class Unavailable(MirageError):
    """The cluster could not answer now (no leader, a node down); retry with backoff."""

    @property
    def retryable(self) -> bool:
        return True


_BY_CODE = {
    "ERROR_CODE_INVALID_ARGUMENT": InvalidArgument,
    "ERROR_CODE_NOT_FOUND": NotFound,
    "ERROR_CODE_ALREADY_EXISTS": AlreadyExists,
    "ERROR_CODE_FAILED_PRECONDITION": FailedPrecondition,
    "ERROR_CODE_BUDGET_EXCEEDED": BudgetExceeded,
    "ERROR_CODE_PERMISSION_DENIED": PermissionDenied,
    "ERROR_CODE_UNAUTHENTICATED": AuthenticationError,
    "ERROR_CODE_RESOURCE_EXHAUSTED": RateLimited,
    "ERROR_CODE_UNAVAILABLE": Unavailable,
}

_BY_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def from_rpc_error(error: grpc.RpcError) -> MirageError:
    """The typed error for a failed gRPC call."""
    grpc_code = error.code() if hasattr(error, "code") else None
    message = error.details() if hasattr(error, "details") else str(error)
    metadata = {}
    if hasattr(error, "trailing_metadata"):
        for key, value in error.trailing_metadata() or ():
            metadata[key] = value
    code = metadata.get(ERROR_CODE_KEY)
    cls = _BY_CODE.get(code or "") or _BY_GRPC.get(grpc_code, MirageError)
    if cls is RateLimited:
        retry_after = None
        raw = metadata.get(RETRY_AFTER_KEY)
        if raw is not None:
            try:
                retry_after = int(raw) / 1000.0
            except ValueError:
                retry_after = None
        return RateLimited(message or "rate limited", code, grpc_code, retry_after)
    return cls(message or str(grpc_code), code, grpc_code)


def from_flight_error(error: Exception) -> MirageError:
    """The typed error for a failed Arrow Flight call."""
    import pyarrow.flight as flight

    message = str(error)
    if isinstance(error, flight.FlightUnauthenticatedError):
        return AuthenticationError(message)
    if isinstance(error, flight.FlightUnauthorizedError):
        return PermissionDenied(message)
    if isinstance(error, flight.FlightUnavailableError):
        return Unavailable(message)
    lowered = message.lower()
    if "notfound" in lowered or "not found" in lowered or "no dataset" in lowered or "no generation" in lowered:
        return NotFound(message)
    if "invalid" in lowered:
        return InvalidArgument(message)
    if "quality gate" in lowered or "precondition" in lowered or "not ready" in lowered:
        return FailedPrecondition(message)
    return MirageError(message)
