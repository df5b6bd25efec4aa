"""What the client returns: plain frozen dataclasses, not protobuf messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from .v1 import storage_pb2

__all__ = [
    "DeleteResult",
    "FileInfo",
    "ListPage",
    "PresignedUrl",
    "ProgressCallback",
    "UploadResult",
]

ProgressCallback = Callable[[int, "int | None"], None]
"""Called as bytes move: (bytes transferred so far, total bytes or None when unknown).
A retried transfer starts again from 0."""


@dataclass(frozen=True)
class FileInfo:
    """One object version. `metadata` is empty in list() results (use stat())."""

    bucket: str
    key: str
    version_id: str
    size: int
    etag: str
    sha256: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None

    @classmethod
    def from_proto(cls, info: storage_pb2.FileInfo) -> FileInfo:
        modified = None
        if info.HasField("last_modified"):
            modified = info.last_modified.ToDatetime(tzinfo=timezone.utc)
        return cls(
            bucket=info.bucket,
            key=info.object_name,
            version_id=info.version_id,
            size=info.size,
            etag=info.etag,
            sha256=info.sha256,
            content_type=info.content_type,
            metadata=dict(info.metadata),
            last_modified=modified,
        )


@dataclass(frozen=True)
class UploadResult:
    """A stored object (upload or copy). `version_id` is "null" in buckets without versioning."""

    bucket: str
    key: str
    size: int
    etag: str
    sha256: str
    version_id: str
    content_type: str

    @classmethod
    def from_proto(cls, res: storage_pb2.UploadFileResponse | storage_pb2.CopyFileResponse) -> UploadResult:
        return cls(
            bucket=res.bucket,
            key=res.object_name,
            size=res.size,
            etag=res.etag,
            sha256=res.sha256,
            version_id=res.version_id,
            content_type=res.content_type,
        )


@dataclass(frozen=True)
class DeleteResult:
    bucket: str
    key: str
    version_id: str
    delete_marker: bool

    @classmethod
    def from_proto(cls, res: storage_pb2.DeleteFileResponse) -> DeleteResult:
        return cls(bucket=res.bucket, key=res.object_name, version_id=res.version_id, delete_marker=res.delete_marker)


@dataclass(frozen=True)
class ListPage:
    """One page of a listing; `next_cursor` is None on the last page."""

    files: list[FileInfo]
    prefixes: list[str]
    next_cursor: str | None


@dataclass(frozen=True)
class PresignedUrl:
    """A plain-HTTP URL for GET or PUT against the object store, valid until `expires_at`."""

    url: str
    method: Literal["GET", "PUT"]
    expires_at: datetime | None
