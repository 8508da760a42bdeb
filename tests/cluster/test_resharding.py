"""Slots move between primaries while calls run, and every key still runs exactly once.

Threads (or asyncio tasks) call a decorated function for many keys, each key from every
worker, while another thread moves the slots of those keys from primary to primary, one
at a time, the way ``redis-cli --cluster reshard`` does. Calls meet ASK (their slot is
half-way) and MOVED (their client's slot map is out of date) in the middle of claims and
completions; records in progress and completed ones move under them.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from typing import Any

import pytest
import redis

from idemsdk import AsyncRedisStore, Idempotency

from ..workers import make_job, runs_of
from .topology import Primary, Resharding, redirections, slot_of

pytestmark = [pytest.mark.redis, pytest.mark.cluster, pytest.mark.slow]

WORKERS = 8
NAMES = 120
PAUSE = 0.002  # how long each slot stays half-way between batches of its keys
DEADLINE = 30.0


def _run_threads(
    url: str, prefix: str, names: list[str], moving: Resharding, wait_replicas: int
) -> list[Any]:
    """Each thread calls every name, pass after pass, until every slot has moved once."""
    job = make_job(url, prefix, wait_replicas=wait_replicas)
    results: list[Any] = []
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE

    def worker() -> None:
        order = random.sample(names, len(names))
        while True:
            for name in order:
                result = job(name)
                with lock:
                    results.append(result)
            if moving.passes or moving.error or time.monotonic() > deadline:
                return

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _run_tasks(
    url: str, prefix: str, names: list[str], moving: Resharding, wait_replicas: int
) -> list[Any]:
    """The asyncio twin of _run_threads: tasks on one loop, an AsyncRedisStore."""

    async def scenario() -> list[Any]:
        store = AsyncRedisStore.from_url(url)
        client = store.client
        idem = Idempotency(store, prefix=prefix, lease=30, wait_replicas=wait_replicas)

        @idem.idempotent(scope="race", on_in_progress="wait", wait_timeout=60)
        async def job(name: str) -> dict[str, Any]:
            await client.sadd(f"{prefix}:runs:{name}", uuid.uuid4().hex)  # see workers.make_job
            runs = await client.scard(f"{prefix}:runs:{name}")
            await asyncio.sleep(random.uniform(0.001, 0.005))  # widen the race window
            return {"name": name, "runner": id(asyncio.current_task()), "runs": runs}

        results: list[Any] = []
        deadline = time.monotonic() + DEADLINE

        async def worker() -> None:
            order = random.sample(names, len(names))
            while True:
                results.extend([await job(name) for name in order])
                if moving.passes or moving.error or time.monotonic() > deadline:
                    return

        try:
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
        finally:
            await client.aclose()
        return results

    return asyncio.run(scenario())


@pytest.mark.parametrize("wait_replicas", [0, 1], ids=["", "waiting"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_key_runs_exactly_once_while_its_slot_moves_between_primaries(
    mode: str,
    wait_replicas: int,
    redis_cluster_url: str,
    cluster: redis.RedisCluster,
    nodes: list[Primary],
    prefix: str,
) -> None:
    names = [f"key-{i}" for i in range(NAMES)]
    records = {make_job(redis_cluster_url, prefix).key_for(name) for name in names}
    slots = sorted({slot_of(key) for key in records})
    before = redirections(nodes)
    run = _run_threads if mode == "sync" else _run_tasks
    with Resharding(nodes, slots, PAUSE) as moving:
        results = run(redis_cluster_url, prefix, names, moving, wait_replicas)
    seen = redirections(nodes) - before

    assert moving.passes >= 1, f"the slots did not all move within {DEADLINE} s"
    for name in names:
        assert runs_of(cluster, prefix, name) == 1, f"{name} ran more than once"
        answers = [r for r in results if r["name"] == name]
        assert len(answers) >= WORKERS
        assert all(a == answers[0] for a in answers), f"{name}: callers got different results"
    moved = records.intersection(moving.moved)
    assert moved, "no record moved while the calls ran"
    assert seen["MOVED"] and seen["ASK"], f"calls should have been redirected: {dict(seen)}"
    print(  # -s shows what the run went through
        f"\n{mode}, wait_replicas={wait_replicas}: {len(slots)} slots moved {moving.passes} "
        f"times; {len(moved)} of {len(records)} records moved ({len(moving.moved)} keys in "
        f"all); {len(results)} calls; {seen['MOVED']} MOVED, {seen['ASK']} ASK"
    )
