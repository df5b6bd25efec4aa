import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadUserFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UserFileHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UserFileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UserFileHeader(_message.Message):
    __slots__ = ("user_id", "filename", "size", "content_type")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    filename: str
    size: int
    content_type: str
    def __init__(self, user_id: _Optional[str] = ..., filename: _Optional[str] = ..., size: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...

class UserFile(_message.Message):
    __slots__ = ("user_id", "upload_id", "filename", "key", "size", "sha256", "content_type", "last_modified")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    upload_id: str
    filename: str
    key: str
    size: int
    sha256: str
    content_type: str
    last_modified: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., filename: _Optional[str] = ..., key: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., last_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListUserFilesRequest(_message.Message):
    __slots__ = ("user_id", "cursor", "limit")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    cursor: str
    limit: int
    def __init__(self, user_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListUserFilesResponse(_message.Message):
    __slots__ = ("files", "next_cursor")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[UserFile]
    next_cursor: str
    def __init__(self, files: _Optional[_Iterable[_Union[UserFile, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class UserFileRef(_message.Message):
    __slots__ = ("user_id", "upload_id", "filename")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    upload_id: str
    filename: str
    def __init__(self, user_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class DownloadUserFileResponse(_message.Message):
    __slots__ = ("file", "chunk")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    file: UserFile
    chunk: bytes
    def __init__(self, file: _Optional[_Union[UserFile, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DeleteAllUserFilesRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UserDataDeleteFailure(_message.Message):
    __slots__ = ("key", "code", "message")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    key: str
    code: str
    message: str
    def __init__(self, key: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DeleteAllUserFilesResponse(_message.Message):
    __slots__ = ("user_id", "deleted_objects", "deleted_bytes", "failed", "errors")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    DELETED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    deleted_objects: int
    deleted_bytes: int
    failed: int
    errors: _containers.RepeatedCompositeFieldContainer[UserDataDeleteFailure]
    def __init__(self, user_id: _Optional[str] = ..., deleted_objects: _Optional[int] = ..., deleted_bytes: _Optional[int] = ..., failed: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[UserDataDeleteFailure, _Mapping]]] = ...) -> None: ...

class GetUserUsageRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UserUsage(_message.Message):
    __slots__ = ("user_id", "bytes", "objects", "reserved_bytes", "reserved_objects", "quota_bytes", "quota_objects")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    RESERVED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_BYTES_FIELD_NUMBER: _ClassVar[int]
    QUOTA_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    bytes: int
    objects: int
    reserved_bytes: int
    reserved_objects: int
    quota_bytes: int
    quota_objects: int
    def __init__(self, user_id: _Optional[str] = ..., bytes: _Optional[int] = ..., objects: _Optional[int] = ..., reserved_bytes: _Optional[int] = ..., reserved_objects: _Optional[int] = ..., quota_bytes: _Optional[int] = ..., quota_objects: _Optional[int] = ...) -> None: ...
