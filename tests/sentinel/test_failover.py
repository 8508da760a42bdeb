"""Failovers under load: the stores follow the new primary, and what ``wait_replicas`` keeps.

Each test runs a primary, one replica and three sentinels of its own, and two workloads
through one failover (see ``tests/failover.py``): one with ``wait_replicas=1``, which must lose
no answered key and run none twice, and one without, whose figures are printed (run with
``-s`` to read them): replication is asynchronous, so what it loses depends on timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis

from idemsdk import AsyncRedisStore, Idempotency, NotReplicated, RedisStore, StoreUnavailable
from idemsdk.testing import RedisSentinelServer, RedisServer

from ..failover import Figures, accounted_for, holds, through_failover

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _report(scenario: str, plain: Figures, waiting: Figures) -> None:
    print(f"\n[sentinel failover: {scenario}]\n  {plain}\n  {waiting}")


def _replica(setup: RedisSentinelServer) -> RedisServer:
    return next(server for server in setup.servers if server is not setup.primary)


def test_a_crashed_primary_loses_no_key_answered_with_wait_replicas(
    own_sentinel: RedisSentinelServer,
) -> None:
    plain, waiting = through_failover(own_sentinel, own_sentinel.kill_primary)
    _report("SIGKILL of the primary", plain, waiting)
    holds(waiting)
    accounted_for(plain)


@contextmanager
def _cut_off(setup: RedisSentinelServer) -> Iterator[None]:
    """The replica falls behind: frozen (SIGSTOP, our own process), its link cut."""
    replica = _replica(setup)
    os.kill(replica.process.pid, signal.SIGSTOP)
    try:
        primary = redis.Redis(port=setup.primary.port)
        primary.client_kill_filter(_type="replica")
        primary.close()
        yield
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)


def test_a_primary_crashing_ahead_of_its_replica_loses_no_key_answered_with_wait_replicas(
    own_sentinel: RedisSentinelServer,
) -> None:
    def crash_with_the_replica_behind() -> None:
        # Shorter than down-after-milliseconds (1 s): the sentinels still promote it.
        with _cut_off(own_sentinel):
            time.sleep(0.4)
            own_sentinel.kill_primary()

    plain, waiting = through_failover(own_sentinel, crash_with_the_replica_behind)
    _report("SIGKILL of the primary 0.4 s after its replica fell behind", plain, waiting)
    holds(waiting)
    accounted_for(plain)
    assert waiting.errors["NotReplicated"] > 0, "calls while the replica was behind"


def _wait_demoted(server: RedisServer, timeout: float = 30) -> None:
    """Until the old primary is a replica in sync: the sentinels convert it ~10 s late."""
    client = redis.Redis(port=server.port)
    deadline = time.monotonic() + timeout
    try:
        while client.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the old primary was never demoted"
            time.sleep(0.1)
    finally:
        client.close()


def test_a_coordinated_failover_is_followed_and_loses_no_key_answered_with_wait_replicas(
    own_sentinel: RedisSentinelServer,
) -> None:
    old = own_sentinel.primary
    sentinel = redis.Redis(*own_sentinel.sentinels[0])

    def failover() -> None:
        sentinel.sentinel_failover(own_sentinel.service)

    # Until the sentinels demote it, the old primary takes writes from the connections
    # still open to it; its replica has left, so WAIT refuses them.
    plain, waiting = through_failover(own_sentinel, failover, lambda: _wait_demoted(old))
    sentinel.close()
    _report("SENTINEL FAILOVER, the old primary demoted", plain, waiting)
    holds(waiting)
    accounted_for(plain)


def test_the_async_store_follows_the_new_primary_after_a_crash(
    own_sentinel: RedisSentinelServer,
) -> None:
    store = AsyncRedisStore.from_url(own_sentinel.url)
    idem = Idempotency(store, prefix=f"t{uuid.uuid4().hex[:12]}", circuit_breaker=False)
    runs: list[str] = []

    @idem.idempotent(key=lambda key: key)
    async def job(key: str) -> str:
        runs.append(key)
        return key.upper()

    async def through_a_crash() -> list[str]:
        try:
            answers = [await job("before")]
            own_sentinel.kill_primary()
            await asyncio.to_thread(own_sentinel.wait_failover, 20)
            # The pool's connection to the dead primary fails; redis-py retries on a new
            # one, to the address the sentinels name now.
            return [*answers, await job("after"), await job("before")]
        finally:
            await store.client.aclose()

    assert asyncio.run(through_a_crash()) == ["BEFORE", "AFTER", "BEFORE"]
    assert runs == ["before", "after"]
    primary = redis.Redis(port=own_sentinel.primary.port)
    assert len(list(primary.scan_iter(f"{idem.prefix}:*"))) == 2
    primary.close()


def test_with_no_replica_left_wait_replicas_refuses_new_keys_and_replays_old_ones(
    own_sentinel: RedisSentinelServer,
) -> None:
    store = RedisStore.from_sentinel(own_sentinel.sentinels, own_sentinel.service)
    idem = Idempotency(
        store,
        prefix=f"t{uuid.uuid4().hex[:12]}",
        wait_replicas=1,
        wait_timeout=0.25,
        circuit_breaker=False,
    )
    runs: list[str] = []

    @idem.idempotent(key=lambda key: key)
    def job(key: str) -> str:
        runs.append(key)
        return key.upper()

    assert job("before") == "BEFORE"
    own_sentinel.kill_primary()
    own_sentinel.wait_failover(20)
    assert job("before") == "BEFORE", "a replay writes nothing, so it does not wait"
    with pytest.raises(NotReplicated, match="0 of 1 replicas acknowledged the claim"):
        job("after")
    assert runs == ["before"], "a claim no replica holds does not run"
    store.client.close()


def _switch_over_by_hand(setup: RedisSentinelServer) -> RedisServer:
    """Promote the replica and demote the primary, then point the sentinels at the new one.

    Unlike a Sentinel failover, nothing closes the clients' connections to the old primary:
    their next write meets READONLY.
    """
    new = _replica(setup)
    for server, arguments in ((new, ("NO", "ONE")), (setup.primary, ("127.0.0.1", new.port))):
        client = redis.Redis(port=server.port)
        client.replicaof(*arguments)
        client.close()
    for host, port in setup.sentinels:
        sentinel = redis.Redis(host, port)
        sentinel.sentinel_remove(setup.service)
        sentinel.sentinel_monitor(setup.service, "127.0.0.1", new.port, 2)
        sentinel.close()
    return new


def _readonly_errors(server: RedisServer) -> int:
    client = redis.Redis(port=server.port)
    stats: dict[str, dict[str, int]] = client.info("errorstats")
    client.close()
    return stats.get("errorstat_READONLY", {}).get("count", 0)


def test_a_demoted_primary_answering_readonly_is_left_for_the_new_one(
    own_sentinel: RedisSentinelServer,
) -> None:
    sync = RedisStore.from_url(own_sentinel.url)
    asynchronous = AsyncRedisStore.from_url(own_sentinel.url)
    prefix = f"t{uuid.uuid4().hex[:12]}"
    runs: list[str] = []

    def job(key: str) -> str:
        runs.append(key)
        return key.upper()

    async def async_job(key: str) -> str:
        return job(key)

    call = Idempotency(sync, prefix=prefix, circuit_breaker=False).idempotent(key=str)(job)
    acall = Idempotency(asynchronous, prefix=prefix, circuit_breaker=False).idempotent(
        key=str, scope="async"
    )(async_job)
    loop = asyncio.new_event_loop()

    def until_answered(key: str) -> list[str]:
        """Call with both stores until each answers; the errors met on the way."""
        errors = []
        attempts: list[Callable[[], str]] = [
            lambda: call(key),
            lambda: loop.run_until_complete(acall(key)),
        ]
        for attempt in attempts:
            for _ in range(3):
                try:
                    assert attempt() == key.upper()
                    break
                except StoreUnavailable as exc:
                    errors.append(str(exc.__cause__))
        return errors

    try:
        assert until_answered("before") == []
        old = own_sentinel.primary
        new = _switch_over_by_hand(own_sentinel)
        # redis-py turns READONLY into a ConnectionError and drops the connection, so the
        # next one asks the sentinels again. Clients made by from_url do not retry
        # (redis-py 8.2), so the call that met READONLY is StoreUnavailable; it did not run.
        assert until_answered("after") == ["The previous master is now a slave"] * 2
    finally:
        loop.run_until_complete(asynchronous.client.aclose())
        loop.close()
        sync.client.close()
    assert runs == ["before", "before", "after", "after"], "one run per key and store"
    assert _readonly_errors(old) == 2, "each store met READONLY once"
    client = redis.Redis(port=new.port)
    assert len(list(client.scan_iter(f"{prefix}:*"))) == 4, "every record is on the new one"
    client.close()
