"""Exactly-once on a real Redis: threads and processes racing, and a worker killed mid-call.

The race runs on a standalone server and on a Redis Cluster, where its keys are spread over
every primary.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
import redis

from idemsdk import Idempotency, RedisStore, RequestInProgress

from .cluster.topology import holders, names_on_every_primary
from .workers import connect, hang, make_job, race, runs_of

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PROCESSES = 4
THREADS_PER_PROCESS = 8
LOCAL_THREADS = 8


@pytest.mark.parametrize(
    "server", ["redis", pytest.param("redis-cluster", marks=pytest.mark.cluster)]
)
def test_every_key_runs_exactly_once_across_threads_and_processes(
    server: str, request: pytest.FixtureRequest, prefix: str
) -> None:
    url = request.getfixturevalue("redis_url" if server == "redis" else "redis_cluster_url")
    key_for = make_job(url, prefix).key_for
    client = connect(url)
    if isinstance(client, redis.RedisCluster):
        names = names_on_every_primary(client, key_for, 8)
    else:
        names = [f"key-{i}" for i in range(25)]
    parties = PROCESSES + 1  # every process waits for all the others before racing
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=spawn) as pool:
        children = [
            pool.submit(race, url, prefix, names, THREADS_PER_PROCESS, parties)
            for _ in range(PROCESSES)
        ]
        local = race(url, prefix, names, LOCAL_THREADS, parties)
        results: list[Any] = local + [r for child in children for r in child.result(120)]

    callers = (PROCESSES * THREADS_PER_PROCESS + LOCAL_THREADS) * len(names)
    assert len(results) == callers
    for name in names:
        assert runs_of(client, prefix, name) == 1, name
        answers = [r for r in results if r["name"] == name]
        assert len(answers) == callers // len(names)
        assert all(a == answers[0] for a in answers), f"{name}: callers got different results"
    runners = {r["runner"].split("-")[0] for r in results}
    assert len(runners) > 1, "the race should have been won by more than one process"
    if isinstance(client, redis.RedisCluster):
        on = holders(client, [key_for(name) for name in names])
        assert len(on) == len(names), "every raced key holds its record"
        assert len(set(on.values())) == 3, "the raced keys live on all 3 primaries"
    client.close()


def test_killed_worker_blocks_duplicates_until_its_lease_ends_then_one_takes_over(
    redis_url: str, redis_client: redis.Redis, prefix: str
) -> None:
    lease = 1.5
    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=hang, args=(redis_url, prefix, "order-9", lease))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not runs_of(redis_client, prefix, "order-9"):
            assert time.monotonic() < deadline, "the worker never started the call"
            time.sleep(0.02)
        time.sleep(lease)  # its heartbeat has renewed the lease at least once by now
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        if worker.is_alive():  # a failed assertion above must not leave our child running
            worker.kill()
        worker.join(10)
    killed_at = time.monotonic()

    # A duplicate that raises rather than waits, on the same key as the killed call.
    strict = Idempotency(RedisStore(redis_client), prefix=prefix).idempotent(scope="race")(
        _must_not_run
    )
    with pytest.raises(RequestInProgress) as info:
        strict("order-9")
    assert 0 < info.value.lease_remaining <= lease

    results = race(redis_url, prefix, ["order-9"], 8)
    waited = time.monotonic() - killed_at
    assert waited >= info.value.lease_remaining - 0.1, "someone ran before the lease ran out"
    assert runs_of(redis_client, prefix, "order-9") == 2  # the killed run + one
    assert all(r == results[0] for r in results)
    assert results[0]["runs"] == 2


def _must_not_run(name: str) -> None:
    pytest.fail(f"{name} ran while the killed worker's lease still held")
