"""A Redis restarted mid-load (stop, start on the same port, records kept in its AOF).

Promised: calls during the outage follow ``on_store_error``; calls after it succeed; with the
default policy no key runs twice. A call running when the server stops ran, is not stored,
and says so; its claim is in the AOF, so a retry waits for the lease to end and then runs it
again. Each load test prints its figures (``pytest -s``); docs/operations.md quotes a run.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from idemsdk import (
    AsyncRedisStore,
    CircuitBreaker,
    Idempotency,
    RedisStore,
    RequestInProgress,
    StoreUnavailable,
)
from idemsdk.testing import RedisServer

from .conftest import unavailable
from .restart_load import (
    AFTER_CALLS,
    AFTER_LIMIT,
    BUSY,
    NOT_RUN,
    NOT_STORED,
    OK,
    UNEXPECTED,
    WORK,
    Ledger,
    Outage,
    Outcome,
    async_load,
    attempt,
    sync_load,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

THREADS = 6
#: Longer than a load test can run, so no claim cut by the stop lapses during one: its retries meet
#: RequestInProgress, and the in-flight test shows what happens after the lease ends.
LEASE = 5.0
COOLDOWN = 0.2
#: After the start, the breaker's cool-down plus this, every call succeeds.
SLACK = 0.3
#: How many of the keys refused (or run unprotected) during the outage are called again
#: after it: each runs the function, so all of them would double the test's time.
SAMPLE = 50


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server of our own that keeps its records in an AOF, for one test to restart."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed, so no server of our own to restart")
        return
    with RedisServer(binary=binary, persistent=True) as server:
        yield server


@pytest.fixture
def store(server: RedisServer) -> Iterator[RedisStore]:
    """A sync store on that server; its client is closed after the test."""
    made = RedisStore.from_url(server.url)
    yield made
    made.client.close()


def quick_breaker() -> CircuitBreaker:
    """A breaker that opens fast and probes again soon, so the test is short."""
    return CircuitBreaker(failures=3, cooldown=COOLDOWN)


def message(call: Outcome) -> str:
    """The message of the StoreUnavailable a call raised."""
    assert isinstance(call.error, StoreUnavailable)
    return call.error.message


def check_raise_policy(ledger: Ledger, outage: Outage, breaker: CircuitBreaker) -> dict[str, str]:
    """What ``on_store_error="raise"`` promises, checked on what the load did; the figures."""
    unexpected = ledger.of(UNEXPECTED)
    assert not unexpected, [repr(call.error) for call in unexpected[:5]]
    doubles = [name for name, runs in ledger.runs.items() if len(runs) > 1]
    assert doubles == [], "a key ran twice"
    for call in ledger.calls:
        if call.kind == OK:  # ran, or replayed the one execution's value
            assert call.value == f"{call.name} by {ledger.runs[call.name][0]}"
        else:
            assert ledger.ran(call) == (call.kind == NOT_STORED), call
    failed = ledger.of(NOT_RUN) + ledger.of(NOT_STORED)
    assert failed, "no call met the outage"
    recovered = outage.settled
    assert all(outage.stopping <= call.ended for call in failed)
    assert all(call.started < recovered for call in failed), "a call failed after the restart"
    fast = [call for call in failed if "circuit breaker open" in message(call)]
    assert fast, "the breaker never opened"
    assert breaker.state == "closed", "the breaker did not close after the restart"

    ok = ledger.of(OK)
    # Nothing succeeds while the process is gone (the new one may answer before start() returns).
    assert not [c for c in ok if outage.down < c.started and c.ended < outage.starting]
    after = [call for call in ledger.calls if call.started > recovered]
    kinds = Counter(call.kind for call in after)
    assert set(kinds) <= {OK, BUSY}, kinds
    assert kinds[OK] >= AFTER_CALLS, f"after the start, within {AFTER_LIMIT} s: {kinds}"
    back = min(call.ended for call in ok if call.started > outage.down) - outage.starting
    return {
        "calls": str(len(ledger.calls)),
        "failed": f"{len(failed)} ({len(fast)} by the open breaker)",
        "ran, not stored": str(len(ledger.of(NOT_STORED))),
        "start took": f"{(outage.up - outage.starting) * 1000:.0f} ms",
        "first success after it began": f"{back * 1000:.0f} ms",
        "doubles": str(len(doubles)),
    }


def to_replay(ledger: Ledger, outage: Outage) -> dict[str, str]:
    """Every key a call returned a value for, with that value; checks some were before the stop."""
    stored = {call.name: call.value for call in ledger.of(OK) if call.value is not None}
    before = [call for call in ledger.of(OK) if call.ended < outage.stopping]
    assert before, "no key was stored before the stop: persistence is not tested"
    return stored


def refused_in_outage(ledger: Ledger, outage: Outage) -> list[str]:
    """Keys first called while the process was gone, and never run: nothing was claimed."""
    return [
        name
        for name, first in ledger.first_called.items()
        if outage.down < first and not ledger.runs[name]
    ]


def test_sync_load_through_a_restart_fails_during_it_succeeds_after_and_runs_no_key_twice(
    server: RedisServer, store: RedisStore
) -> None:
    ledger, guard = Ledger(), quick_breaker()
    idem = Idempotency(store, lease=LEASE, circuit_breaker=guard)

    @idem.idempotent(scope="restart", key="name", exclude=("attempt",))
    def charge(name: str, attempt: str) -> str:
        time.sleep(WORK)
        return ledger.execute(name, attempt)

    outage = sync_load(charge, ledger, server, THREADS, COOLDOWN + SLACK)
    figures = check_raise_policy(ledger, outage, guard)

    # Persistence: every stored key replays its value after the restart and runs no more.
    for name, value in to_replay(ledger, outage).items():
        this = attempt()
        assert charge(name, this) == value
        assert this not in ledger.runs[name]
    # A call refused during the outage is safe to retry after it: it runs, once.
    refused = refused_in_outage(ledger, outage)
    assert refused
    for name in refused[:SAMPLE]:
        assert charge(name, this := attempt()) == f"{name} by {this}"
    assert max(len(runs) for runs in ledger.runs.values()) == 1, "a key ran twice"
    print(f"\nsync restart: {figures}")


def test_async_load_through_a_restart_fails_during_it_succeeds_after_and_runs_no_key_twice(
    server: RedisServer,
) -> None:
    ledger, guard = Ledger(), quick_breaker()

    async def scenario() -> dict[str, str]:
        store = AsyncRedisStore.from_url(server.url)
        idem = Idempotency(store, lease=LEASE, circuit_breaker=guard)

        @idem.idempotent(scope="restart", key="name", exclude=("attempt",))
        async def charge(name: str, attempt: str) -> str:
            await asyncio.sleep(WORK)
            return ledger.execute(name, attempt)

        try:
            outage = await async_load(charge, ledger, server, THREADS, COOLDOWN + SLACK)
            figures = check_raise_policy(ledger, outage, guard)
            for name, value in to_replay(ledger, outage).items():
                this = attempt()
                assert await charge(name, this) == value
                assert this not in ledger.runs[name]
            for name in refused_in_outage(ledger, outage)[:SAMPLE]:
                assert await charge(name, this := attempt()) == f"{name} by {this}"
        finally:
            await store.client.aclose()
        return figures

    figures = asyncio.run(scenario())
    assert max(len(runs) for runs in ledger.runs.values()) == 1, "a key ran twice"
    print(f"\nasync restart: {figures}")


def test_with_on_store_error_execute_calls_run_unprotected_during_it_and_protected_after(
    server: RedisServer, store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, guard = Ledger(), quick_breaker()
    idem = Idempotency(store, lease=LEASE, on_store_error="execute", circuit_breaker=guard)

    @idem.idempotent(scope="restart", key="name", exclude=("attempt",))
    def charge(name: str, attempt: str) -> str:
        time.sleep(WORK)
        return ledger.execute(name, attempt)

    with caplog.at_level(logging.WARNING, logger="idemsdk"):
        outage = sync_load(charge, ledger, server, THREADS, COOLDOWN + SLACK)
    assert {call.kind for call in ledger.calls} <= {OK, BUSY}, "execute raised StoreUnavailable"

    # During the outage every call ran, unprotected, and was reported as bypassed.
    during = [c for c in ledger.calls if outage.down < c.started and c.ended < outage.starting]
    assert during and all(call.kind == OK and ledger.ran(call) for call in during)
    bypassed = [r for r in caplog.records if getattr(r, "outcome", None) == "bypassed"]
    assert len(bypassed) >= len(during)
    assert guard.state == "closed"

    # After it, calls are protected again: keys first called then ran once, and replay.
    recovered = outage.settled
    later = [name for name, first in ledger.first_called.items() if first > recovered]
    assert later
    for name in later:
        assert len(ledger.runs[name]) <= 1
        if ledger.runs[name]:
            this = attempt()
            assert charge(name, this) == f"{name} by {ledger.runs[name][0]}"
            assert this not in ledger.runs[name]
    # The trade-off: a key that only ran unprotected has no record, so it runs again.
    last: dict[str, float] = {}
    for call in ledger.calls:
        last[call.name] = max(last.get(call.name, 0), call.ended)
    unrecorded = [
        name
        for name, first in ledger.first_called.items()
        if outage.down < first and last[name] < outage.starting
    ]
    assert unrecorded
    for name in unrecorded[:SAMPLE]:
        ran = len(ledger.runs[name])
        assert charge(name, attempt()).startswith(name)
        assert len(ledger.runs[name]) == ran + 1
    print(f"\nexecute restart: {len(during)} calls ran unprotected during the outage")


def test_a_call_running_when_redis_stops_ran_unstored_and_its_claim_holds_until_the_lease_ends(
    server: RedisServer, store: RedisStore
) -> None:
    """Then, as its StoreUnavailable warns, a retry after the lease runs it a second time.

    The claim is in the AOF: after the start, retries meet RequestInProgress until it lapses.
    """
    lease = 1.5
    idem = Idempotency(store, lease=lease, circuit_breaker=False)
    running, finish = threading.Event(), threading.Event()
    runs: list[str] = []
    raised: list[Exception] = []

    @idem.idempotent(scope="in-flight")
    def charge(order: str) -> str:
        runs.append(order)
        if len(runs) == 1:
            running.set()
            finish.wait(10)
        return f"{order} charged, run {len(runs)}"

    def first() -> None:
        try:
            charge("order-1")
        except Exception as exc:
            raised.append(exc)

    caller = threading.Thread(target=first)
    caller.start()
    assert running.wait(10)
    server.terminate()
    finish.set()
    caller.join(10)
    assert len(raised) == 1 and isinstance(raised[0], StoreUnavailable)
    assert "ran but its result could not be stored" in raised[0].message
    with pytest.raises(StoreUnavailable, match="unreachable"):
        charge("order-1")  # still down: refused, and it did not run
    assert runs == ["order-1"]

    server.start()
    with pytest.raises(RequestInProgress) as info:
        charge("order-1")  # the claim came back with the AOF
    assert 0 < info.value.lease_remaining <= lease
    assert runs == ["order-1"]
    time.sleep(info.value.lease_remaining + 0.05)
    assert charge("order-1") == "order-1 charged, run 2"  # took over: ran again, as it warned
    assert charge("order-1") == "order-1 charged, run 2"
    assert runs == ["order-1"] * 2


def test_a_call_running_through_the_whole_restart_is_stored_when_it_ends(
    server: RedisServer, store: RedisStore
) -> None:
    """Its heartbeat fails while Redis is down, but its lease (2 s) outlasts the outage (1 s).

    The claim, back from the AOF, still holds this call's token, so its completion is stored.
    """
    idem = Idempotency(store, lease=2, circuit_breaker=False)
    runs: list[str] = []

    @idem.idempotent(scope="through")
    def charge(order: str) -> str:
        runs.append(order)
        if len(runs) == 1:
            server.restart(downtime=1)
        return f"{order} charged"

    assert charge("order-1") == "order-1 charged"
    assert charge("order-1") == "order-1 charged"
    assert runs == ["order-1"]


def test_without_persistence_a_restart_forgets_every_record_and_retries_run_again() -> None:
    """Why the tests above run Redis with an AOF (docs/operations.md, Persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed, so no server of our own to restart")
        return
    runs: list[int] = []
    with RedisServer(binary=binary) as volatile:
        store = RedisStore.from_url(volatile.url)
        charge = Idempotency(store, circuit_breaker=False).idempotent(lambda x: runs.append(x))
        charge(1)
        charge(1)
        volatile.restart()
        charge(1)
        store.client.close()
    assert runs == [1, 1]
