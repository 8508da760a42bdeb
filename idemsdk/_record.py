"""What a store keeps under a key, and what a claim answers.

A store keeps a small envelope it can reason about atomically (status, owner token,
fingerprint, lease deadline) plus an opaque ``body``: the whole :class:`Record`, encoded by
a codec. The store never looks inside the body; the engine never bypasses the store's checks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["SCHEMA_VERSION", "ClaimResult", "Record", "Status"]

#: The record schema this code writes: proto/idemsdk/v1/record.proto.
SCHEMA_VERSION = 1


class Status(str, enum.Enum):
    """The state of a record."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    #: The function raised an error listed in ``cache_errors``; duplicates re-raise it.
    FAILED = "failed"


# Not frozen: a frozen dataclass's __init__ goes through object.__setattr__ per field, which
# costs microseconds on every call's hot path. Treat instances as read-only all the same.
@dataclass(slots=True)
class ClaimResult:
    """A store's answer to a claim: either ownership of the key, or the record already there.

    ``acquired`` is the SETNX result: True when this caller now owns the key (a fresh claim,
    or a takeover of a record whose lease ran out), False when another record holds it.
    """

    acquired: bool
    #: The fencing token of the owner: this caller's when ``acquired``, else the holder's.
    token: int
    #: When the owner's lease runs out, and the store's clock at the claim, in ms since epoch.
    lease_deadline_ms: int
    now_ms: int
    #: True when ``acquired`` replaced an owner whose lease had run out.
    takeover: bool = False
    #: The existing record when not ``acquired``.
    status: Status | None = None
    fingerprint: str | None = None
    body: bytes | None = None

    @property
    def lease_remaining_ms(self) -> int:
        """How long the holder's lease still runs, as the store saw it."""
        return max(self.lease_deadline_ms - self.now_ms, 0)


@dataclass(slots=True)  # not frozen: built on every call, see ClaimResult
class Record:
    """One call's stored record, field for field as ``proto/idemsdk/v1/record.proto``."""

    status: Status
    fingerprint: str
    fencing_token: int
    created_at_ms: int = 0
    completed_at_ms: int = 0
    lease_deadline_ms: int = 0
    #: The result as a JSON tree (``COMPLETED``); the function's result type rebuilds it.
    result: Any = None
    #: The cached error (``FAILED``).
    error_type: str = ""
    error_message: str = ""
    trace_id: str = ""
    span_id: str = ""
    schema_version: int = SCHEMA_VERSION
