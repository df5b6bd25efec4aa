import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProtoSourceFile(_message.Message):
    __slots__ = ("filename", "content")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content: bytes
    def __init__(self, filename: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class UploadProtoRequest(_message.Message):
    __slots__ = ("service", "version", "files", "allow_breaking", "generate")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BREAKING_FIELD_NUMBER: _ClassVar[int]
    GENERATE_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    files: _containers.RepeatedCompositeFieldContainer[ProtoSourceFile]
    allow_breaking: bool
    generate: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., files: _Optional[_Iterable[_Union[ProtoSourceFile, _Mapping]]] = ..., allow_breaking: _Optional[bool] = ..., generate: _Optional[_Iterable[str]] = ...) -> None: ...

class UploadProtoResponse(_message.Message):
    __slots__ = ("version", "created")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    version: ProtoVersion
    created: bool
    def __init__(self, version: _Optional[_Union[ProtoVersion, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ProtoFileEntry(_message.Message):
    __slots__ = ("filename", "size", "sha256")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size: int
    sha256: str
    def __init__(self, filename: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class GeneratedCodeReport(_message.Message):
    __slots__ = ("language", "ok", "files", "error")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    language: str
    ok: bool
    files: int
    error: str
    def __init__(self, language: _Optional[str] = ..., ok: _Optional[bool] = ..., files: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ProtoVersion(_message.Message):
    __slots__ = ("service", "version", "created_at", "digest", "uploader", "files", "breaking_overridden", "breaking_violations", "generated")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BREAKING_OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    BREAKING_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    GENERATED_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    created_at: _timestamp_pb2.Timestamp
    digest: str
    uploader: str
    files: _containers.RepeatedCompositeFieldContainer[ProtoFileEntry]
    breaking_overridden: bool
    breaking_violations: _containers.RepeatedScalarFieldContainer[str]
    generated: _containers.RepeatedCompositeFieldContainer[GeneratedCodeReport]
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., digest: _Optional[str] = ..., uploader: _Optional[str] = ..., files: _Optional[_Iterable[_Union[ProtoFileEntry, _Mapping]]] = ..., breaking_overridden: _Optional[bool] = ..., breaking_violations: _Optional[_Iterable[str]] = ..., generated: _Optional[_Iterable[_Union[GeneratedCodeReport, _Mapping]]] = ...) -> None: ...

class UploadGeneratedCodeRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: GeneratedCodeHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[GeneratedCodeHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class GeneratedCodeHeader(_message.Message):
    __slots__ = ("service", "version", "language", "filename")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    language: str
    filename: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., language: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class UploadGeneratedCodeResponse(_message.Message):
    __slots__ = ("bucket", "object_name", "size", "sha256")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    object_name: str
    size: int
    sha256: str
    def __init__(self, bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class GetProtoVersionsRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class GetProtoVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ProtoVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[ProtoVersion, _Mapping]]] = ...) -> None: ...

class DownloadProtoRequest(_message.Message):
    __slots__ = ("service", "version", "filename")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    filename: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ProtoDownloadHeader(_message.Message):
    __slots__ = ("service", "version", "file")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    file: ProtoFileEntry
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., file: _Optional[_Union[ProtoFileEntry, _Mapping]] = ...) -> None: ...

class DownloadProtoResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ProtoDownloadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ProtoDownloadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DownloadProtoArchiveRequest(_message.Message):
    __slots__ = ("service", "version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ProtoArchiveHeader(_message.Message):
    __slots__ = ("service", "version", "digest", "filename")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    digest: str
    filename: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., digest: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class DownloadProtoArchiveResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ProtoArchiveHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ProtoArchiveHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DiffProtoVersionsRequest(_message.Message):
    __slots__ = ("service", "to")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    service: str
    to: str
    def __init__(self, service: _Optional[str] = ..., to: _Optional[str] = ..., **kwargs) -> None: ...

class ProtoDefinitionChanges(_message.Message):
    __slots__ = ("messages", "services", "fields")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedScalarFieldContainer[str]
    services: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, messages: _Optional[_Iterable[str]] = ..., services: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class DiffProtoVersionsResponse(_message.Message):
    __slots__ = ("to", "added", "removed")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    to: str
    added: ProtoDefinitionChanges
    removed: ProtoDefinitionChanges
    def __init__(self, to: _Optional[str] = ..., added: _Optional[_Union[ProtoDefinitionChanges, _Mapping]] = ..., removed: _Optional[_Union[ProtoDefinitionChanges, _Mapping]] = ..., **kwargs) -> None: ...

class GetProtoDefinitionsRequest(_message.Message):
    __slots__ = ("service", "version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ProtoServiceDefinition(_message.Message):
    __slots__ = ("name", "methods")
    NAME_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    name: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ...) -> None: ...

class GetProtoDefinitionsResponse(_message.Message):
    __slots__ = ("version", "messages", "services", "enums")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    ENUMS_FIELD_NUMBER: _ClassVar[int]
    version: str
    messages: _containers.RepeatedScalarFieldContainer[str]
    services: _containers.RepeatedCompositeFieldContainer[ProtoServiceDefinition]
    enums: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[str] = ..., messages: _Optional[_Iterable[str]] = ..., services: _Optional[_Iterable[_Union[ProtoServiceDefinition, _Mapping]]] = ..., enums: _Optional[_Iterable[str]] = ...) -> None: ...

class ListProtoServicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProtoServicesResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, services: _Optional[_Iterable[str]] = ...) -> None: ...
