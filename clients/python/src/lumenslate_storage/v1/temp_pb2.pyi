import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import storage_pb2 as _storage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TempUploadHeader(_message.Message):
    __slots__ = ("object_name", "ttl_seconds", "expires_at", "content_type", "metadata", "expected_size")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    object_name: str
    ttl_seconds: int
    expires_at: _timestamp_pb2.Timestamp
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    expected_size: int
    def __init__(self, object_name: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., expected_size: _Optional[int] = ...) -> None: ...

class UploadTempFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: TempUploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[TempUploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadTempFileResponse(_message.Message):
    __slots__ = ("file", "expires_at")
    FILE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.FileInfo
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, file: _Optional[_Union[_storage_pb2.FileInfo, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DownloadTempFileRequest(_message.Message):
    __slots__ = ("object_name",)
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    object_name: str
    def __init__(self, object_name: _Optional[str] = ...) -> None: ...

class TempDownloadHeader(_message.Message):
    __slots__ = ("file", "expires_at")
    FILE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.FileInfo
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, file: _Optional[_Union[_storage_pb2.FileInfo, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DownloadTempFileResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: TempDownloadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[TempDownloadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SweepTempRequest(_message.Message):
    __slots__ = ("dry_run", "batch_size")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    batch_size: int
    def __init__(self, dry_run: _Optional[bool] = ..., batch_size: _Optional[int] = ...) -> None: ...

class SweepTempResponse(_message.Message):
    __slots__ = ("bucket", "dry_run", "deleted", "bytes", "gone", "renewed", "failed")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    RENEWED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    dry_run: bool
    deleted: int
    bytes: int
    gone: int
    renewed: int
    failed: int
    def __init__(self, bucket: _Optional[str] = ..., dry_run: _Optional[bool] = ..., deleted: _Optional[int] = ..., bytes: _Optional[int] = ..., gone: _Optional[int] = ..., renewed: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...
