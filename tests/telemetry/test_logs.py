"""Log records of idempotent calls under the ``idemsdk`` logger, on MemoryStore and Redis.

At DEBUG every call logs one record; outcomes that need an operator (the store down, a
call run unprotected, a lease lost, a takeover) log a WARNING. Both carry the same fields
as ``extra``, so a JSON formatter emits them; spans give the trace each one must name.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

from idemsdk import Idempotency

from .otel import (
    ON_DOWN_STORE,
    OUTCOMES,
    SCOPE,
    TENANT,
    Backend,
    Otel,
    Scenario,
    bypassed,
    digest_of,
    in_progress,
    lease_lost,
    replayed,
    store_unavailable,
)

FIELDS = ("idempotency_key", "tenant", "scope", "outcome", "redis_result", "trace_id")
#: What the store answered each outcome's claim: 1 took ownership, 0 the key existed.
REDIS_RESULT = {
    "executed": 1,
    "replayed": 0,
    "in_progress": 0,
    "payload_mismatch": 0,
    "lease_lost": 1,
    "takeover": 1,
    "error": None,
    "store_unavailable": None,
    "bypassed": None,
}
#: The WARNINGs each scenario logs (outcome fields); the others log none.
WARNINGS: dict[Scenario, list[str]] = {
    store_unavailable: ["store_unavailable"],
    bypassed: ["bypassed"],
    lease_lost: ["lease_lost", "takeover"],
}
#: The call whose span a WARNING's trace is: a takeover is logged by the executing call.
WARNING_CALL = {"takeover": "executed"}


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    """The ``idemsdk`` records at exactly ``level``."""
    return [r for r in caplog.records if r.name == "idemsdk" and r.levelno == level]


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """A record's telemetry fields (``<missing>`` for a field it lacks)."""
    return {name: record.__dict__.get(name, "<missing>") for name in FIELDS}


def run(
    scenario: Scenario, idem_for: Any, backend: Backend, prefix: str, **options: Any
) -> str | None:
    """Run ``scenario`` on the backend's store, or on a store that is down when it needs one."""
    if scenario in ON_DOWN_STORE:
        store, _ = backend.down()
        options["on_store_error"] = ON_DOWN_STORE[scenario]
    else:
        store = backend.store()
    idem: Idempotency = idem_for(store, prefix=prefix, **options)
    return scenario(idem)


@pytest.mark.parametrize("scenario", list(OUTCOMES), ids=lambda s: s.__name__)
def test_each_call_logs_one_debug_record_with_its_fields(
    scenario: Scenario,
    otel: Otel,
    backend: Backend,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="idemsdk")
    key = run(scenario, otel.idem, backend, prefix)
    debug = records(caplog, logging.DEBUG)
    assert sorted(fields(r)["outcome"] for r in debug) == sorted(OUTCOMES[scenario])
    for record in debug:
        outcome = fields(record)["outcome"]
        span = otel.call(outcome)
        assert fields(record) == {
            "idempotency_key": None if key is None else digest_of(key)[:16],
            "tenant": TENANT,
            "scope": SCOPE,
            "outcome": outcome,
            "redis_result": REDIS_RESULT[outcome],
            "trace_id": f"{span.context.trace_id:032x}",
        }


@pytest.mark.parametrize("scenario", list(OUTCOMES), ids=lambda s: s.__name__)
def test_outcomes_that_need_attention_log_a_warning_with_the_fields(
    scenario: Scenario,
    otel: Otel,
    backend: Backend,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="idemsdk")
    key = run(scenario, otel.idem, backend, prefix)
    warnings = records(caplog, logging.WARNING)
    assert sorted(fields(r)["outcome"] for r in warnings) == WARNINGS.get(scenario, [])
    for record in warnings:
        outcome = fields(record)["outcome"]
        span = otel.call(WARNING_CALL.get(outcome, outcome))
        assert fields(record) == {
            "idempotency_key": None if key is None else digest_of(key)[:16],
            "tenant": TENANT,
            "scope": SCOPE,
            "outcome": outcome,
            "redis_result": REDIS_RESULT[outcome],
            "trace_id": f"{span.context.trace_id:032x}",
        }
    assert records(caplog, logging.DEBUG) == [], "DEBUG records only when DEBUG is enabled"


@pytest.mark.parametrize("scenario", [replayed, in_progress, store_unavailable])
def test_without_tracing_the_records_carry_no_trace_id(
    scenario: Scenario, backend: Backend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # No provider passed and none set globally (this process never sets one).
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    caplog.set_level(logging.DEBUG, logger="idemsdk")
    key = run(scenario, Idempotency, backend, prefix, tenant=TENANT)
    logged = records(caplog, logging.DEBUG) + records(caplog, logging.WARNING)
    assert sorted(fields(r)["outcome"] for r in records(caplog, logging.DEBUG)) == sorted(
        OUTCOMES[scenario]
    )
    assert key is not None
    for record in logged:
        includes = {"idempotency_key": digest_of(key)[:16], "tenant": TENANT, "trace_id": None}
        assert {name: fields(record)[name] for name in includes} == includes


def test_telemetry_false_logs_no_debug_record(
    otel: Otel, backend: Backend, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="idemsdk")
    replayed(otel.idem(backend.store(), prefix=prefix, telemetry=False))
    assert records(caplog, logging.DEBUG) == []


def test_the_observability_page_examples_run() -> None:
    """docs/observability.md's code, in order, in a fresh process (it sets global providers)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 3
    check = """
@idem.idempotent(scope="docs.charge")
def charge(order_id: str) -> dict[str, str]:
    return {"charge": "ch_1"}

logging.getLogger("idemsdk").setLevel(logging.DEBUG)
charge("o-1")
charge("o-1")
tracer_provider.force_flush()
"""
    done = subprocess.run(
        [sys.executable, "-c", "\n".join([*blocks, check])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The span exporter printed both call spans; the JSON formatter both DEBUG records.
    assert done.stdout.count('"name": "idempotency docs.charge"') == 2, done.stdout
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [r["outcome"] for r in records] == ["executed", "replayed"]
    assert all(r["scope"] == "docs.charge" and r["trace_id"] for r in records)
