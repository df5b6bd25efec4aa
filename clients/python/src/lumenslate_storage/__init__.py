"""lumenslate-storage: the Python client for the Lumen Slate storage service's gRPC API.

    from lumenslate_storage import StorageClient, NotFound

StorageClient (sync) and AsyncStorageClient (asyncio) upload, download (sha256-verified), stat,
delete, copy, presign and list objects; failures raise a StorageError subclass per stable error
code; retryable failures are retried with backoff and jitter (RetryPolicy). upload_file and download_file
move large files straight to and from the object store through presigned URLs (direct_threshold,
transfer=), falling back to the service where the store cannot be used. The generated stubs
are in lumenslate_storage.v1 (storage_pb2, storage_pb2_grpc, admin_pb2, ...).
"""

from .aio import AsyncStorageClient
from .client import StorageClient
from .errors import (
    AlreadyExists,
    Cancelled,
    DataCorrupted,
    DeadlineExceeded,
    InternalError,
    InvalidArgument,
    NotFound,
    Overloaded,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    RateLimited,
    StorageError,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedOperation,
    UnsupportedType,
    error_from_rpc,
)
from .retry import RETRYABLE_CODES, RetryEvent, RetryPolicy
from .types import DeleteResult, FileInfo, ListPage, PresignedUrl, ProgressCallback, UploadResult

__version__ = "0.1.0"

__all__ = [
    "RETRYABLE_CODES",
    "AlreadyExists",
    "AsyncStorageClient",
    "Cancelled",
    "DataCorrupted",
    "DeadlineExceeded",
    "DeleteResult",
    "FileInfo",
    "InternalError",
    "InvalidArgument",
    "ListPage",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "PreconditionFailed",
    "PresignedUrl",
    "ProgressCallback",
    "RangeNotSatisfiable",
    "RateLimited",
    "RetryEvent",
    "RetryPolicy",
    "StorageClient",
    "StorageError",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedOperation",
    "UnsupportedType",
    "UploadResult",
    "error_from_rpc",
]
