from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    STATUS_IN_PROGRESS: _ClassVar[Status]
    STATUS_COMPLETED: _ClassVar[Status]
    STATUS_FAILED: _ClassVar[Status]
STATUS_UNSPECIFIED: Status
STATUS_IN_PROGRESS: Status
STATUS_COMPLETED: Status
STATUS_FAILED: Status

class Record(_message.Message):
    __slots__ = ("schema_version", "status", "fingerprint", "fencing_token", "created_at_ms", "completed_at_ms", "lease_deadline_ms", "result", "error", "trace_id", "span_id")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    status: Status
    fingerprint: str
    fencing_token: int
    created_at_ms: int
    completed_at_ms: int
    lease_deadline_ms: int
    result: Result
    error: CachedError
    trace_id: str
    span_id: str
    def __init__(self, schema_version: _Optional[int] = ..., status: _Optional[_Union[Status, str]] = ..., fingerprint: _Optional[str] = ..., fencing_token: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., completed_at_ms: _Optional[int] = ..., lease_deadline_ms: _Optional[int] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[CachedError, _Mapping]] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("json", "value")
    JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    value: _struct_pb2.Value
    def __init__(self, json: _Optional[bytes] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class CachedError(_message.Message):
    __slots__ = ("type", "message")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
