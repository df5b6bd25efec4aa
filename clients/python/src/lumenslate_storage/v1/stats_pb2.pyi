import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_FIRING: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_FIRING: AlertState
ALERT_STATE_RESOLVED: AlertState

class Growth(_message.Message):
    __slots__ = ("objects", "bytes")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    objects: int
    bytes: int
    def __init__(self, objects: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("objects", "bytes", "versions", "noncurrent_bytes", "growth_day", "growth_week")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NONCURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    GROWTH_DAY_FIELD_NUMBER: _ClassVar[int]
    GROWTH_WEEK_FIELD_NUMBER: _ClassVar[int]
    objects: int
    bytes: int
    versions: int
    noncurrent_bytes: int
    growth_day: Growth
    growth_week: Growth
    def __init__(self, objects: _Optional[int] = ..., bytes: _Optional[int] = ..., versions: _Optional[int] = ..., noncurrent_bytes: _Optional[int] = ..., growth_day: _Optional[_Union[Growth, _Mapping]] = ..., growth_week: _Optional[_Union[Growth, _Mapping]] = ...) -> None: ...

class PrefixUsage(_message.Message):
    __slots__ = ("prefix", "usage")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    usage: Usage
    def __init__(self, prefix: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class LargeObject(_message.Message):
    __slots__ = ("key", "version_id", "size", "created_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    version_id: str
    size: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., version_id: _Optional[str] = ..., size: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BucketUsage(_message.Message):
    __slots__ = ("bucket", "usage", "prefixes", "largest")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_FIELD_NUMBER: _ClassVar[int]
    LARGEST_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    usage: Usage
    prefixes: _containers.RepeatedCompositeFieldContainer[PrefixUsage]
    largest: _containers.RepeatedCompositeFieldContainer[LargeObject]
    def __init__(self, bucket: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., prefixes: _Optional[_Iterable[_Union[PrefixUsage, _Mapping]]] = ..., largest: _Optional[_Iterable[_Union[LargeObject, _Mapping]]] = ...) -> None: ...

class KeySize(_message.Message):
    __slots__ = ("key", "size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    key: str
    size: int
    def __init__(self, key: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class SizeMismatch(_message.Message):
    __slots__ = ("key", "index_size", "store_size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INDEX_SIZE_FIELD_NUMBER: _ClassVar[int]
    STORE_SIZE_FIELD_NUMBER: _ClassVar[int]
    key: str
    index_size: int
    store_size: int
    def __init__(self, key: _Optional[str] = ..., index_size: _Optional[int] = ..., store_size: _Optional[int] = ...) -> None: ...

class BucketDrift(_message.Message):
    __slots__ = ("bucket", "index_objects", "index_bytes", "store_objects", "store_bytes", "objects_without_rows", "rows_without_objects", "size_mismatched", "byte_difference", "unlisted")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    INDEX_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    INDEX_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORE_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    STORE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_WITHOUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    ROWS_WITHOUT_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_MISMATCHED_FIELD_NUMBER: _ClassVar[int]
    BYTE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    UNLISTED_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    index_objects: int
    index_bytes: int
    store_objects: int
    store_bytes: int
    objects_without_rows: _containers.RepeatedCompositeFieldContainer[KeySize]
    rows_without_objects: _containers.RepeatedCompositeFieldContainer[KeySize]
    size_mismatched: _containers.RepeatedCompositeFieldContainer[SizeMismatch]
    byte_difference: int
    unlisted: int
    def __init__(self, bucket: _Optional[str] = ..., index_objects: _Optional[int] = ..., index_bytes: _Optional[int] = ..., store_objects: _Optional[int] = ..., store_bytes: _Optional[int] = ..., objects_without_rows: _Optional[_Iterable[_Union[KeySize, _Mapping]]] = ..., rows_without_objects: _Optional[_Iterable[_Union[KeySize, _Mapping]]] = ..., size_mismatched: _Optional[_Iterable[_Union[SizeMismatch, _Mapping]]] = ..., byte_difference: _Optional[int] = ..., unlisted: _Optional[int] = ...) -> None: ...

class GetStorageStatsRequest(_message.Message):
    __slots__ = ("verify", "largest")
    VERIFY_FIELD_NUMBER: _ClassVar[int]
    LARGEST_FIELD_NUMBER: _ClassVar[int]
    verify: bool
    largest: int
    def __init__(self, verify: _Optional[bool] = ..., largest: _Optional[int] = ...) -> None: ...

class GetStorageStatsResponse(_message.Message):
    __slots__ = ("generated_at", "totals", "buckets", "drift")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    generated_at: _timestamp_pb2.Timestamp
    totals: Usage
    buckets: _containers.RepeatedCompositeFieldContainer[BucketUsage]
    drift: _containers.RepeatedCompositeFieldContainer[BucketDrift]
    def __init__(self, generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., totals: _Optional[_Union[Usage, _Mapping]] = ..., buckets: _Optional[_Iterable[_Union[BucketUsage, _Mapping]]] = ..., drift: _Optional[_Iterable[_Union[BucketDrift, _Mapping]]] = ...) -> None: ...

class GetBucketUsageRequest(_message.Message):
    __slots__ = ("bucket", "largest")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    LARGEST_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    largest: int
    def __init__(self, bucket: _Optional[str] = ..., largest: _Optional[int] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("alert", "state", "value", "threshold", "message", "details", "since", "checked_at")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALERT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    alert: str
    state: AlertState
    value: float
    threshold: float
    message: str
    details: _containers.ScalarMap[str, str]
    since: _timestamp_pb2.Timestamp
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, alert: _Optional[str] = ..., state: _Optional[_Union[AlertState, str]] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("alert", "state", "value", "threshold", "message", "details", "at")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALERT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    alert: str
    state: AlertState
    value: float
    threshold: float
    message: str
    details: _containers.ScalarMap[str, str]
    at: _timestamp_pb2.Timestamp
    def __init__(self, alert: _Optional[str] = ..., state: _Optional[_Union[AlertState, str]] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckAlertsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckAlertsResponse(_message.Message):
    __slots__ = ("checked_at", "events", "alerts")
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    checked_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[AlertEvent]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[AlertEvent, _Mapping]]] = ..., alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...
