from . import storage_pb2 as _storage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogHourFile(_message.Message):
    __slots__ = ("service_name", "date", "hour", "filename")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    date: str
    hour: str
    filename: str
    def __init__(self, service_name: _Optional[str] = ..., date: _Optional[str] = ..., hour: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class UploadLogFileRequest(_message.Message):
    __slots__ = ("service_name", "log_content", "date", "hour", "filename")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    LOG_CONTENT_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    log_content: bytes
    date: str
    hour: str
    filename: str
    def __init__(self, service_name: _Optional[str] = ..., log_content: _Optional[bytes] = ..., date: _Optional[str] = ..., hour: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class UploadLogFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.FileInfo
    def __init__(self, file: _Optional[_Union[_storage_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class AppendLogsRequest(_message.Message):
    __slots__ = ("service_name", "lines", "date", "hour", "filename")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    lines: _containers.RepeatedScalarFieldContainer[str]
    date: str
    hour: str
    filename: str
    def __init__(self, service_name: _Optional[str] = ..., lines: _Optional[_Iterable[str]] = ..., date: _Optional[str] = ..., hour: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class AppendLogsResponse(_message.Message):
    __slots__ = ("file", "accepted")
    FILE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    file: LogHourFile
    accepted: int
    def __init__(self, file: _Optional[_Union[LogHourFile, _Mapping]] = ..., accepted: _Optional[int] = ...) -> None: ...

class GetLogsByDateRequest(_message.Message):
    __slots__ = ("service_name", "date", "from_hour", "to_hour", "contains", "regex")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    FROM_HOUR_FIELD_NUMBER: _ClassVar[int]
    TO_HOUR_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    date: str
    from_hour: str
    to_hour: str
    contains: str
    regex: str
    def __init__(self, service_name: _Optional[str] = ..., date: _Optional[str] = ..., from_hour: _Optional[str] = ..., to_hour: _Optional[str] = ..., contains: _Optional[str] = ..., regex: _Optional[str] = ...) -> None: ...

class GetLogsByDateResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lines: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLogObjectsRequest(_message.Message):
    __slots__ = ("service_name", "date", "from_hour", "to_hour")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    FROM_HOUR_FIELD_NUMBER: _ClassVar[int]
    TO_HOUR_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    date: str
    from_hour: str
    to_hour: str
    def __init__(self, service_name: _Optional[str] = ..., date: _Optional[str] = ..., from_hour: _Optional[str] = ..., to_hour: _Optional[str] = ...) -> None: ...

class LogObject(_message.Message):
    __slots__ = ("key", "hour", "filename", "part", "size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    key: str
    hour: str
    filename: str
    part: bool
    size: int
    def __init__(self, key: _Optional[str] = ..., hour: _Optional[str] = ..., filename: _Optional[str] = ..., part: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class ListLogObjectsResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[LogObject]
    def __init__(self, objects: _Optional[_Iterable[_Union[LogObject, _Mapping]]] = ...) -> None: ...

class CompactLogsRequest(_message.Message):
    __slots__ = ("service_name", "date", "hour")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    date: str
    hour: str
    def __init__(self, service_name: _Optional[str] = ..., date: _Optional[str] = ..., hour: _Optional[str] = ...) -> None: ...

class CompactLogsResponse(_message.Message):
    __slots__ = ("service_name", "date", "hour", "objects", "parts", "conflicts")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    date: str
    hour: str
    objects: int
    parts: int
    conflicts: int
    def __init__(self, service_name: _Optional[str] = ..., date: _Optional[str] = ..., hour: _Optional[str] = ..., objects: _Optional[int] = ..., parts: _Optional[int] = ..., conflicts: _Optional[int] = ...) -> None: ...

class RotateLogsRequest(_message.Message):
    __slots__ = ("service_name", "retention_days", "dry_run")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    retention_days: int
    dry_run: bool
    def __init__(self, service_name: _Optional[str] = ..., retention_days: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class RotatedPartition(_message.Message):
    __slots__ = ("date", "objects", "bytes", "deleted", "failed")
    DATE_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    date: str
    objects: int
    bytes: int
    deleted: int
    failed: int
    def __init__(self, date: _Optional[str] = ..., objects: _Optional[int] = ..., bytes: _Optional[int] = ..., deleted: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...

class RotateLogsResponse(_message.Message):
    __slots__ = ("service_name", "retention_days", "dry_run", "cutoff", "partitions", "objects", "bytes", "deleted", "failed")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    retention_days: int
    dry_run: bool
    cutoff: str
    partitions: _containers.RepeatedCompositeFieldContainer[RotatedPartition]
    objects: int
    bytes: int
    deleted: int
    failed: int
    def __init__(self, service_name: _Optional[str] = ..., retention_days: _Optional[int] = ..., dry_run: _Optional[bool] = ..., cutoff: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[RotatedPartition, _Mapping]]] = ..., objects: _Optional[int] = ..., bytes: _Optional[int] = ..., deleted: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...
