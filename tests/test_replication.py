"""``wait_replicas``: claims and completions wait for replicas, on a real primary and replica.

The replica is frozen (SIGSTOP) to make it fall behind: a write it has not acknowledged
must not let a function run, nor a result pass as safe.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from idemsdk import (
    AsyncRedisStore,
    ConfigurationError,
    Idempotency,
    MemoryStore,
    NotReplicated,
    RedisStore,
    StoreUnavailable,
)

from .replication import PrimaryWithReplica

pytestmark = pytest.mark.redis


@pytest.fixture
def servers(replicated: PrimaryWithReplica) -> Iterator[PrimaryWithReplica]:
    """The session's primary and replica; a test that freezes the replica resumes it."""
    yield replicated
    replicated.resume()


@pytest.fixture
def idem(servers: PrimaryWithReplica, prefix: str) -> Idempotency:
    """Calls on the primary that wait up to 0.2 s for the replica."""
    return Idempotency(
        RedisStore.from_url(servers.url), wait_replicas=1, wait_timeout=0.2, prefix=prefix
    )


def _record(url: str, key: str) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(url)
    try:
        return client.hgetall(key)  # type: ignore[return-value]
    finally:
        client.close()


def test_a_claim_no_replica_acknowledges_raises_and_the_function_does_not_run(
    servers: PrimaryWithReplica, idem: Idempotency
) -> None:
    ran: list[int] = []

    @idem.idempotent
    def charge(n: int) -> int:
        ran.append(n)
        return n

    with servers.replica_stopped(), pytest.raises(NotReplicated) as caught:
        charge(1)
    assert ran == []
    assert isinstance(caught.value, StoreUnavailable)
    assert (caught.value.acknowledged, caught.value.wanted) == (0, 1)
    assert "the claim was released and the function did not run" in str(caught.value)
    assert _record(servers.url, charge.key_for(1)) == {}  # released: a retry may run at once
    assert charge(1) == 1  # the replica is back: the retry runs, once
    assert ran == [1]


def test_a_call_returns_only_once_the_replica_holds_its_result(
    servers: PrimaryWithReplica, prefix: str
) -> None:
    idem = Idempotency(
        RedisStore.from_url(servers.url), wait_replicas=1, wait_timeout=3, prefix=prefix
    )
    charge = idem.idempotent(lambda n: n * 2)
    resumed_at: list[float] = []

    def resume_later() -> None:
        time.sleep(0.3)
        resumed_at.append(time.monotonic())
        servers.resume()

    with servers.replica_stopped():
        threading.Thread(target=resume_later).start()
        assert charge(21) == 42
        returned_at = time.monotonic()
    assert resumed_at and returned_at > resumed_at[0]  # it waited for the frozen replica
    replica = _record(servers.replica.url, charge.key_for(21))
    assert replica[b"status"] == b"completed"


def test_a_result_no_replica_acknowledges_says_the_function_ran_and_replays(
    servers: PrimaryWithReplica, idem: Idempotency
) -> None:
    ran: list[int] = []

    @idem.idempotent
    def charge(n: int) -> int:
        ran.append(n)
        servers.replica.process.send_signal(signal.SIGSTOP)  # after the claim's acknowledgement
        return n

    try:
        with pytest.raises(NotReplicated, match="the function ran and its result is on the"):
            charge(7)
    finally:
        servers.resume()
    assert ran == [7]
    # The primary kept the result: a retry replays it rather than running again.
    assert charge(7) == 7
    assert ran == [7]


def test_a_replay_does_not_need_the_replicas(
    servers: PrimaryWithReplica, idem: Idempotency
) -> None:
    ran: list[int] = []

    @idem.idempotent
    def charge(n: int) -> int:
        ran.append(n)
        return n

    assert charge(3) == 3
    with servers.replica_stopped():
        assert charge(3) == 3  # read from the primary; nothing was written to wait for
    assert ran == [3]


def test_async_calls_wait_for_replicas_too(servers: PrimaryWithReplica, prefix: str) -> None:
    idem = Idempotency(
        AsyncRedisStore.from_url(servers.url), wait_replicas=1, wait_timeout=0.2, prefix=prefix
    )
    ran: list[int] = []

    @idem.idempotent
    async def charge(n: int) -> int:
        ran.append(n)
        return n

    async def twice() -> int:
        with servers.replica_stopped(), pytest.raises(NotReplicated):
            await charge(1)
        assert ran == []
        return await charge(1)

    assert asyncio.run(twice()) == 1
    assert ran == [1]
    assert _record(servers.replica.url, charge.key_for(1))[b"status"] == b"completed"


def test_unacknowledged_writes_do_not_open_the_circuit_breaker(
    servers: PrimaryWithReplica, prefix: str
) -> None:
    idem = Idempotency(
        RedisStore.from_url(servers.url), wait_replicas=1, wait_timeout=0.05, prefix=prefix
    )
    job = idem.idempotent(lambda n: n)
    assert job(0) == 0
    with servers.replica_stopped():
        for n in range(1, 7):  # more than the breaker's 5 failures
            with pytest.raises(NotReplicated):
                job(n)
        assert job(0) == 0  # the primary answers: replays still go through
    assert idem.circuit_breaker is not None
    assert idem.circuit_breaker.state == "closed"


def test_without_wait_replicas_a_call_does_not_wait_for_a_frozen_replica(
    servers: PrimaryWithReplica, prefix: str
) -> None:
    idem = Idempotency(RedisStore.from_url(servers.url), prefix=prefix)
    job = idem.idempotent(lambda n: n)
    with servers.replica_stopped():
        assert job(1) == 1  # the control: the waiting above is wait_replicas' doing


def test_instances_with_the_same_wait_share_one_waiting_store(
    replicated: PrimaryWithReplica,
) -> None:
    store = RedisStore.from_url(replicated.url)
    assert store.with_wait(1, 0.5) is store.with_wait(1, 0.5)
    assert store.with_wait(1, 0.5) is not store.with_wait(2, 0.5)
    assert store.with_wait(1, 0.5).client is store.client


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"wait_replicas": -1}, "wait_replicas must be an int of 0 or more"),
        ({"wait_replicas": True}, "wait_replicas must be an int of 0 or more"),
        ({"wait_replicas": 1, "wait_timeout": 0}, "wait_timeout must be a positive duration"),
        ({"wait_replicas": 1, "wait_timeout": 5}, r"shorter than the client's socket_timeout"),
    ],
)
def test_wait_settings_that_cannot_work_are_refused(
    replicated: PrimaryWithReplica, options: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says):
        Idempotency(RedisStore.from_url(replicated.url), **options)  # type: ignore[arg-type]


def test_a_store_without_replicas_refuses_wait_replicas() -> None:
    with pytest.raises(ConfigurationError, match="MemoryStore has no with_wait"):
        Idempotency(MemoryStore(), wait_replicas=1)
    assert Idempotency(MemoryStore(), wait_replicas=0).wait_replicas == 0
