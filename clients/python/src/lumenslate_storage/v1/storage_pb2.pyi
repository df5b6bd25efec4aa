import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UrlMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URL_METHOD_UNSPECIFIED: _ClassVar[UrlMethod]
    URL_METHOD_GET: _ClassVar[UrlMethod]
    URL_METHOD_PUT: _ClassVar[UrlMethod]
URL_METHOD_UNSPECIFIED: UrlMethod
URL_METHOD_GET: UrlMethod
URL_METHOD_PUT: UrlMethod

class UploadFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadFileHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadFileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadFileHeader(_message.Message):
    __slots__ = ("bucket", "object_name", "content_type", "metadata", "expected_size", "sha256")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    expected_size: int
    sha256: str
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., expected_size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class UploadFileResponse(_message.Message):
    __slots__ = ("success", "message", "object_name", "bucket", "size", "etag", "sha256", "version_id", "content_type")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    object_name: str
    bucket: str
    size: int
    etag: str
    sha256: str
    version_id: str
    content_type: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., object_name: _Optional[str] = ..., bucket: _Optional[str] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., sha256: _Optional[str] = ..., version_id: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class ByteRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class DownloadFileRequest(_message.Message):
    __slots__ = ("bucket", "object_name", "version_id", "range")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    version_id: str
    range: ByteRange
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., version_id: _Optional[str] = ..., range: _Optional[_Union[ByteRange, _Mapping]] = ...) -> None: ...

class DownloadFileResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: DownloadFileHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[DownloadFileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DownloadFileHeader(_message.Message):
    __slots__ = ("file", "content_length", "range")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    file: FileInfo
    content_length: int
    range: ByteRange
    def __init__(self, file: _Optional[_Union[FileInfo, _Mapping]] = ..., content_length: _Optional[int] = ..., range: _Optional[_Union[ByteRange, _Mapping]] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("bucket", "object_name", "version_id", "size", "etag", "sha256", "content_type", "metadata", "last_modified")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    version_id: str
    size: int
    etag: str
    sha256: str
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    last_modified: _timestamp_pb2.Timestamp
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., version_id: _Optional[str] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., last_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StatFileRequest(_message.Message):
    __slots__ = ("bucket", "object_name", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class StatFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: FileInfo
    def __init__(self, file: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class DeleteFileRequest(_message.Message):
    __slots__ = ("bucket", "object_name", "version_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    version_id: str
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class DeleteFileResponse(_message.Message):
    __slots__ = ("success", "message", "object_name", "bucket", "version_id", "delete_marker")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DELETE_MARKER_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    object_name: str
    bucket: str
    version_id: str
    delete_marker: bool
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., object_name: _Optional[str] = ..., bucket: _Optional[str] = ..., version_id: _Optional[str] = ..., delete_marker: _Optional[bool] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "recursive", "page_size", "page_token")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    recursive: bool
    page_size: int
    page_token: str
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., recursive: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("files", "prefixes", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileInfo]
    prefixes: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ..., prefixes: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetFileUrlRequest(_message.Message):
    __slots__ = ("bucket", "object_name", "method", "expires_in_seconds", "version_id", "content_type")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    method: UrlMethod
    expires_in_seconds: int
    version_id: str
    content_type: str
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., method: _Optional[_Union[UrlMethod, str]] = ..., expires_in_seconds: _Optional[int] = ..., version_id: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class GetFileUrlResponse(_message.Message):
    __slots__ = ("url", "method", "expires_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    method: UrlMethod
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., method: _Optional[_Union[UrlMethod, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CopyFileRequest(_message.Message):
    __slots__ = ("source_bucket", "source_object_name", "source_version_id", "target_bucket", "target_object_name")
    SOURCE_BUCKET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_BUCKET_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    source_bucket: str
    source_object_name: str
    source_version_id: str
    target_bucket: str
    target_object_name: str
    def __init__(self, source_bucket: _Optional[str] = ..., source_object_name: _Optional[str] = ..., source_version_id: _Optional[str] = ..., target_bucket: _Optional[str] = ..., target_object_name: _Optional[str] = ...) -> None: ...

class CopyFileResponse(_message.Message):
    __slots__ = ("success", "message", "object_name", "bucket", "size", "etag", "sha256", "version_id", "content_type")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    object_name: str
    bucket: str
    size: int
    etag: str
    sha256: str
    version_id: str
    content_type: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., object_name: _Optional[str] = ..., bucket: _Optional[str] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., sha256: _Optional[str] = ..., version_id: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...
