"""OpenTelemetry spans and metrics of idempotent calls, outcome by outcome, on every store.

Sync calls run on MemoryStore and a real Redis; async ones on MemoryStore and
AsyncRedisStore. Global providers are tested in a subprocess: they can be set once per
process. Log records are tested in test_logs.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any, cast

import pytest
import redis.asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from idemsdk import AsyncRedisStore, AsyncStore, Idempotency, MemoryStore, RequestInProgress, Store

from .otel import (
    AMOUNT,
    ORDER,
    OTHER_AMOUNT,
    SCOPE,
    TENANT,
    Backend,
    Otel,
    RenewalWatch,
    attributes,
    bypassed,
    charge,
    digest_of,
    error,
    executed,
    in_progress,
    labels,
    lease_lost,
    payload_mismatch,
    replayed,
    store_unavailable,
    stored_record_trace,
)


@pytest.fixture
def idem(otel: Otel, backend: Backend, prefix: str) -> Idempotency:
    """An Idempotency on the backend's store, reporting to ``otel``, under the test's prefix."""
    return otel.idem(backend.store(), prefix=prefix)


def includes(found: dict[str, Any], expected: dict[str, Any]) -> None:
    """``found`` has every item of ``expected`` (whatever else it has)."""
    assert {name: found.get(name) for name in expected} == expected, found


def procedures(spans: list[ReadableSpan]) -> list[Any]:
    """The stored procedure each store span ran."""
    return [attributes(span).get("db.stored_procedure.name") for span in spans]


def check_store_span(
    span: ReadableSpan, call: ReadableSpan, backend_attributes: dict[str, Any], procedure: str
) -> None:
    """A CLIENT child of ``call`` with the store's db attributes for ``procedure``."""
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == call.context.span_id
    assert span.context.trace_id == call.context.trace_id
    includes(attributes(span), {**backend_attributes, "db.stored_procedure.name": procedure})


def call_attributes(key: str, outcome: str, **more: Any) -> dict[str, Any]:
    """The attributes of a call span with ``key`` and ``outcome``."""
    return {
        "idempotency.tenant": TENANT,
        "idempotency.scope": SCOPE,
        "idempotency.key.digest": digest_of(key)[:16],
        "idempotency.outcome": outcome,
        **more,
    }


def same_span(link_or_span_context: Any, span: ReadableSpan) -> bool:
    """Whether a span context names ``span``."""
    return bool(
        link_or_span_context.trace_id == span.context.trace_id
        and link_or_span_context.span_id == span.context.span_id
    )


# Executed and replayed.


def test_executed_call_is_one_internal_span_with_a_client_child_per_round_trip(
    otel: Otel, idem: Idempotency, backend: Backend
) -> None:
    key = executed(idem)
    call = otel.call("executed")
    assert call.name == f"idempotency {SCOPE}"
    assert call.kind is SpanKind.INTERNAL
    assert attributes(call) == call_attributes(key, "executed", **{"redis.setnx.result": 1})
    assert call.status.status_code is StatusCode.UNSET
    claim, complete = otel.children(call)
    check_store_span(claim, call, backend.db_attributes(), "idemsdk.claim")
    check_store_span(complete, call, backend.db_attributes(), "idemsdk.complete")
    assert attributes(claim)["redis.setnx.result"] == 1
    assert "redis.setnx.result" not in attributes(complete)
    assert "error.type" not in attributes(claim)
    assert len(otel.spans()) == 3, "one span per call and per round trip, nothing else"


def test_a_replay_in_another_trace_links_to_the_execution_and_is_no_error(
    otel: Otel, idem: Idempotency, backend: Backend
) -> None:
    f = idem.idempotent(scope=SCOPE)(charge)
    f(ORDER, AMOUNT)
    with otel.tracer_provider.get_tracer("test").start_as_current_span("request") as request:
        f(ORDER, AMOUNT)
    original, replay = otel.call("executed"), otel.call("replayed")
    assert replay.context.trace_id != original.context.trace_id
    assert replay.parent is not None
    assert replay.parent.span_id == request.get_span_context().span_id
    assert attributes(replay) == call_attributes(
        f.key_for(ORDER, AMOUNT), "replayed", **{"redis.setnx.result": 0}
    )
    assert replay.status.status_code is StatusCode.UNSET
    [link] = replay.links
    assert same_span(link.context, original)
    assert not original.links
    [claim] = otel.children(replay)
    check_store_span(claim, replay, backend.db_attributes(), "idemsdk.claim")
    assert attributes(claim)["redis.setnx.result"] == 0


def test_the_record_names_the_trace_and_span_of_its_execution(
    otel: Otel, idem: Idempotency
) -> None:
    key = executed(idem)
    call = otel.call("executed")
    assert stored_record_trace(cast(Store, idem.store), key) == (
        f"{call.context.trace_id:032x}",
        f"{call.context.span_id:016x}",
    )


class CardDeclined(ValueError):
    """A business error worth caching."""


def test_a_replayed_cached_error_links_to_its_execution(otel: Otel, idem: Idempotency) -> None:
    def decline(order_id: str, amount: int) -> None:
        raise CardDeclined("declined")

    f = idem.idempotent(scope=SCOPE, cache_errors=(ValueError,))(decline)
    for _ in range(2):
        with pytest.raises(CardDeclined):
            f(ORDER, AMOUNT)
    original, replay = otel.call("executed"), otel.call("replayed")
    assert procedures(otel.children(original)) == ["idemsdk.claim", "idemsdk.complete"]
    assert attributes(replay)["redis.setnx.result"] == 0
    [link] = replay.links
    assert same_span(link.context, original)


def test_a_function_error_is_executed_and_its_claim_released(
    otel: Otel, idem: Idempotency, backend: Backend
) -> None:
    def fail(order_id: str, amount: int) -> None:
        raise RuntimeError("gateway timeout")

    f = idem.idempotent(scope=SCOPE)(fail)
    with pytest.raises(RuntimeError):
        f(ORDER, AMOUNT)
    call = otel.call("executed")
    assert call.status.status_code is StatusCode.ERROR
    assert attributes(call)["error.type"] == "RuntimeError"
    claim, release = otel.children(call)
    check_store_span(release, call, backend.db_attributes(), "idemsdk.release")
    assert procedures([claim, release]) == ["idemsdk.claim", "idemsdk.release"]


def test_lease_renewals_are_not_traced_or_timed(otel: Otel, backend: Backend, prefix: str) -> None:
    store = RenewalWatch(backend.store())

    def long_charge(order_id: str, amount: int) -> dict[str, Any]:
        assert store.renewed.wait(5), "the heartbeat renews a 0.3 s lease every 0.1 s"
        return charge(order_id, amount)

    otel.idem(store, prefix=prefix).idempotent(scope=SCOPE, lease=0.3)(long_charge)(ORDER, AMOUNT)
    call = otel.call("executed")
    assert procedures(otel.children(call)) == ["idemsdk.claim", "idemsdk.complete"]
    assert len(otel.spans()) == 3, "no span of the renewer's own"
    timed = otel.counts("db.client.operation.duration")
    assert sorted(dict(found)["db.stored_procedure.name"] for found in timed) == [
        "idemsdk.claim",
        "idemsdk.complete",
    ]


# Refusals: in progress, payload mismatch, lease lost and takeover.


def check_in_progress(otel: Otel, backend: Backend, key: str) -> None:
    """A refused duplicate: an ERROR span with its claim child; the running call's intact."""
    busy, first = otel.call("in_progress"), otel.call("executed")
    assert attributes(busy) == call_attributes(
        key, "in_progress", **{"redis.setnx.result": 0, "error.type": "RequestInProgress"}
    )
    assert busy.status.status_code is StatusCode.ERROR
    [claim] = otel.children(busy)
    check_store_span(claim, busy, backend.db_attributes(), "idemsdk.claim")
    assert attributes(claim)["redis.setnx.result"] == 0
    assert first.status.status_code is StatusCode.UNSET
    assert procedures(otel.children(first)) == ["idemsdk.claim", "idemsdk.complete"]


def test_a_duplicate_of_a_running_call_is_an_in_progress_error(
    otel: Otel, idem: Idempotency, backend: Backend
) -> None:
    check_in_progress(otel, backend, in_progress(idem))


def test_a_payload_mismatch_is_an_error(otel: Otel, idem: Idempotency) -> None:
    key = payload_mismatch(idem)
    refused = otel.call("payload_mismatch")
    assert attributes(refused) == call_attributes(
        key, "payload_mismatch", **{"redis.setnx.result": 0, "error.type": "PayloadMismatch"}
    )
    assert refused.status.status_code is StatusCode.ERROR
    assert procedures(otel.children(refused)) == ["idemsdk.claim"]


def test_a_takeover_is_marked_and_counted_and_the_stale_call_loses_its_lease(
    otel: Otel, idem: Idempotency
) -> None:
    key = lease_lost(idem)
    taker, stale = otel.call("executed"), otel.call("lease_lost")
    assert attributes(taker) == call_attributes(
        key, "executed", **{"redis.setnx.result": 1, "idempotency.takeover": True}
    )
    assert attributes(stale) == call_attributes(
        key, "lease_lost", **{"redis.setnx.result": 1, "error.type": "LeaseLost"}
    )
    assert stale.status.status_code is StatusCode.ERROR
    assert procedures(otel.children(stale)) == ["idemsdk.claim", "idemsdk.complete"]
    assert otel.counts("idempotency.lease.takeovers") == {
        labels({"idempotency.tenant": TENANT, "idempotency.scope": SCOPE}): 1
    }


# The store is down; the arguments have no key.


def test_an_unreachable_store_fails_the_call_and_its_claim_span(
    otel: Otel, backend: Backend, prefix: str
) -> None:
    store, db = backend.down()
    key = store_unavailable(otel.idem(store, prefix=prefix))
    call = otel.call("store_unavailable")
    assert attributes(call) == call_attributes(
        key, "store_unavailable", **{"error.type": "StoreUnavailable"}
    )
    assert call.status.status_code is StatusCode.ERROR
    [claim] = otel.children(call)
    check_store_span(claim, call, db, "idemsdk.claim")
    assert attributes(claim)["error.type"] == "ConnectionError"
    assert "redis.setnx.result" not in attributes(claim)
    assert claim.status.status_code is StatusCode.ERROR
    [(claimed, count)] = otel.counts("db.client.operation.duration").items()
    includes(
        dict(claimed),
        {**db, "db.stored_procedure.name": "idemsdk.claim", "error.type": "ConnectionError"},
    )
    assert count == 1


def test_a_bypassed_call_runs_unprotected_without_error(
    otel: Otel, backend: Backend, prefix: str
) -> None:
    store, db = backend.down()
    key = bypassed(otel.idem(store, prefix=prefix, on_store_error="execute"))
    call = otel.call("bypassed")
    assert attributes(call) == call_attributes(key, "bypassed")
    assert call.status.status_code is StatusCode.UNSET
    [claim] = otel.children(call)
    check_store_span(claim, call, db, "idemsdk.claim")
    assert attributes(claim)["error.type"] == "ConnectionError"


def test_arguments_without_a_key_are_outcome_error_and_claim_nothing(
    otel: Otel, idem: Idempotency
) -> None:
    error(idem)
    call = otel.call("error")
    assert attributes(call) == {
        "idempotency.tenant": TENANT,
        "idempotency.scope": SCOPE,
        "idempotency.outcome": "error",
        "error.type": "CanonicalizationError",
    }
    assert call.status.status_code is StatusCode.ERROR
    assert otel.children(call) == []


# Only what is recorded, and only when asked.


def test_an_unsampled_call_exports_nothing_and_stores_no_trace(
    backend: Backend, prefix: str
) -> None:
    otel = Otel(sampler=ALWAYS_OFF)
    store = backend.store()
    key = executed(otel.idem(store, prefix=prefix))
    assert otel.spans() == ()
    assert stored_record_trace(store, key) == ("", "")
    otel.shutdown()


def test_telemetry_false_emits_no_spans_and_no_metrics(
    otel: Otel, backend: Backend, prefix: str
) -> None:
    store = backend.store()
    idem = otel.idem(store, prefix=prefix, telemetry=False)
    key = replayed(idem)
    in_progress(otel.idem(store, prefix=prefix, tenant="other", telemetry=False))
    assert otel.spans() == ()
    assert otel.metrics() == {}
    assert stored_record_trace(store, key) == ("", "")


# Metrics.


def test_metrics_count_calls_by_outcome_and_time_calls_and_store_operations(
    otel: Otel, idem: Idempotency, backend: Backend
) -> None:
    replayed(idem)
    metrics = otel.metrics()
    assert metrics["idempotency.call.duration"].unit == "s"
    assert metrics["db.client.operation.duration"].unit == "s"
    assert otel.counts("idempotency.calls") == {
        labels(
            {"idempotency.tenant": TENANT, "idempotency.scope": SCOPE, "idempotency.outcome": o}
        ): 1
        for o in ("executed", "replayed")
    }
    assert otel.counts("idempotency.call.duration") == {
        labels({"idempotency.scope": SCOPE, "idempotency.outcome": o}): 1
        for o in ("executed", "replayed")
    }
    operations = otel.counts("db.client.operation.duration")
    by_procedure = {dict(found)["db.stored_procedure.name"]: found for found in operations}
    assert sorted(by_procedure) == ["idemsdk.claim", "idemsdk.complete"]
    for procedure, count in (("idemsdk.claim", 2), ("idemsdk.complete", 1)):
        found = by_procedure[procedure]
        includes(dict(found), backend.db_attributes())
        assert "error.type" not in dict(found)
        assert operations[found] == count


def test_no_metric_attribute_is_a_key_a_digest_or_a_payload_value(
    otel: Otel, backend: Backend, prefix: str
) -> None:
    store = backend.store()
    keys = [
        scenario(otel.idem(store, prefix=prefix, tenant=f"{TENANT}{n}"))
        for n, scenario in enumerate((executed, replayed, in_progress, payload_mismatch))
    ]
    forbidden = {ORDER, str(AMOUNT), str(OTHER_AMOUNT)}
    for key in keys:
        assert key is not None
        forbidden |= {key, digest_of(key), digest_of(key)[:16]}
    values = [
        str(value) for name in otel.metrics() for found in otel.counts(name) for _, value in found
    ]
    assert values, "the scenarios recorded measurements"
    assert [v for v in values if any(bad in v for bad in forbidden)] == []


# Global providers.

_GLOBAL_SDK_LATER = """
import json
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from idemsdk import Idempotency

charge = Idempotency(tenant="acme").idempotent(scope="pay")(lambda order_id: order_id.upper())
charge("o-1")  # no SDK yet: nothing listens

exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(tracer_provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

charge("o-1")  # replays the untraced execution: nothing to link to
charge("o-2")
charge("o-2")  # replays a traced execution
calls = [
    {"outcome": s.attributes["idempotency.outcome"], "links": len(s.links)}
    for s in exporter.get_finished_spans()
    if s.name == "idempotency pay"
]
counted = {
    p.attributes["idempotency.outcome"]: p.value
    for r in reader.get_metrics_data().resource_metrics
    for m in r.scope_metrics[0].metrics
    if m.name == "idempotency.calls"
    for p in m.data.data_points
}
print(json.dumps({"calls": calls, "counted": counted, "spans": len(exporter.get_finished_spans())}))
"""


def test_global_providers_serve_when_none_is_passed_even_when_set_after_decorating() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_GLOBAL_SDK_LATER)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["calls"] == [
        {"outcome": "replayed", "links": 0},
        {"outcome": "executed", "links": 0},
        {"outcome": "replayed", "links": 1},
    ]
    assert seen["counted"] == {"replayed": 2, "executed": 1}
    assert seen["spans"] == 2 + 3 + 2, "each call, its claim, and the execution's complete"


# Async.


def async_store(backend: Backend) -> AsyncStore:
    """The async twin of the backend's store (made inside the event loop that uses it)."""
    if backend.redis_url is None:
        return MemoryStore()
    return AsyncRedisStore(redis.asyncio.Redis.from_url(backend.redis_url))


async def aclose(store: AsyncStore) -> None:
    """Close an AsyncRedisStore's client on its own loop."""
    if isinstance(store, AsyncRedisStore):
        await store.client.aclose()


def test_async_executed_and_replayed_with_a_link(otel: Otel, backend: Backend, prefix: str) -> None:
    async def scenario() -> str:
        store = async_store(backend)
        try:
            idem = otel.idem(store, prefix=prefix)

            @idem.idempotent(scope=SCOPE)
            async def acharge(order_id: str, amount: int) -> dict[str, Any]:
                await asyncio.sleep(0)
                return charge(order_id, amount)

            first = await acharge(ORDER, AMOUNT)
            with otel.tracer_provider.get_tracer("test").start_as_current_span("request"):
                assert await acharge(ORDER, AMOUNT) == first
            return acharge.key_for(ORDER, AMOUNT)
        finally:
            await aclose(store)

    key = asyncio.run(scenario())
    original, replay = otel.call("executed"), otel.call("replayed")
    assert attributes(original) == call_attributes(key, "executed", **{"redis.setnx.result": 1})
    claim, complete = otel.children(original)
    check_store_span(claim, original, backend.db_attributes(), "idemsdk.claim")
    check_store_span(complete, original, backend.db_attributes(), "idemsdk.complete")
    assert attributes(replay) == call_attributes(key, "replayed", **{"redis.setnx.result": 0})
    assert replay.status.status_code is StatusCode.UNSET
    assert replay.context.trace_id != original.context.trace_id
    [link] = replay.links
    assert same_span(link.context, original)
    [replay_claim] = otel.children(replay)
    check_store_span(replay_claim, replay, backend.db_attributes(), "idemsdk.claim")


def test_async_duplicate_of_a_running_call_is_in_progress(
    otel: Otel, backend: Backend, prefix: str
) -> None:
    async def scenario() -> str:
        store = async_store(backend)
        started, release = asyncio.Event(), asyncio.Event()
        try:
            idem = otel.idem(store, prefix=prefix)

            @idem.idempotent(scope=SCOPE, lease=5)
            async def slow(order_id: str, amount: int) -> dict[str, Any]:
                started.set()
                await release.wait()
                return charge(order_id, amount)

            first = asyncio.create_task(slow(ORDER, AMOUNT))
            await asyncio.wait_for(started.wait(), 10)
            with pytest.raises(RequestInProgress):
                await slow(ORDER, AMOUNT)
            release.set()
            await first
            return slow.key_for(ORDER, AMOUNT)
        finally:
            await aclose(store)

    check_in_progress(otel, backend, asyncio.run(scenario()))
