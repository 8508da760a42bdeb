"""A store wrapper that gives each round trip a CLIENT span and a duration measurement.

Spans follow OpenTelemetry's database client conventions (Redis flavour): the store
describes itself (``telemetry_attributes``: system, server, database index, the command it
sends), and each operation adds the script it runs as ``db.stored_procedure.name``. The
span is a child of whatever span is current, which is the call's.

Lease renewals pass through untraced: they run on the renewer's thread or task, outside
any call, and a root span every few seconds per running call would only be noise.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._errors import IdempotencyError
from ._record import ClaimResult
from ._record import Status as RecordStatus

__all__ = ["Instruments", "TracedStore", "describe_store"]

#: The OpenTelemetry semantic conventions' buckets for db.client.operation.duration.
DB_DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
CALL_DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
_PROCEDURES: Final = {op: f"idemsdk.{op}" for op in ("claim", "complete", "release")}


class Instruments:
    """The metric instruments of one meter provider (the store's and the calls')."""

    __slots__ = ("call_duration", "calls", "operation_duration", "takeovers")

    def __init__(self, meter: metrics.Meter) -> None:
        self.calls = meter.create_counter(
            "idempotency.calls", unit="{call}", description="Idempotent calls, by outcome"
        )
        self.call_duration = meter.create_histogram(
            "idempotency.call.duration",
            unit="s",
            description="Duration of idempotent calls, the function's run included",
            explicit_bucket_boundaries_advisory=CALL_DURATION_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of idempotency store operations",
            explicit_bucket_boundaries_advisory=DB_DURATION_BUCKETS,
        )
        self.takeovers = meter.create_counter(
            "idempotency.lease.takeovers",
            unit="{takeover}",
            description="Claims taken over from an owner whose lease ran out",
        )


def describe_store(store: object) -> Mapping[str, str | int]:
    """The semantic-convention attributes a store gives about itself, or a generic system."""
    describe = getattr(store, "telemetry_attributes", None)
    found: Mapping[str, str | int] = describe() if callable(describe) else {}
    return found or {"db.system.name": "other"}


def _error_type(exc: BaseException) -> str:
    # A store error wraps the client's (ConnectionError, TimeoutError): that one says more.
    cause = exc.__cause__ if isinstance(exc, IdempotencyError) else None
    return type(cause if cause is not None else exc).__qualname__


class _Round:
    """One timed round trip: its duration (if metering) and its span (if tracing).

    The span is made when the round trip is over, backdated to its start, with every
    attribute at once (the claim's SETNX result, an error's type): one call into the SDK
    instead of a start, setters and an end, which is most of what a span costs.
    """

    __slots__ = (
        "_attributes",
        "_instruments",
        "_name",
        "_setnx",
        "_started",
        "_started_ns",
        "_tracer",
    )

    def __init__(
        self,
        tracer: trace.Tracer | None,
        instruments: Instruments | None,
        name: str,
        attributes: Mapping[str, str | int],
    ) -> None:
        self._tracer, self._instruments = tracer, instruments
        self._name, self._attributes = name, attributes
        self._setnx: int | None = None
        self._started_ns = time.time_ns()
        self._started = time.perf_counter()

    def __enter__(self) -> _Round:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        error = None if exc is None else _error_type(exc)
        if error is not None:
            self._attributes = {**self._attributes, "error.type": error}
        if self._instruments is not None:
            elapsed = time.perf_counter() - self._started
            self._instruments.operation_duration.record(elapsed, self._attributes)
        if self._tracer is not None:
            attributes = self._attributes
            if self._setnx is not None:
                attributes = {**attributes, "redis.setnx.result": self._setnx}
            span = self._tracer.start_span(
                self._name, kind=SpanKind.CLIENT, attributes=attributes, start_time=self._started_ns
            )
            if exc is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, error))
            span.end()

    def claimed(self, result: ClaimResult) -> ClaimResult:
        """Note the claim's SETNX result, for its span."""
        self._setnx = int(result.acquired)
        return result


class TracedStore:
    """``store``, with each claim, complete and release traced and timed; both protocols."""

    def __init__(
        self, store: Any, tracer: trace.Tracer | None, instruments: Instruments | None
    ) -> None:
        self.inner = store
        self._tracer, self._instruments = tracer, instruments
        described = dict(describe_store(store))
        # The command the store sends, or (for stores without one) the operation itself.
        command = described.pop("db.operation.name", None)
        self._rounds: dict[str, tuple[str, dict[str, str | int]]] = {
            op: (
                f"{command or op} {procedure}",
                {
                    **described,
                    "db.operation.name": command or op,
                    "db.stored_procedure.name": procedure,
                },
            )
            for op, procedure in _PROCEDURES.items()
        }

    def __repr__(self) -> str:
        return f"TracedStore({self.inner!r})"

    def _round(self, op: str) -> _Round:
        name, attributes = self._rounds[op]
        return _Round(self._tracer, self._instruments, name, attributes)

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        with self._round("claim") as round_:
            return round_.claimed(self.inner.claim(key, fingerprint, lease_ms, ttl_ms))

    def complete(
        self, key: str, token: int, status: RecordStatus, body: bytes, ttl_ms: int
    ) -> bool:
        with self._round("complete"):
            return bool(self.inner.complete(key, token, status, body, ttl_ms))

    def release(self, key: str, token: int) -> bool:
        with self._round("release"):
            return bool(self.inner.release(key, token))

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        return bool(self.inner.renew(key, token, lease_ms))

    async def aclaim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        with self._round("claim") as round_:
            return round_.claimed(await self.inner.aclaim(key, fingerprint, lease_ms, ttl_ms))

    async def acomplete(
        self, key: str, token: int, status: RecordStatus, body: bytes, ttl_ms: int
    ) -> bool:
        with self._round("complete"):
            return bool(await self.inner.acomplete(key, token, status, body, ttl_ms))

    async def arelease(self, key: str, token: int) -> bool:
        with self._round("release"):
            return bool(await self.inner.arelease(key, token))

    async def arenew(self, key: str, token: int, lease_ms: int) -> bool:
        return bool(await self.inner.arenew(key, token, lease_ms))
