"""``inspect``'s reading of a key: from the raw reply (:class:`Snapshot`) to a record, no I/O.

It reads the hash the way the scripts and the engine do (``_lua``, ``_engine``), so what it
calls a problem is what a duplicate call would fail on, and :func:`next_call` says what that
duplicate would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from .._errors import IdempotencyError, RecordCorrupted
from .._framing import decode_body
from .._record import Record, Status
from ._errors import KeyNotFound
from ._times import duration

__all__ = ["RecordView", "Snapshot", "next_call", "read_record"]

#: The fields CLAIM requires of a hash before it treats it as a record.
_REQUIRED = (b"status", b"token", b"fp")
_HEADER_MAX = 64  # as _framing: a header is a short first line


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the server held under a key, read in one transaction (TYPE, PTTL, HGETALL, TIME)."""

    key: str
    kind: str
    pttl_ms: int
    fields: Mapping[bytes, bytes]
    now_ms: int


@dataclass(frozen=True, slots=True)
class RecordView:
    """An idemsdk record as an operator reads it; ``problem`` says why duplicates would fail."""

    key: str
    status: str
    #: Time to live (``None``: the key never expires, which idemsdk never leaves it doing).
    ttl_ms: int | None
    #: The server's clock (``TIME``), which leases and expiry follow.
    now_ms: int
    token: int | None
    fingerprint: str
    lease_deadline_ms: int | None
    created_ms: int | None
    done_ms: int | None
    #: The body's header line, e.g. ``json/1+zstd``: codec, schema version, compression.
    header: str | None
    body_bytes: int | None
    record: Record | None
    result_json_bytes: int | None
    problem: str | None


def read_record(snapshot: Snapshot) -> RecordView:
    """The record under a key; KeyNotFound or RecordCorrupted when there is none to show."""
    if snapshot.kind == "none":
        raise KeyNotFound(
            f"no key {snapshot.key!r}: it expired, was never written, or lives under another "
            "prefix, tenant, scope or database"
        )
    if snapshot.kind != "hash":
        raise RecordCorrupted(
            f"{snapshot.key!r} holds a Redis {snapshot.kind}, not an idemsdk record "
            "(records are hashes); a call with this key fails with RecordCorrupted"
        )
    fields = snapshot.fields
    missing = [name.decode() for name in _REQUIRED if name not in fields]
    if missing:
        present = ", ".join(sorted(_text(name) for name in fields)) or "none"
        raise RecordCorrupted(
            f"{snapshot.key!r} holds a hash without idemsdk's {', '.join(missing)} "
            f"(its fields: {present}); a call with this key fails with RecordCorrupted"
        )
    status = _text(fields[b"status"])
    token = _number(fields[b"token"])
    fingerprint = _text(fields[b"fp"])
    body = fields.get(b"body")
    problem = None if token is not None else "the token is not a number"
    record = None
    if status not in {s.value for s in Status}:
        problem = f"unknown status {status!r}"
    elif status != Status.IN_PROGRESS.value:
        record, body_problem = _decode(body, status, fingerprint)
        problem = problem or body_problem
    result_size = None
    if record is not None and record.status is Status.COMPLETED:
        result_size = len(orjson.dumps(record.result))
    return RecordView(
        key=snapshot.key,
        status=status,
        ttl_ms=snapshot.pttl_ms if snapshot.pttl_ms >= 0 else None,
        now_ms=snapshot.now_ms,
        token=token,
        fingerprint=fingerprint,
        lease_deadline_ms=_number(fields.get(b"lease")),
        created_ms=_number(fields.get(b"created")),
        done_ms=_number(fields.get(b"done")),
        header=_header(body),
        body_bytes=None if body is None else len(body),
        record=record,
        result_json_bytes=result_size,
        problem=problem,
    )


def next_call(view: RecordView) -> str:
    """What a duplicate call with this key would get now."""
    if view.problem is not None:
        return "duplicates fail with RecordCorrupted until the key expires or is deleted"
    if view.status == Status.IN_PROGRESS.value:
        # CLAIM reads a missing lease as 0: lapsed.
        remaining_ms = (view.lease_deadline_ms or 0) - view.now_ms
        if remaining_ms > 0:
            return (
                "a duplicate gets RequestInProgress (or waits): the owner's lease runs "
                f"{duration(remaining_ms)} more"
            )
        return (
            f"the lease lapsed {duration(-remaining_ms)} ago: the next call with the same "
            "payload takes over and runs the function again"
        )
    if view.record is not None and view.record.status is Status.FAILED:
        return (
            f"a duplicate re-raises {view.record.error_type} (ReplayedErrorUnavailable when "
            "that type is not in its cache_errors)"
        )
    return "a duplicate replays this result; another payload with this key gets PayloadMismatch"


def _decode(body: bytes | None, status: str, fingerprint: str) -> tuple[Record | None, str | None]:
    try:
        record = decode_body(body)
    except IdempotencyError as exc:
        return None, f"the body cannot be read: {exc.message}"
    if record.fingerprint != fingerprint or record.status.value != status:
        # The engine refuses such a body (RecordCorrupted): it is some other call's answer.
        return record, (
            "the body belongs to another record: its fingerprint or status differs from the hash's"
        )
    return record, None


def _header(body: bytes | None) -> str | None:
    if body is None:
        return None
    end = body.find(b"\n", 0, _HEADER_MAX)
    return body[:end].decode("ascii", "replace") if end > 0 else None


def _number(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
