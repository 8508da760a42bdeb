"""What the telemetry tests share: an in-memory OpenTelemetry SDK, stores, and call scenarios.

:class:`Otel` is a tracer provider exporting to memory and a meter provider read in memory.
:class:`Backend` gives the stores an outcome runs on (MemoryStore or a real Redis) and one
that is down. Each scenario drives a decorated ``charge`` into the outcomes its name says
and returns the key of its calls, so a test checks spans, metrics or logs against it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import SpanKind

from idemsdk import (
    CanonicalizationError,
    ClaimResult,
    Idempotency,
    LeaseLost,
    MemoryStore,
    PayloadMismatch,
    RedisStore,
    RequestInProgress,
    Status,
    Store,
    StoreUnavailable,
)
from idemsdk._framing import decode_body
from idemsdk.testing import free_port

TENANT = "acme"
SCOPE = "pay"
# Payload values no telemetry may carry: distinctive, so a leak is found by a substring search.
ORDER = "ord-7Q4Z-secret"
AMOUNT = 424242
OTHER_AMOUNT = 999999


def digest_of(key: str) -> str:
    """The digest part of a store key (its last ``:``-separated part)."""
    return key.rsplit(":", 1)[1]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})


class Otel:
    """An SDK tracer provider exporting to memory and a meter provider read in memory."""

    def __init__(self, sampler: Sampler | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(sampler=sampler)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def idem(self, store: Any, **options: Any) -> Idempotency:
        """An Idempotency on ``store`` reporting to these providers."""
        options.setdefault("tenant", TENANT)
        return Idempotency(
            store,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )

    def shutdown(self) -> None:
        """Stop both providers."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    def spans(self) -> tuple[ReadableSpan, ...]:
        """Every finished span, in the order they ended."""
        return self.exporter.get_finished_spans()

    def calls(self, outcome: str | None = None) -> list[ReadableSpan]:
        """The call spans (optionally only those with ``outcome``), in the order they ended."""
        return [
            span
            for span in self.spans()
            if span.kind is SpanKind.INTERNAL
            and span.name.startswith("idempotency ")
            and (outcome is None or attributes(span).get("idempotency.outcome") == outcome)
        ]

    def call(self, outcome: str) -> ReadableSpan:
        """The one call span with ``outcome``."""
        found = self.calls(outcome)
        assert len(found) == 1, [attributes(span) for span in self.calls()]
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """The spans whose parent is ``parent``, in the order they ended."""
        return [
            span
            for span in self.spans()
            if span.parent is not None and span.parent.span_id == parent.context.span_id
        ]

    def metrics(self) -> dict[str, Metric]:
        """Every metric collected so far, by name."""
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found

    def counts(self, name: str) -> dict[frozenset[tuple[str, Any]], int]:
        """A counter's value, or a histogram's measurement count, per attribute set."""
        metric = self.metrics()[name]
        counted: dict[frozenset[tuple[str, Any]], int] = {}
        for point in metric.data.data_points:
            if isinstance(point, NumberDataPoint):
                value = int(point.value)
            else:
                assert isinstance(point, HistogramDataPoint)
                value = point.count
            counted[frozenset((point.attributes or {}).items())] = value
        return counted


def labels(values: Mapping[str, Any]) -> frozenset[tuple[str, Any]]:
    """An attribute set as :meth:`Otel.counts` keys it."""
    return frozenset(values.items())


class DownStore(MemoryStore):
    """A MemoryStore whose every round trip fails as an unreachable server's would."""

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> Any:
        """Fail like a refused connection."""
        raise StoreUnavailable("the store is down") from ConnectionError("connection refused")


class RenewalWatch:
    """A store passing every round trip through to ``inner``, noting when a lease is renewed."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.renewed = threading.Event()

    def telemetry_attributes(self) -> Mapping[str, str | int]:
        """The inner store's."""
        found: Mapping[str, str | int] = self.inner.telemetry_attributes()  # type: ignore[attr-defined]
        return found

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """The inner store's claim."""
        return self.inner.claim(key, fingerprint, lease_ms, ttl_ms)

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        """The inner store's complete."""
        return self.inner.complete(key, token, status, body, ttl_ms)

    def release(self, key: str, token: int) -> bool:
        """The inner store's release."""
        return self.inner.release(key, token)

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        """The inner store's renew; then ``renewed`` is set."""
        renewed = self.inner.renew(key, token, lease_ms)
        self.renewed.set()
        return renewed


class Backend:
    """The sync stores one test runs on: MemoryStore, or RedisStore on a real server."""

    def __init__(self, name: str, redis_url: str | None) -> None:
        self.name = name
        self.redis_url = redis_url
        self._clients: list[redis.Redis] = []

    def __repr__(self) -> str:
        return f"<Backend {self.name}>"

    def _redis(self, url: str, **options: Any) -> RedisStore:
        store = RedisStore.from_url(url, **options)
        self._clients.append(store.client)  # type: ignore[arg-type]
        return store

    def store(self) -> Store:
        """A working store."""
        if self.redis_url is None:
            return MemoryStore()
        return self._redis(self.redis_url)

    def down(self) -> tuple[Store, dict[str, Any]]:
        """A store that cannot be reached, and the db attributes its spans carry."""
        if self.redis_url is None:
            return DownStore(), {"db.system.name": "memory"}
        port = free_port()  # nothing listens there: connections are refused at once
        url = f"redis://127.0.0.1:{port}/0"
        store = self._redis(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return store, self._redis_attributes(url)

    def db_attributes(self) -> dict[str, Any]:
        """The db attributes of every store span and measurement of :meth:`store`'s stores."""
        if self.redis_url is None:
            return {"db.system.name": "memory"}
        return self._redis_attributes(self.redis_url)

    @staticmethod
    def _redis_attributes(url: str) -> dict[str, Any]:
        parts = urlsplit(url)
        return {
            "db.system.name": "redis",
            "db.operation.name": "EVALSHA",
            "server.address": parts.hostname,
            "server.port": parts.port,
            "db.namespace": parts.path.strip("/") or "0",
        }

    def close(self) -> None:
        """Close the Redis clients this backend made."""
        for client in self._clients:
            client.close()


def backends() -> list[Any]:
    """``pytest.param`` per backend, for a ``backend`` fixture's params."""
    return ["memory", pytest.param("redis", marks=pytest.mark.redis)]


def make_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A ``backend`` fixture's body: registers the Redis server for key clean-up."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    backend = Backend(request.param, url)
    yield backend
    backend.close()


def stored_record_trace(store: Store, key: str) -> tuple[str, str]:
    """The trace and span id a completed record names, read back through a claim."""
    digest = digest_of(key)  # with the default key, the identity is the fingerprint
    claim = store.claim(key, digest, 30_000, 60_000)
    assert not claim.acquired
    assert claim.status is Status.COMPLETED
    record = decode_body(claim.body)
    return record.trace_id, record.span_id


class Gate:
    """``charge`` whose first run signals it started and blocks until released; later runs go
    straight through. Thread-safe."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.runs = 0
        self._lock = threading.Lock()

    def charge(self, order_id: str, amount: int) -> dict[str, Any]:
        """The gated function."""
        with self._lock:
            self.runs += 1
            run = self.runs
        if run == 1:
            self.started.set()
            assert self.release.wait(20)
        return {"order": order_id, "amount": amount, "run": run}


def charge(order_id: str, amount: int) -> dict[str, Any]:
    """The function most scenarios make idempotent."""
    return {"order": order_id, "amount": amount}


# Scenarios: each runs calls on ``store`` through ``idem`` and returns their key (None when the
# arguments had no key). The outcomes they produce are in OUTCOMES.
Scenario = Callable[[Idempotency], str | None]


def executed(idem: Idempotency) -> str:
    """One call: it runs."""
    f = idem.idempotent(scope=SCOPE)(charge)
    f(ORDER, AMOUNT)
    return f.key_for(ORDER, AMOUNT)


def replayed(idem: Idempotency) -> str:
    """A call and its duplicate: the duplicate replays."""
    f = idem.idempotent(scope=SCOPE)(charge)
    first = f(ORDER, AMOUNT)
    assert f(ORDER, AMOUNT) == first
    return f.key_for(ORDER, AMOUNT)


def in_progress(idem: Idempotency) -> str:
    """A duplicate while the first call is held running: RequestInProgress; then it ends."""
    gate = Gate()
    f = idem.idempotent(scope=SCOPE, lease=5)(gate.charge)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(f, ORDER, AMOUNT)
        assert gate.started.wait(10)
        with pytest.raises(RequestInProgress):
            f(ORDER, AMOUNT)
        gate.release.set()
        assert first.result(10)["run"] == 1
    return f.key_for(ORDER, AMOUNT)


def payload_mismatch(idem: Idempotency) -> str:
    """A call, then the same key (``order_id``) with another amount: PayloadMismatch."""
    f = idem.idempotent(scope=SCOPE, key="order_id")(charge)
    f(ORDER, AMOUNT)
    with pytest.raises(PayloadMismatch):
        f(ORDER, OTHER_AMOUNT)
    return f.key_for(ORDER, AMOUNT)


def lease_lost(idem: Idempotency) -> str:
    """A call outlives its unrenewed lease; a duplicate takes over; the first gets LeaseLost."""
    gate = Gate()
    f = idem.idempotent(scope=SCOPE, lease=0.3, heartbeat=False)(gate.charge)
    with ThreadPoolExecutor(1) as pool:
        stale = pool.submit(f, ORDER, AMOUNT)
        assert gate.started.wait(10)
        time.sleep(0.4)  # the 0.3 s lease runs out
        assert f(ORDER, AMOUNT)["run"] == 2  # the takeover runs straight through
        gate.release.set()
        with pytest.raises(LeaseLost):
            stale.result(10)
    return f.key_for(ORDER, AMOUNT)


def error(idem: Idempotency) -> None:
    """An argument with no JSON form: CanonicalizationError before any claim."""
    f = idem.idempotent(scope=SCOPE)(charge)
    with pytest.raises(CanonicalizationError):
        f(object(), AMOUNT)  # type: ignore[arg-type]


def store_unavailable(idem: Idempotency) -> str:
    """The store is down, on_store_error="raise": StoreUnavailable and nothing runs."""
    ran: list[str] = []

    def record(order_id: str, amount: int) -> dict[str, Any]:
        ran.append(order_id)
        return charge(order_id, amount)

    f = idem.idempotent(scope=SCOPE)(record)
    with pytest.raises(StoreUnavailable):
        f(ORDER, AMOUNT)
    assert ran == []
    return f.key_for(ORDER, AMOUNT)


def bypassed(idem: Idempotency) -> str:
    """The store is down, on_store_error="execute": the function runs unprotected."""
    f = idem.idempotent(scope=SCOPE)(charge)
    assert f(ORDER, AMOUNT) == charge(ORDER, AMOUNT)
    return f.key_for(ORDER, AMOUNT)


#: Each scenario's call outcomes, in no particular order.
OUTCOMES: Mapping[Scenario, list[str]] = {
    executed: ["executed"],
    replayed: ["executed", "replayed"],
    in_progress: ["executed", "in_progress"],
    payload_mismatch: ["executed", "payload_mismatch"],
    lease_lost: ["executed", "lease_lost"],
    error: ["error"],
    store_unavailable: ["store_unavailable"],
    bypassed: ["bypassed"],
}
#: The scenarios that need a store that is down, and the on_store_error they set.
ON_DOWN_STORE: Mapping[Scenario, str] = {store_unavailable: "raise", bypassed: "execute"}
