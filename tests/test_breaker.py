"""The circuit breaker: fail fast while the store is down, probe it, close when it answers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from idemsdk import (
    CircuitBreaker,
    ConfigurationError,
    Idempotency,
    MemoryStore,
    RecordCorrupted,
    RedisStore,
    StoreUnavailable,
)
from idemsdk._breaker import default_breaker
from idemsdk.testing import FakeClock, free_port


class Flaky(MemoryStore):
    """A MemoryStore that is down while ``down`` is set, counting the calls that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.reached = 0

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> Any:
        self.reached += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        return super().claim(key, fingerprint, lease_ms, ttl_ms)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(0)


def test_it_opens_after_the_failures_fails_fast_then_probes_once(clock: FakeClock) -> None:
    store = Flaky()
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock)
    idem = Idempotency(store, circuit_breaker=breaker)
    job = idem.idempotent(lambda x: x)
    store.down = True
    for _ in range(3):
        with pytest.raises(StoreUnavailable, match="connection refused"):
            job(1)
    assert (breaker.state, store.reached) == ("open", 3)
    for _ in range(5):  # open: refused without touching the store
        with pytest.raises(StoreUnavailable, match="circuit breaker open"):
            job(1)
    assert store.reached == 3
    clock.advance(10)
    with pytest.raises(StoreUnavailable, match="connection refused"):
        job(1)  # the probe reaches the store, fails, and opens the breaker again
    assert (breaker.state, store.reached) == ("open", 4)
    with pytest.raises(StoreUnavailable, match="circuit breaker open"):
        job(1)
    clock.advance(10)
    store.down = False
    assert job(1) == 1  # the probe succeeds: closed
    assert breaker.state == "closed"
    assert job(2) == 2


def test_while_a_probe_runs_the_others_keep_failing_fast(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=1, cooldown=1, clock=clock)
    breaker.failed()
    clock.advance(1)
    breaker.admit()  # this caller is the probe
    with pytest.raises(StoreUnavailable, match="circuit breaker open"):
        breaker.admit()
    breaker.succeeded()
    breaker.admit()


def test_an_answer_that_is_an_error_still_means_the_store_is_up(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=1, cooldown=1, clock=clock)
    breaker.failed()
    clock.advance(1)
    breaker.admit()
    breaker.settle(RecordCorrupted("garbage"))
    assert breaker.state == "closed"


def test_an_interrupted_probe_lets_the_next_caller_probe(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock)
    breaker.failed()
    clock.advance(5)
    breaker.admit()
    breaker.settle(KeyboardInterrupt())  # no verdict
    breaker.admit()  # at once, without another cool-down
    assert breaker.state == "probing"


def test_a_success_resets_the_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=2, cooldown=1, clock=clock)
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state == "closed"


def test_with_on_store_error_execute_an_open_breaker_bypasses_at_once(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = Flaky()
    store.down = True
    breaker = CircuitBreaker(failures=1, cooldown=30, clock=clock)
    idem = Idempotency(store, on_store_error="execute", circuit_breaker=breaker)
    runs: list[int] = []

    @idem.idempotent
    def job(x: int) -> int:
        runs.append(x)
        return x

    with caplog.at_level(logging.WARNING, logger="idemsdk"):
        assert [job(1), job(1), job(1)] == [1, 1, 1]
    assert (runs, store.reached) == ([1, 1, 1], 1)
    messages = [record.getMessage() for record in caplog.records]
    assert any("circuit breaker open for 30.0 s" in message for message in messages)
    assert sum("runs it unprotected" in message for message in messages) == 3


def test_instances_on_one_store_share_its_breaker_by_default() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    first, second = Idempotency(store), Idempotency(store)
    assert first.circuit_breaker is second.circuit_breaker is default_breaker(store)
    assert Idempotency(store, circuit_breaker=False).circuit_breaker is None
    assert Idempotency(MemoryStore()).circuit_breaker is None  # it cannot be down
    with pytest.raises(ConfigurationError, match="circuit_breaker"):
        Idempotency(store, circuit_breaker="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="failures"):
        CircuitBreaker(failures=0)
    with pytest.raises(ConfigurationError, match="cooldown"):
        CircuitBreaker(cooldown=0)


def test_a_real_unreachable_redis_opens_the_breaker_and_calls_stop_connecting() -> None:
    """On a closed loopback port: five refused connections, then no connection at all."""
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    breaker = CircuitBreaker(failures=5, cooldown=60)
    job = Idempotency(store, circuit_breaker=breaker).idempotent(lambda x: x)
    errors = []
    for _ in range(8):
        with pytest.raises(StoreUnavailable) as info:
            job(1)
        errors.append(info.value.message)
    assert all("unreachable" in error for error in errors[:5])
    assert all("circuit breaker open" in error for error in errors[5:])
    assert breaker.state == "open"
