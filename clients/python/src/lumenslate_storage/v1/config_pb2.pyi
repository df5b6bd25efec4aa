import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DocumentFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_FORMAT_UNSPECIFIED: _ClassVar[DocumentFormat]
    DOCUMENT_FORMAT_JSON: _ClassVar[DocumentFormat]
    DOCUMENT_FORMAT_YAML: _ClassVar[DocumentFormat]
DOCUMENT_FORMAT_UNSPECIFIED: DocumentFormat
DOCUMENT_FORMAT_JSON: DocumentFormat
DOCUMENT_FORMAT_YAML: DocumentFormat

class ConfigVersion(_message.Message):
    __slots__ = ("name", "version", "format", "created_at", "author", "sha256", "size", "restored_from")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FROM_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    format: DocumentFormat
    created_at: _timestamp_pb2.Timestamp
    author: str
    sha256: str
    size: int
    restored_from: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., format: _Optional[_Union[DocumentFormat, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., author: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., restored_from: _Optional[int] = ...) -> None: ...

class PutDocumentRequest(_message.Message):
    __slots__ = ("name", "content", "format", "expected_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: str
    format: DocumentFormat
    expected_version: int
    def __init__(self, name: _Optional[str] = ..., content: _Optional[str] = ..., format: _Optional[_Union[DocumentFormat, str]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class PutDocumentResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ConfigVersion
    def __init__(self, version: _Optional[_Union[ConfigVersion, _Mapping]] = ...) -> None: ...

class GetDocumentRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetDocumentResponse(_message.Message):
    __slots__ = ("version", "content", "value_json")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    version: ConfigVersion
    content: str
    value_json: str
    def __init__(self, version: _Optional[_Union[ConfigVersion, _Mapping]] = ..., content: _Optional[str] = ..., value_json: _Optional[str] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ConfigVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[ConfigVersion, _Mapping]]] = ...) -> None: ...

class DiffVersionsRequest(_message.Message):
    __slots__ = ("name", "to")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    name: str
    to: int
    def __init__(self, name: _Optional[str] = ..., to: _Optional[int] = ..., **kwargs) -> None: ...

class DiffEntry(_message.Message):
    __slots__ = ("path", "from_json", "to_json")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FROM_JSON_FIELD_NUMBER: _ClassVar[int]
    TO_JSON_FIELD_NUMBER: _ClassVar[int]
    path: str
    from_json: str
    to_json: str
    def __init__(self, path: _Optional[str] = ..., from_json: _Optional[str] = ..., to_json: _Optional[str] = ...) -> None: ...

class DiffVersionsResponse(_message.Message):
    __slots__ = ("name", "to", "added", "removed", "changed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    name: str
    to: int
    added: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    removed: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    changed: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    def __init__(self, name: _Optional[str] = ..., to: _Optional[int] = ..., added: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ..., removed: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ..., **kwargs) -> None: ...

class RollbackDocumentRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RollbackDocumentResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ConfigVersion
    def __init__(self, version: _Optional[_Union[ConfigVersion, _Mapping]] = ...) -> None: ...

class EvaluateFlagRequest(_message.Message):
    __slots__ = ("flag", "subject")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    flag: str
    subject: str
    def __init__(self, flag: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class EvaluateFlagResponse(_message.Message):
    __slots__ = ("flag", "subject", "enabled", "reason", "version")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    flag: str
    subject: str
    enabled: bool
    reason: str
    version: int
    def __init__(self, flag: _Optional[str] = ..., subject: _Optional[str] = ..., enabled: _Optional[bool] = ..., reason: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...
