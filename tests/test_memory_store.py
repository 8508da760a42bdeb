"""MemoryStore on an injected clock: expiry and leases without sleeping."""

from __future__ import annotations

import pytest

from idemsdk import Idempotency, LeaseLost, MemoryStore, RequestInProgress, Status
from idemsdk.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_lease_and_ttl_follow_the_clock(clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    first = store.claim("k", "fp", 1000, 5000)
    clock.advance(0.999)
    assert not store.claim("k", "fp", 1000, 5000).acquired
    clock.advance(0.001)
    taken = store.claim("k", "fp", 1000, 5000)
    assert taken.acquired and taken.takeover and taken.token > first.token
    assert store.complete("k", taken.token, Status.COMPLETED, b"x", 5000)
    clock.advance(4.999)
    assert store.claim("k", "fp", 1000, 5000).body == b"x"
    clock.advance(0.001)
    assert store.claim("k", "fp", 1000, 5000).acquired


def test_tokens_stay_unique_when_the_clock_stands_still(clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    tokens = []
    for _ in range(5):
        claim = store.claim("k", "fp", 1000, 5000)
        tokens.append(claim.token)
        store.release("k", claim.token)
    assert len(set(tokens)) == 5 and tokens == sorted(tokens)


def test_expired_records_are_swept(clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    for i in range(3000):
        store.claim(f"k{i}", "fp", 10, 10)
    clock.advance(1)
    for i in range(3000):
        store.claim(f"n{i}", "fp", 10_000, 10_000)
    assert len(store._entries) < 4500  # the expired ones were dropped along the way
    assert len(store) == 3000


def test_decorated_call_taken_over_after_lease_gets_lease_lost(clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    idem = Idempotency(store, lease=10)
    inner: list[str] = []

    @idem.idempotent(heartbeat=False)
    def job(x: int) -> str:
        if not inner:
            inner.append("first")
            with pytest.raises(RequestInProgress):
                job(x)
            clock.advance(10)  # the lease runs out while this call still runs
            inner.append(job(x))  # a duplicate takes over and completes
        return f"run {len(inner)}"

    with pytest.raises(LeaseLost):
        job(1)
    assert inner == ["first", "run 1"]
    assert job(1) == "run 1", "the stored result is the new owner's"
