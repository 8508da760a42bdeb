"""Codecs: a :class:`Record` to bytes and back, as JSON or protobuf, and the registry of them.

Both write the fields of ``proto/idemsdk/v1/record.proto``: the protobuf codec the message
itself, the JSON codec the same fields under their protobuf JSON mapping names. Which codec
wrote a stored body is named in the body's header (``_framing``), so a reader never guesses.
A codec refuses to decode what is not a well-formed record of its kind: garbage must become
:class:`~idemsdk.RecordCorrupted`, never a wrong result.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Protocol, runtime_checkable

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ._errors import ConfigurationError, RecordCorrupted, SerializationError
from ._record import Record, Status
from .v1 import record_pb2

__all__ = ["Codec", "JsonCodec", "ProtobufCodec", "codec_named", "resolve_codec"]


@runtime_checkable
class Codec(Protocol):
    """Encodes records to bytes and back; ``id`` is stable and names it in every record."""

    @property
    def id(self) -> str:
        """Short stable name written in each record's header (ASCII letters, digits, ``-``)."""
        ...

    @property
    def content_type(self) -> str:
        """MIME type of the encoded form."""
        ...

    def encode(self, record: Record) -> bytes:
        """Encode; raise :class:`~idemsdk.SerializationError` for values it cannot hold."""
        ...

    def decode(self, data: bytes) -> Record:
        """Decode; raise :class:`~idemsdk.RecordCorrupted` for bytes it cannot read."""
        ...


_NAMES = {
    Status.IN_PROGRESS: "STATUS_IN_PROGRESS",
    Status.COMPLETED: "STATUS_COMPLETED",
    Status.FAILED: "STATUS_FAILED",
}
_BY_NAME = {name: status for status, name in _NAMES.items()}
_NUMBERS = {
    Status.IN_PROGRESS: record_pb2.STATUS_IN_PROGRESS,
    Status.COMPLETED: record_pb2.STATUS_COMPLETED,
    Status.FAILED: record_pb2.STATUS_FAILED,
}
_BY_NUMBER = {number: status for status, number in _NUMBERS.items()}


_NO_ERROR: dict[str, str] = {}


def _refuse(value: object) -> Any:
    # The result tree is JSON by contract (the result type dumped it): anything else is a bug
    # in a custom result type, reported rather than stringified.
    raise TypeError(f"type {type(value).__name__!r} is not a JSON value")


def _checked(record: Record) -> Record:
    """The invariants every decoded record must hold, whatever its encoding."""
    if record.schema_version < 1 or len(record.fingerprint) != 64:
        raise RecordCorrupted("the record lacks a schema version or a fingerprint")
    if record.status is Status.FAILED and not record.error_type:
        raise RecordCorrupted("a failed record holds no error")
    return record


class JsonCodec:
    """JSON through orjson, readable in ``redis-cli``: the protobuf JSON mapping of the record."""

    id = "json"
    content_type = "application/json"

    def encode(self, record: Record) -> bytes:
        """The record as a JSON document with protobuf JSON mapping names."""
        status = record.status
        # 64-bit integers go out as JSON numbers: protobuf's JSON parsers accept them (its
        # writers use strings), every value stays below 2**53 so any JSON reader gets it
        # exactly, and skipping str() and int() is a fifth of this codec's own cost.
        document: dict[str, Any] = {
            "schemaVersion": record.schema_version,
            "status": _NAMES[status],
            "fingerprint": record.fingerprint,
            "fencingToken": record.fencing_token,
            "createdAtMs": record.created_at_ms,
            "completedAtMs": record.completed_at_ms,
            "leaseDeadlineMs": record.lease_deadline_ms,
        }
        if status is Status.COMPLETED:
            document["result"] = {"value": record.result}
        elif status is Status.FAILED:
            document["error"] = {"type": record.error_type, "message": record.error_message}
        if record.trace_id:
            document["traceId"] = record.trace_id
            document["spanId"] = record.span_id
        try:
            return orjson.dumps(document, default=_refuse)
        except TypeError as exc:
            raise SerializationError(f"the result cannot be stored as JSON: {exc}") from exc

    def decode(self, data: bytes) -> Record:
        """Read what :meth:`encode` wrote, or any protobuf JSON mapping of a record."""
        try:
            document = orjson.loads(data)
            status = _BY_NAME[document["status"]]
            if status is Status.COMPLETED:
                result = _json_result(document["result"])
                error = _NO_ERROR
            else:
                result = None
                error = document.get("error") or _NO_ERROR
            get = document.get
            # int() also reads the strings that protobuf's own JSON writers put there.
            record = Record(
                status,
                document["fingerprint"],
                int(document["fencingToken"]),
                int(get("createdAtMs", 0)),
                int(get("completedAtMs", 0)),
                int(get("leaseDeadlineMs", 0)),
                result,
                error.get("type", ""),
                error.get("message", ""),
                get("traceId", ""),
                get("spanId", ""),
                int(document["schemaVersion"]),
            )
            # JSON has no schema, so a text field may hold anything: join() type-checks them
            # all in one call (TypeError below), cheaper than five isinstance tests.
            "".join(
                (
                    record.fingerprint,
                    record.error_type,
                    record.error_message,
                    record.trace_id,
                    record.span_id,
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordCorrupted(
                f"the JSON record is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        return _checked(record)


def _json_result(result: dict[str, Any]) -> Any:
    # "value" is what JsonCodec writes; "json" (base64 bytes) is the other arm of the oneof,
    # which a protobuf JSON mapping of a protobuf-written record would hold.
    if "value" in result:
        return result["value"]
    try:
        return orjson.loads(base64.b64decode(result["json"], validate=True))
    except (binascii.Error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"result.json: {exc}") from exc


class ProtobufCodec:
    """Protobuf through the upb runtime: compact and schema-checked; the result as JSON bytes."""

    id = "protobuf"
    content_type = "application/x-protobuf"

    def encode(self, record: Record) -> bytes:
        """The ``idemsdk.v1.Record`` message, serialized."""
        # Field by field: on upb this is ~1.7x faster than the keyword constructor.
        message = record_pb2.Record()
        message.schema_version = record.schema_version
        message.status = _NUMBERS[record.status]
        message.fingerprint = record.fingerprint
        message.fencing_token = record.fencing_token
        message.created_at_ms = record.created_at_ms
        message.completed_at_ms = record.completed_at_ms
        message.lease_deadline_ms = record.lease_deadline_ms
        if record.trace_id:
            message.trace_id = record.trace_id
            message.span_id = record.span_id
        if record.status is Status.COMPLETED:
            try:
                tree = orjson.dumps(record.result, default=_refuse)
            except TypeError as exc:
                raise SerializationError(f"the result cannot be stored: {exc}") from exc
            message.result.json = tree
        elif record.status is Status.FAILED:
            message.error.type = record.error_type
            message.error.message = record.error_message
        return message.SerializeToString()

    def decode(self, data: bytes) -> Record:
        """Parse an ``idemsdk.v1.Record``; unknown fields from newer schemas are ignored."""
        try:
            message = _parse(data)
            status = _BY_NUMBER[message.status]
            # upb builds each field's Python value on access, a submessage's too: read only
            # what this status holds.
            if status is Status.COMPLETED:
                # JSON text is never empty: empty bytes mean the other arm of the oneof (or
                # none). Testing that beats WhichOneof, which costs as much as a small load.
                text = message.result.json
                result = orjson.loads(text) if text else _value_result(message.result)
                error_type = error_message = ""
            else:
                error = message.error
                result, error_type, error_message = None, error.type, error.message
        except (DecodeError, KeyError, ValueError, orjson.JSONDecodeError) as exc:
            raise RecordCorrupted(f"the protobuf record is malformed ({exc})") from exc
        return _checked(
            Record(
                status,
                message.fingerprint,
                message.fencing_token,
                message.created_at_ms,
                message.completed_at_ms,
                message.lease_deadline_ms,
                result,
                error_type,
                error_message,
                message.trace_id,
                message.span_id,
                message.schema_version,
            )
        )


_parse = record_pb2.Record.FromString


def _value_result(result: record_pb2.Result) -> Any:
    if result.HasField("value"):
        return json_format.MessageToDict(result.value)
    raise ValueError("a completed record holds no result")


_REGISTRY: dict[str, Codec] = {codec.id: codec for codec in (JsonCodec(), ProtobufCodec())}


def codec_named(codec_id: str) -> Codec | None:
    """The registered codec with this id."""
    return _REGISTRY.get(codec_id)


def resolve_codec(codec: str | Codec) -> Codec:
    """The codec named ``codec``, or ``codec`` itself (registered) when it is a Codec object."""
    if isinstance(codec, str):
        found = _REGISTRY.get(codec)
        if found is None:
            known = ", ".join(sorted(_REGISTRY))
            raise ConfigurationError(f"unknown codec {codec!r}; known: {known}")
        return found
    if not isinstance(codec, Codec):
        raise ConfigurationError(f"codec must be a name or a Codec, not {type(codec).__name__}")
    if not codec.id or not codec.id.replace("-", "").isalnum() or not codec.id.isascii():
        raise ConfigurationError(f"codec id {codec.id!r} must be ASCII letters, digits and '-'")
    registered = _REGISTRY.setdefault(codec.id, codec)
    if registered is not codec and type(registered) is not type(codec):
        raise ConfigurationError(f"another codec is already registered as {codec.id!r}")
    return codec
