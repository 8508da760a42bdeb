"""OpenTelemetry spans and metrics, and ``logging`` records, for idempotent calls.

Built on ``opentelemetry-api`` alone: with no SDK configured every provider is a no-op, and
this module notices that per call and gets out of the way (no span, no attribute, no
context switch), so telemetry costs nothing until an application installs an SDK. The
configured providers are looked up at each call, so an SDK set up after functions were
decorated, as most applications do, is picked up.

What is reported comes from the ``Call``: the engine and drivers fill in its outcome facts
(``setnx``, ``replayed``, ``bypassed``); :func:`outcome_of` reads them. docs/observability.md
is the reference for every span, metric and log field.
"""

from __future__ import annotations

import logging
import os
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context, metrics, trace
from opentelemetry.metrics import _internal as _metrics_globals
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ._engine import Release
from ._errors import LeaseLost, PayloadMismatch, RequestInProgress, StoreUnavailable
from ._store import PerStore
from ._traced import Instruments, TracedStore
from ._version import __version__

if TYPE_CHECKING:
    from ._engine import Call

__all__ = ["Live", "Observation", "Telemetry", "outcome_of", "warn"]

log = logging.getLogger("idemsdk")

SCOPE_NAME: Final = "idemsdk"
EXECUTED, REPLAYED, IN_PROGRESS = "executed", "replayed", "in_progress"
PAYLOAD_MISMATCH, LEASE_LOST = "payload_mismatch", "lease_lost"
STORE_UNAVAILABLE, BYPASSED, ERROR = "store_unavailable", "bypassed", "error"
#: Not a call outcome (a takeover executes): the WARNING a takeover logs says this.
TAKEOVER = "takeover"

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NO_TRACING = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_NO_METRICS = (metrics.NoOpMeterProvider,)

# trace.get_tracer_provider() and metrics.get_meter_provider() look up an environment
# variable on every call while no provider is set: ~1 us each, a tenth of a MemoryStore
# duplicate. The globals they read say the same for ~50 ns; the variables (a provider named
# by configuration) are read once, here. Were the globals ever renamed, the lookups below
# fall back to the public functions, slower but right.
_UNKNOWN = object()
_TRACER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_METER_FROM_ENV = "OTEL_PYTHON_METER_PROVIDER" in os.environ


def _global_tracer_provider() -> Any:
    """The global tracer provider; None while none is set (nothing would record)."""
    provider = getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
    if provider is None and not _TRACER_FROM_ENV:
        return None
    return trace.get_tracer_provider() if provider is None or provider is _UNKNOWN else provider


def _global_meter_provider() -> Any:
    """The global meter provider; None while none is set."""
    provider = getattr(_metrics_globals, "_METER_PROVIDER", _UNKNOWN)
    if provider is None and not _METER_FROM_ENV:
        return None
    return metrics.get_meter_provider() if provider is None or provider is _UNKNOWN else provider


def outcome_of(call: Call | None, exc: BaseException | None) -> str:
    """What became of a call, from the facts the engine and driver recorded on it."""
    if call is None:  # the arguments could not become a key: nothing was claimed
        return ERROR
    if call.bypassed:
        return BYPASSED
    if isinstance(exc, PayloadMismatch):
        return PAYLOAD_MISMATCH
    if isinstance(exc, RequestInProgress):
        return IN_PROGRESS
    if isinstance(exc, LeaseLost):
        return LEASE_LOST
    if isinstance(exc, StoreUnavailable):
        return STORE_UNAVAILABLE
    if call.executed:  # the function ran, whether it returned or raised
        return EXECUTED
    if call.replayed:  # a stored result, or a cached error re-raised
        return REPLAYED
    return ERROR


def _current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def _log_fields(tenant: str, scope: str, call: Call | None, outcome: str) -> dict[str, Any]:
    # Flat names, so a JSON log formatter emits them as fields. The digest prefix, never the
    # key or the payload; no call: the arguments had no key, so there is no digest.
    return {
        "idempotency_key": None if call is None else call.digest[:16],
        "tenant": tenant,
        "scope": scope,
        "outcome": outcome,
        "redis_result": None if call is None else call.setnx,
        "trace_id": _current_trace_id(),
    }


def warn(call: Call, outcome: str, message: str, *args: object) -> None:
    """A WARNING for an outcome that needs an operator's attention, with the call's fields."""
    log.warning(message, *args, extra=_log_fields(call.tenant, call.scope, call, outcome))


def _origin_context(origin: tuple[str, str]) -> SpanContext | None:
    """The execution a replayed record names; None when it names none (or junk)."""
    trace_id, span_id = origin
    # From the store, so checked: hex of the W3C lengths, not all zeros.
    if len(trace_id) != 32 or len(span_id) != 16:
        return None
    try:
        found = SpanContext(
            int(trace_id, 16),
            int(span_id, 16),
            is_remote=True,
            trace_flags=_SAMPLED,
        )
    except ValueError:
        return None
    return found if found.is_valid else None


class Live:
    """Telemetry for one pair of providers: a tracer, the instruments, traced stores."""

    __slots__ = ("_stores", "instruments", "meter_provider", "tracer", "tracer_provider")

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer_provider, self.meter_provider = tracer_provider, meter_provider
        self.tracer: trace.Tracer | None = (
            None
            if tracer_provider is None or isinstance(tracer_provider, _NO_TRACING)
            else tracer_provider.get_tracer(SCOPE_NAME, __version__)
        )
        self.instruments: Instruments | None = (
            None
            if meter_provider is None or isinstance(meter_provider, _NO_METRICS)
            else Instruments(meter_provider.get_meter(SCOPE_NAME, __version__))
        )
        tracer, instruments = self.tracer, self.instruments
        self._stores = PerStore(lambda store: TracedStore(store, tracer, instruments))

    @property
    def quiet(self) -> bool:
        """Neither traces nor metrics: only DEBUG logging could want an observation."""
        return self.tracer is None and self.instruments is None

    def store(self, store: Any) -> Any:
        """``store`` wrapped to trace and time each round trip; itself when nothing listens."""
        return store if self.quiet else self._stores(store)

    def observe(self, tenant: str, scope: str) -> Observation:
        """The observation of one call, to be entered around it."""
        return Observation(self, tenant, scope)


class Telemetry:
    """An ``Idempotency`` instance's telemetry settings, resolved to a :class:`Live` per call."""

    __slots__ = ("_live", "_logs_only", "enabled", "meter_provider", "tracer_provider")

    def __init__(self, tracer_provider: Any, meter_provider: Any, enabled: bool) -> None:
        self.tracer_provider, self.meter_provider, self.enabled = (
            tracer_provider,
            meter_provider,
            enabled,
        )
        self._live: Live | None = None
        self._logs_only = Live(None, None)

    def live(self) -> Live | None:
        """What observes calls right now; None when nothing would see it (the fast path)."""
        if not self.enabled:
            return None
        tracer_provider = self.tracer_provider or _global_tracer_provider()
        meter_provider = self.meter_provider or _global_meter_provider()
        if tracer_provider is None and meter_provider is None:  # the common case: no SDK
            return self._logs_only if log.isEnabledFor(logging.DEBUG) else None
        live = self._live
        if (
            live is None
            or live.tracer_provider is not tracer_provider
            or live.meter_provider is not meter_provider
        ):
            live = self._live = Live(tracer_provider, meter_provider)
        if live.quiet and not log.isEnabledFor(logging.DEBUG):
            return None
        return live


class Observation:
    """One call's span, metrics and DEBUG record: a context manager around the call."""

    __slots__ = ("_live", "_span", "_started", "_token", "call", "scope", "tenant")

    def __init__(self, live: Live, tenant: str, scope: str) -> None:
        self._live, self.tenant, self.scope = live, tenant, scope
        self.call: Call | None = None
        self._span: trace.Span | None = None
        self._token: object = None

    def __enter__(self) -> Observation:
        self._started = time.perf_counter()
        tracer = self._live.tracer
        if tracer is not None:
            self._span = span = tracer.start_span(
                f"idempotency {self.scope}",
                kind=SpanKind.INTERNAL,
                attributes={"idempotency.tenant": self.tenant, "idempotency.scope": self.scope},
            )
            self._token = context.attach(trace.set_span_in_context(span))
        return self

    def bind(self, call: Call) -> Call:
        """The call's identity is known: note it, and give it the trace it will store."""
        self.call = call
        span = self._span
        if span is not None:
            span_context = span.get_span_context()
            if span_context.trace_flags.sampled:  # a trace someone will see: worth linking to
                call.trace_ids = (span_context.trace_id, span_context.span_id)
        return call

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        call = self.call
        outcome = outcome_of(call, exc)
        span = self._span
        # The call's span stays current until the end: the DEBUG record's trace_id (and any
        # exemplar of the measurements) must name the call's trace, which the call's span
        # may have started.
        try:
            if span is not None:
                if span.is_recording():
                    self._finish_span(span, call, outcome, exc)
                span.end()
            instruments = self._live.instruments
            if instruments is not None:
                elapsed = time.perf_counter() - self._started
                # Tenants may be many (one per customer): the counter carries them, the
                # histogram, a series per bucket, does not. Never a key, a digest or a
                # payload (cardinality).
                labels = {"idempotency.scope": self.scope, "idempotency.outcome": outcome}
                instruments.call_duration.record(elapsed, labels)
                instruments.calls.add(1, {"idempotency.tenant": self.tenant, **labels})
                if call is not None and call.took_over:
                    instruments.takeovers.add(
                        1, {"idempotency.tenant": self.tenant, "idempotency.scope": self.scope}
                    )
            if log.isEnabledFor(logging.DEBUG):  # every call, keyed or not: one record each
                fields = _log_fields(self.tenant, self.scope, call, outcome)
                log.debug("idemsdk: %s %s", self.scope, outcome, extra=fields)
        finally:
            if span is not None:
                context.detach(self._token)  # type: ignore[arg-type]

    def _finish_span(
        self, span: trace.Span, call: Call | None, outcome: str, exc: BaseException | None
    ) -> None:
        # One set_attributes call: each call into the SDK takes a lock and cleans values.
        attributes: dict[str, Any] = {"idempotency.outcome": outcome}
        if call is not None:
            attributes["idempotency.key.digest"] = call.digest[:16]
            if call.setnx is not None:
                attributes["redis.setnx.result"] = call.setnx
            if call.took_over:
                attributes["idempotency.takeover"] = True
            if call.replayed:
                origin = _origin_context(call.origin)
                if origin is not None:
                    span.add_link(origin)
        if exc is not None and not isinstance(exc, Release):
            attributes["error.type"] = error = type(exc).__qualname__
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, error))
        span.set_attributes(attributes)
