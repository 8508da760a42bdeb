"""Code that runs in child processes spawned by the multi-process tests.

It lives in an importable module because ``spawn`` children import their target by name.
``url`` may name a standalone server or a cluster (``redis+cluster://``).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from typing import Any

import redis

from idemsdk import Idempotency, RedisStore


def connect(url: str) -> redis.Redis | redis.RedisCluster:
    """A sync client for ``url``: a cluster client for a cluster URL."""
    return RedisStore.from_url(url).client


def runs_of(client: redis.Redis | redis.RedisCluster, prefix: str, name: str) -> int:
    """How many times ``job(name)`` has run."""
    return int(client.scard(f"{prefix}:runs:{name}"))


def make_job(
    url: str, prefix: str, *, hang: bool = False, lease: float = 30, wait_replicas: int = 0
) -> Any:
    """The contended function: counts its executions in Redis, then returns who ran it."""
    store = RedisStore.from_url(url)
    client = store.client
    idem = Idempotency(store, prefix=prefix, lease=lease, wait_replicas=wait_replicas)

    @idem.idempotent(scope="race", on_in_progress="wait", wait_timeout=60)
    def job(name: str) -> dict[str, Any]:
        # A set of run ids, not INCR: a client that resends a command after a lost reply
        # (redis-py does, on connection errors) must not count one run twice.
        client.sadd(f"{prefix}:runs:{name}", uuid.uuid4().hex)
        runs = runs_of(client, prefix, name)
        if hang:
            time.sleep(3600)  # until the test kills this process
        time.sleep(random.uniform(0.001, 0.005))  # widen the race window
        return {"name": name, "runner": f"{os.getpid()}-{threading.get_ident()}", "runs": runs}

    return job


def rendezvous(url: str, prefix: str, parties: int, timeout: float = 120) -> None:
    """Wait until ``parties`` processes got here, so that none starts racing alone."""
    client = connect(url)
    client.incr(f"{prefix}:ready")
    deadline = time.monotonic() + timeout
    while int(client.get(f"{prefix}:ready") or 0) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {client.get(f'{prefix}:ready')!r} of {parties} got ready")
        time.sleep(0.005)
    client.close()


def race(url: str, prefix: str, names: list[str], threads: int, parties: int = 1) -> list[Any]:
    """Call ``job`` for every name from ``threads`` threads, once ``parties`` processes are in."""
    job = make_job(url, prefix)
    rendezvous(url, prefix, parties)
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        order = list(names)
        random.shuffle(order)
        for name in order:
            result = job(name)
            with lock:
                results.append(result)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def hang(url: str, prefix: str, name: str, lease: float) -> None:
    """Start ``job(name)`` and never finish: the test kills this process mid-call."""
    make_job(url, prefix, hang=True, lease=lease)(name)
