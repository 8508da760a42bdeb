"""Codecs: how an outcome (a result or a cached error) becomes the bytes a store keeps.

Every stored body starts with a one-line header, ``<codec id>/<schema version>\\n``, so a
reader picks the codec from the record itself rather than from its own configuration:
instances configured with different codecs can read each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

from ._errors import ConfigurationError, RecordCorrupted, SerializationError

__all__ = ["Codec", "JsonCodec", "Outcome", "decode_body", "encode_body", "resolve_codec"]

SCHEMA_VERSION = 1
_MAX_HEADER = 64


@dataclass(slots=True)  # not frozen: built on every call, see ClaimResult
class Outcome:
    """What a call produced: its result, or the type name and message of a cached error."""

    result: Any = None
    error_type: str | None = None
    error_message: str | None = None


@runtime_checkable
class Codec(Protocol):
    """Encodes outcomes to bytes and back; ``id`` is stable and names it in every record."""

    @property
    def id(self) -> str:
        """Short stable name written in each record's header (ASCII, no ``/``)."""
        ...

    @property
    def content_type(self) -> str:
        """MIME type of the encoded form."""
        ...

    def encode(self, outcome: Outcome) -> bytes:
        """Encode; raise :class:`~idemsdk.SerializationError` for values it cannot hold."""
        ...

    def decode(self, data: bytes) -> Outcome:
        """Decode; raise :class:`~idemsdk.RecordCorrupted` for bytes it cannot read."""
        ...


def _refuse(value: object) -> Any:
    raise TypeError(f"type {type(value).__name__!r} is not a JSON value")


class JsonCodec:
    """JSON through orjson: readable in ``redis-cli``; results replay as JSON values."""

    id = "json"
    content_type = "application/json"
    # datetimes and dataclasses would replay as strings and dicts: refuse them rather than
    # hand a duplicate caller a different type than the first caller got.
    _options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def encode(self, outcome: Outcome) -> bytes:
        """Encode a result as ``{"result": ...}`` or an error as ``{"error": {...}}``."""
        if outcome.error_type is None:
            document: dict[str, Any] = {"result": outcome.result}
        else:
            document = {"error": {"type": outcome.error_type, "message": outcome.error_message}}
        try:
            return orjson.dumps(document, default=_refuse, option=self._options)
        except TypeError as exc:
            raise SerializationError(f"the result cannot be stored as JSON: {exc}") from exc

    def decode(self, data: bytes) -> Outcome:
        """Decode what :meth:`encode` wrote."""
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordCorrupted(f"the record body is not valid JSON: {exc}") from exc
        if isinstance(document, dict):
            if "result" in document:
                return Outcome(result=document["result"])
            error = document.get("error")
            if isinstance(error, dict) and isinstance(error.get("type"), str):
                return Outcome(error_type=error["type"], error_message=str(error.get("message")))
        raise RecordCorrupted("the record body holds neither a result nor an error")


_REGISTRY: dict[str, Codec] = {}
#: Current-version headers straight to their codec: the replay path's one dict lookup.
_BY_HEADER: dict[bytes, Codec] = {}


def _register(codec: Codec) -> Codec:
    registered = _REGISTRY.setdefault(codec.id, codec)
    _BY_HEADER.setdefault(f"{codec.id}/{SCHEMA_VERSION}".encode(), registered)
    return registered


_register(JsonCodec())


def resolve_codec(codec: str | Codec) -> Codec:
    """Return the codec named ``codec`` (or ``codec`` itself when it is a Codec object)."""
    if isinstance(codec, str):
        try:
            return _REGISTRY[codec]
        except KeyError:
            raise ConfigurationError(
                f"unknown codec {codec!r}; known: {', '.join(sorted(_REGISTRY))}"
            ) from None
    if not isinstance(codec, Codec):
        raise ConfigurationError(f"codec must be a name or a Codec, not {type(codec).__name__}")
    if not codec.id or "/" in codec.id or not codec.id.isascii():
        raise ConfigurationError(f"codec id {codec.id!r} must be non-empty ASCII without '/'")
    _register(codec)
    return codec


def encode_body(codec: Codec, outcome: Outcome) -> bytes:
    """The stored body: header line, then the codec's bytes."""
    return f"{codec.id}/{SCHEMA_VERSION}\n".encode() + codec.encode(outcome)


def decode_body(body: bytes | None) -> Outcome:
    """Read a stored body with whatever codec its header names."""
    if body is None:
        raise RecordCorrupted("the completed record has no body")
    end = body.find(b"\n", 0, _MAX_HEADER)
    codec = _BY_HEADER.get(body[:end]) if end > 0 else None
    if codec is None:
        codec = _codec_of(body[:end] if end > 0 else None)
    return codec.decode(body[end + 1 :])


def _codec_of(header: bytes | None) -> Codec:
    """The codec of a header that is not current: another schema version, or no header."""
    codec_id, slash, version = (header or b"").partition(b"/")
    if header is None or not slash or not version.isdigit():
        raise RecordCorrupted("the record body has no idemsdk header")
    codec = _REGISTRY.get(codec_id.decode("ascii", "replace"))
    if codec is None:
        raise RecordCorrupted(f"the record was written by unknown codec {codec_id!r}")
    return codec
