"""Typed exceptions, one per stable error code of the service (src/errors.ts).

The service sends its stable code in the `x-error-code` trailer, public details as JSON in
`x-error-details` and a retry delay in `x-retry-after-seconds`; branch on the exception class (or
`.code`), never on the message. Failures that never reached the service (connection refused, a
deadline passed on the client) carry no trailer and are classified by their gRPC status instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import grpc

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "DataCorrupted",
    "DeadlineExceeded",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "PreconditionFailed",
    "RangeNotSatisfiable",
    "RateLimited",
    "StorageError",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedOperation",
    "UnsupportedType",
    "error_from_rpc",
]


class StorageError(Exception):
    """Base of every error the client raises for a failed call.

    code: the service's stable code ("NOT_FOUND", "TOO_LARGE", ...).
    message: the service's message, safe to show.
    details: the public details (bucket, key, field, limit, ...), {} when none.
    request_id: the call's x-request-id, to find it in the service's logs and audit trail.
    retry_after: seconds the service asked to wait before retrying (RATE_LIMITED), else None.
    grpc_status: the gRPC status code the call ended with (None for client-side checks).
    """

    code: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        grpc_status: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id
        self.retry_after = retry_after
        self.grpc_status = grpc_status

    def __str__(self) -> str:
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, request_id={self.request_id!r})"


class InvalidArgument(StorageError):
    code = "INVALID_ARGUMENT"


class NotFound(StorageError):
    code = "NOT_FOUND"


class AlreadyExists(StorageError):
    code = "ALREADY_EXISTS"


class PreconditionFailed(StorageError):
    """A condition the caller set did not hold (announced size or sha256, etag); nothing was stored."""

    code = "PRECONDITION_FAILED"


class TooLarge(StorageError):
    code = "TOO_LARGE"


class UnsupportedType(InvalidArgument):
    """The file type is refused (extension or content); a subclass of InvalidArgument, as in gRPC."""

    code = "UNSUPPORTED_TYPE"


class RangeNotSatisfiable(StorageError):
    code = "RANGE_NOT_SATISFIABLE"


class PermissionDenied(StorageError):
    code = "PERMISSION_DENIED"


class Unauthenticated(StorageError):
    code = "UNAUTHENTICATED"


class RateLimited(StorageError):
    """Too many calls for the key; `retry_after` says how long to wait. Retried by default."""

    code = "RATE_LIMITED"


class Overloaded(StorageError):
    """The service is at its limit of concurrent work. Retried by default."""

    code = "OVERLOADED"


class Unavailable(StorageError):
    """The service or its backends could not be reached. Retried by default."""

    code = "UNAVAILABLE"


class DeadlineExceeded(StorageError):
    code = "DEADLINE_EXCEEDED"


class Cancelled(StorageError):
    code = "CANCELLED"


class DataCorrupted(StorageError):
    """Bytes do not match their recorded sha256 (checked by the service and again by this client)."""

    code = "DATA_CORRUPTED"


class UnsupportedOperation(StorageError):
    code = "UNSUPPORTED_OPERATION"


class InternalError(StorageError):
    code = "INTERNAL"


_BY_CODE: dict[str, type[StorageError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PreconditionFailed,
        TooLarge,
        UnsupportedType,
        RangeNotSatisfiable,
        PermissionDenied,
        Unauthenticated,
        RateLimited,
        Overloaded,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        DataCorrupted,
        UnsupportedOperation,
        InternalError,
    )
}

# Without an x-error-code trailer the status is all there is (the failure happened in grpc itself
# or before the service's handlers ran). RESOURCE_EXHAUSTED from grpc is a message over its size
# limit, so TOO_LARGE; the service's rate limiter always sends its code.
_BY_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.ALREADY_EXISTS: "ALREADY_EXISTS",
    grpc.StatusCode.FAILED_PRECONDITION: "PRECONDITION_FAILED",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "TOO_LARGE",
    grpc.StatusCode.OUT_OF_RANGE: "RANGE_NOT_SATISFIABLE",
    grpc.StatusCode.PERMISSION_DENIED: "PERMISSION_DENIED",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
    grpc.StatusCode.CANCELLED: "CANCELLED",
    grpc.StatusCode.DATA_LOSS: "DATA_CORRUPTED",
    grpc.StatusCode.UNIMPLEMENTED: "UNSUPPORTED_OPERATION",
}


def _first(metadata: Any, key: str) -> str | None:
    for entry in metadata or ():
        name, value = entry[0], entry[1]
        if name == key:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def error_from_status(
    status: grpc.StatusCode,
    message: str,
    trailing: Any,
    initial: Any = None,
    sent_request_id: str | None = None,
) -> StorageError:
    """The typed error for a call that ended with `status` and these metadata."""
    code = _first(trailing, "x-error-code") or _BY_STATUS.get(status, "INTERNAL")
    details: dict[str, Any] = {}
    raw = _first(trailing, "x-error-details")
    if raw:
        try:
            parsed = json.loads(raw)
            if isinstance(parsed, dict):
                details = parsed
        except ValueError:
            details = {}
    retry_after: float | None = None
    raw_retry = _first(trailing, "x-retry-after-seconds")
    if raw_retry:
        try:
            retry_after = max(0.0, float(raw_retry))
        except ValueError:
            retry_after = None
    request_id = _first(trailing, "x-request-id") or _first(initial, "x-request-id") or sent_request_id
    cls = _BY_CODE.get(code, StorageError)
    return cls(
        message or code,
        code=code,
        details=details,
        request_id=request_id,
        retry_after=retry_after,
        grpc_status=status,
    )


def error_from_rpc(err: grpc.RpcError, sent_request_id: str | None = None) -> StorageError:
    """The typed error for a failed grpc call (sync grpc.RpcError or grpc.aio.AioRpcError)."""
    call: Any = err
    status = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    message = call.details() if hasattr(call, "details") else str(err)
    trailing = call.trailing_metadata() if hasattr(call, "trailing_metadata") else None
    initial = call.initial_metadata() if hasattr(call, "initial_metadata") else None
    return error_from_status(status, message or "", trailing, initial, sent_request_id)
