"""Per-call overhead of ``@idempotent``, as ratios measured in one run.

    python -m benchmarks.overhead [--rounds N] [--redis-url URL]

This machine class is noisy, so every figure is a median over interleaved runs (Redis cases
take turns call by call) and every target is a ratio against a baseline measured alongside:

- Redis: a duplicate call against one raw EVALSHA of the same claim script on the same
  record (target <= 1.15x); a first call against the raw claim + complete pair it replaces
  (target <= 1.10x).
- MemoryStore: local work per call (decorated minus undecorated) against AWS Lambda
  Powertools' idempotency decorator on the same payload, its Redis layer pointed at an
  in-process dict (target < 1/3), when ``aws-lambda-powertools`` is installed (``bench`` extra).
- Keys: ``make_key`` on a ~330-byte order against bare ``orjson.dumps(OPT_SORT_KEYS)`` plus
  a BLAKE3 hex digest (target <= 1.5x); and the same order with floats, for information.
- Telemetry: a MemoryStore duplicate with no OpenTelemetry SDK configured (the default
  ``Idempotency``) against the same call with ``telemetry=False`` (target <= 1.10x); a
  Redis duplicate with the SDK and a no-op exporter against ``telemetry=False`` (target
  <= 1.25x). The SDK case passes its providers to ``Idempotency``, so no global provider is
  ever set here and every other case runs as an application without an SDK would.

Redis is ``--redis-url``, else ``REDIS_URL``, else 127.0.0.1:6379 when it answers, else a
``redis-server`` started here on a free loopback port and stopped by its pid afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import blake3
import orjson
import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from idemsdk import Idempotency, MemoryStore, RedisStore, make_key
from idemsdk._lua import CLAIM, COMPLETE
from idemsdk.testing import RedisServer

ORDER: dict[str, Any] = {
    "order_id": "ord_8f14e45fceea167a",
    "customer": {"id": "cus_1234567890", "email": "jane.doe@example.com", "name": "Jane Doe"},
    "items": [
        {"sku": "SKU-1001", "qty": 2, "price_cents": 1999},
        {"sku": "SKU-2002", "qty": 1, "price_cents": 4999},
        {"sku": "SKU-3003", "qty": 5, "price_cents": 299},
    ],
    "currency": "EUR",
    "total_cents": 10492,
    "shipping": {"method": "express", "address": {"city": "Berlin", "zip": "10115"}},
}
ORDER_FLOATS: dict[str, Any] = {
    **ORDER,
    "items": [
        {"sku": i["sku"], "qty": i["qty"], "price": i["price_cents"] / 100} for i in ORDER["items"]
    ],
    "total": 104.92,
    "tax_rate": 0.19,
}
RESULT = {"charge_id": "ch_3MmlLrLkdIwHu7ix0snN0B15", "status": "succeeded", "amount": 10492}

Case = Callable[[int], None]  # runs a batch of n calls


def per_call(case: Case, n: int) -> float:
    """Seconds per call for one batch."""
    began = time.perf_counter()
    case(n)
    return (time.perf_counter() - began) / n


def measure_paired(cases: dict[str, Case], calls: int) -> dict[str, float]:
    """Median seconds per call, the cases taking turns call by call.

    For network round trips (hundreds of µs, drifting with the host's load): alternating
    single calls exposes every case to the same conditions, and the median drops stalls.
    """
    for case in cases.values():
        case(max(calls // 20, 1))
    samples: dict[str, list[int]] = {name: [] for name in cases}
    clock = time.perf_counter_ns
    for _ in range(calls):
        for name, case in cases.items():
            began = clock()
            case(1)
            samples[name].append(clock() - began)
    return {name: statistics.median(values) / 1e9 for name, values in samples.items()}


def measure(cases: dict[str, Case], rounds: int, n: int) -> dict[str, float]:
    """Median seconds per call of each case, over rounds that interleave all cases."""
    for case in cases.values():
        case(max(n // 10, 1))  # warm up: connections, scripts, caches
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            samples[name].append(per_call(case, n))
    return {name: statistics.median(values) for name, values in samples.items()}


def charge(order: dict[str, Any]) -> dict[str, Any]:
    """The function under test: cheap, so the figures show the decorator's own cost."""
    return RESULT


def _answers(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """The Redis to measure against; one started here is stopped on exit."""
    url = url or os.environ.get("REDIS_URL")
    if url:
        yield url
    elif _answers("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/0"
    else:
        with RedisServer() as server:
            yield server.url


class NoOpExporter(SpanExporter):
    """Takes every span and drops it: what the SDK costs without any exporting cost."""

    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def sdk_providers() -> dict[str, Any]:
    """An SDK tracer and meter provider, as an application would set up, exporting nothing.

    Spans go through the batching processor production setups use; every measurement is
    aggregated by the SDK into a reader that is never collected.
    """
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(NoOpExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


def sdk_floor(providers: dict[str, Any], decorated: Callable[..., Any]) -> Case:
    """A telemetry-off duplicate plus the bare SDK work any instrumentation of it must do.

    Two spans (the call's and its claim's, with their attributes) and three measurements (a
    counter and two histograms), straight on the SDK: what the SDK itself costs in situ,
    after a network round trip, next to what idemsdk's instrumentation costs.
    """
    tracer = providers["tracer_provider"].get_tracer("floor")
    meter = providers["meter_provider"].get_meter("floor")
    calls, durations = meter.create_counter("calls"), meter.create_histogram("call.duration")
    operations = meter.create_histogram("operation.duration")
    labels = {"idempotency.scope": "bench", "idempotency.outcome": "replayed"}
    claim = {"db.system.name": "redis", "db.operation.name": "EVALSHA", "server.port": 6379}

    def run(n: int) -> None:
        for _ in range(n):
            span = tracer.start_span("idempotency bench", attributes=labels)
            decorated(order=ORDER)
            tracer.start_span("EVALSHA idemsdk.claim", attributes=claim).end()
            span.set_attributes(labels)
            span.end()
            operations.record(0.0002, claim)
            durations.record(0.0002, labels)
            calls.add(1, labels)

    return run


def _duplicates(decorated: Callable[..., Any]) -> Case:
    def run(n: int) -> None:
        for _ in range(n):
            decorated(order=ORDER)

    return run


def redis_cases(client: redis.Redis, prefix: str) -> dict[str, Case]:
    """Decorated calls on a RedisStore next to the raw scripts they send."""
    store = RedisStore(client)
    idem = Idempotency(store, prefix=prefix)
    decorated = idem.idempotent(scope="bench")(charge)
    decorated(ORDER)
    # The same record (same prefix, tenant and scope), read with telemetry off and with the SDK.
    quiet = Idempotency(store, prefix=prefix, telemetry=False).idempotent(scope="bench")(charge)
    providers = sdk_providers()
    traced = Idempotency(store, prefix=prefix, **providers).idempotent(scope="bench")(charge)
    done_key = decorated.key_for(ORDER)
    fingerprint = done_key.rsplit(":", 1)[1]
    body = client.hget(done_key, "body")  # the exact body the decorator stored
    assert body is not None
    counter = iter(range(10**9))
    claim_id = "0123456789abcdef"  # the script's arguments, as the store sends them

    def raw_duplicate(n: int) -> None:
        for _ in range(n):
            client.evalsha(CLAIM.sha, 1, done_key, fingerprint, 30_000, 86_400_000, claim_id)

    def raw_first(n: int) -> None:
        for _ in range(n):
            key = f"{prefix}:raw:{next(counter)}"
            token = client.evalsha(CLAIM.sha, 1, key, fingerprint, 30_000, 86_400_000, claim_id)[1]
            client.evalsha(COMPLETE.sha, 1, key, token, "completed", body, 86_400_000)

    def first(n: int) -> None:
        for _ in range(n):
            decorated({**ORDER, "order_id": f"ord-{next(counter)}"})

    return {
        "redis raw EVALSHA claim": raw_duplicate,
        "redis duplicate call": _duplicates(decorated),
        "redis raw claim+complete": raw_first,
        "redis first call": first,
        "redis duplicate call, telemetry off": _duplicates(quiet),
        "redis duplicate call, SDK + no-op exporter": _duplicates(traced),
        "redis duplicate call, telemetry off + bare SDK work": sdk_floor(providers, quiet),
    }


class DictRedis:
    """An in-process stand-in for the three Redis commands Powertools' cache layer sends."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}

    def get(self, name: Any) -> Any:
        return self.data.get(name)

    def set(  # the signature Powertools calls; expiry is not exercised
        self,
        name: Any,
        value: Any,
        ex: Any = None,
        px: Any = None,
        nx: bool = False,
    ) -> bool:
        if nx and name in self.data:
            return False
        self.data[name] = value
        return True

    def delete(self, *names: Any) -> int:
        return sum(self.data.pop(name, None) is not None for name in names)


def memory_cases() -> dict[str, Case]:
    """Undecorated, decorated on MemoryStore, and Powertools (when installed)."""
    store = MemoryStore()
    decorated = Idempotency(store).idempotent(scope="bench")(charge)
    quiet = Idempotency(store, telemetry=False).idempotent(scope="bench")(charge)
    counter = iter(range(10**9))

    def undecorated(n: int) -> None:
        for _ in range(n):
            charge(order=ORDER)

    def first(n: int) -> None:
        for _ in range(n):
            decorated(order={**ORDER, "order_id": f"ord-{next(counter)}"})

    def undecorated_first(n: int) -> None:  # the same dict copy the first-call case makes
        for _ in range(n):
            charge(order={**ORDER, "order_id": f"ord-{next(counter)}"})

    cases: dict[str, Case] = {
        "memory undecorated": undecorated,
        "memory undecorated (new payload)": undecorated_first,
        "memory duplicate call": _duplicates(decorated),
        "memory first call": first,
        "memory duplicate call, telemetry off": _duplicates(quiet),
    }
    try:
        from aws_lambda_powertools.utilities.idempotency import (
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.persistence.redis import (
            RedisCachePersistenceLayer,
        )
    except ImportError:
        return cases
    layer = RedisCachePersistenceLayer(client=DictRedis())
    powertools = idempotent_function(data_keyword_argument="order", persistence_store=layer)(charge)

    def pt_duplicate(n: int) -> None:
        for _ in range(n):
            powertools(order=ORDER)

    def pt_first(n: int) -> None:
        for _ in range(n):
            powertools(order={**ORDER, "order_id": f"ord-{next(counter)}"})

    cases["powertools duplicate call"] = pt_duplicate
    cases["powertools first call"] = pt_first
    return cases


def key_cases() -> dict[str, Case]:
    """make_key next to the bare orjson + BLAKE3 it must stay close to."""
    sort = orjson.OPT_SORT_KEYS

    def bare(payload: dict[str, Any]) -> Case:
        def run(n: int) -> None:
            for _ in range(n):
                blake3.blake3(orjson.dumps(payload, option=sort)).hexdigest()

        return run

    def ours(payload: dict[str, Any]) -> Case:
        def run(n: int) -> None:
            for _ in range(n):
                make_key(payload, tenant="acme", scope="orders.create")

        return run

    return {
        "orjson+blake3 order": bare(ORDER),
        "make_key order": ours(ORDER),
        "orjson+blake3 order with floats": bare(ORDER_FLOATS),
        "make_key order with floats": ours(ORDER_FLOATS),
    }


def report(times: dict[str, float]) -> list[str]:
    """The figures and the ratios against their targets, as Markdown lines."""
    us = {name: t * 1e6 for name, t in times.items()}
    lines = ["| case | µs per call |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in us.items()]
    lines += ["", "| ratio | value | target | |", "|---|---:|---:|---|"]

    def ratio(label: str, value: float, target: float, *, below: bool = False) -> None:
        ok = value < target if below else value <= target
        bound = f"{'<' if below else '<='} {target:g}"
        lines.append(f"| {label} | {value:.3f} | {bound} | {'ok' if ok else 'MISSED'} |")

    if "redis duplicate call" in us:
        ratio(
            "redis duplicate / raw EVALSHA",
            us["redis duplicate call"] / us["redis raw EVALSHA claim"],
            1.15,
        )
        ratio(
            "redis first call / raw claim+complete",
            us["redis first call"] / us["redis raw claim+complete"],
            1.10,
        )
        lines.append(
            f"| redis first call / 2 x raw EVALSHA claim (context) | "
            f"{us['redis first call'] / (2 * us['redis raw EVALSHA claim']):.3f} | | |"
        )
    local_dup = us["memory duplicate call"] - us["memory undecorated"]
    local_first = us["memory first call"] - us["memory undecorated (new payload)"]
    lines.append(f"| memory local work, duplicate (µs) | {local_dup:.2f} | | |")
    lines.append(f"| memory local work, first call (µs) | {local_first:.2f} | | |")
    if "powertools duplicate call" in us:
        pt_dup = us["powertools duplicate call"] - us["memory undecorated"]
        pt_first = us["powertools first call"] - us["memory undecorated (new payload)"]
        lines.append(f"| powertools local work, duplicate (µs) | {pt_dup:.2f} | | |")
        lines.append(f"| powertools local work, first call (µs) | {pt_first:.2f} | | |")
        ratio("local work duplicate / powertools", local_dup / pt_dup, 1 / 3, below=True)
        ratio("local work first call / powertools", local_first / pt_first, 1 / 3, below=True)
    ratio(
        "memory duplicate, no SDK / telemetry off",
        us["memory duplicate call"] / us["memory duplicate call, telemetry off"],
        1.10,
    )
    if "redis duplicate call" in us:
        ratio(
            "redis duplicate, SDK + no-op exporter / telemetry off",
            us["redis duplicate call, SDK + no-op exporter"]
            / us["redis duplicate call, telemetry off"],
            1.25,
        )
        off = us["redis duplicate call, telemetry off"]
        floor = us["redis duplicate call, telemetry off + bare SDK work"] - off
        added = us["redis duplicate call, SDK + no-op exporter"] - off
        lines.append(
            f"| redis SDK floor: 2 bare spans + 3 measurements (µs, context) | {floor:.1f} | | |"
        )
        lines.append(f"| redis added by telemetry with the SDK (µs, context) | {added:.1f} | | |")
        with_floor = (off + floor) / off
        lines.append(
            f"| redis telemetry off + SDK floor / telemetry off (context) | {with_floor:.3f} | | |"
        )
    ratio("make_key / orjson+blake3 (order)", us["make_key order"] / us["orjson+blake3 order"], 1.5)
    lines.append(
        f"| make_key / orjson+blake3 (order with floats, context) | "
        f"{us['make_key order with floats'] / us['orjson+blake3 order with floats']:.3f} | | |"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run every case in interleaved rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=400, help="calls per case per round")
    parser.add_argument("--redis-calls", type=int, default=2000, help="calls per Redis case")
    parser.add_argument("--redis-url")
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    with redis_server(args.redis_url) as url:
        client = redis.Redis.from_url(url)
        try:
            times = measure_paired(redis_cases(client, prefix), args.redis_calls)
            times |= measure({**memory_cases(), **key_cases()}, args.rounds, args.calls)
        finally:
            keys = list(client.scan_iter(f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
            client.close()
    lines = report(times)
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
