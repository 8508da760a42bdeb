"""The lease renewer: one thread per store, robust to store errors, and alive after fork."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from idemsdk import Idempotency, MemoryStore, RedisStore, RequestInProgress


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "idemsdk-heartbeat"]


def test_many_running_calls_share_one_renewer_thread() -> None:
    store = MemoryStore()
    idem = Idempotency(store, lease=0.2)
    release = threading.Event()

    @idem.idempotent
    def job(n: int) -> int:
        assert release.wait(10)
        return n

    before = len(heartbeat_threads())
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(job, n) for n in range(16)]
        time.sleep(0.6)  # three lease lengths: every call has been renewed
        assert len(heartbeat_threads()) - before <= 1
        for n in range(16):
            with pytest.raises(RequestInProgress):
                job(n)
        release.set()
        assert [f.result(10) for f in futures] == list(range(16))


class FlakyRenewals(MemoryStore):
    """A store whose renewals fail with an unexpected error a few times."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 2

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("renewal exploded")
        return super().renew(key, token, lease_ms)


def test_renewer_survives_unexpected_store_errors(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyRenewals()
    idem = Idempotency(store, lease=0.6)
    release = threading.Event()
    job = idem.idempotent(lambda n: release.wait(10) and n)
    with caplog.at_level(logging.WARNING, logger="idemsdk"), ThreadPoolExecutor(1) as pool:
        running = pool.submit(job, 1)
        time.sleep(1.5)  # failed renewals are retried within the lease
        assert store.failures == 0
        with pytest.raises(RequestInProgress):
            job(1)
        release.set()
        assert running.result(10) == 1
    assert any("renewal failed" in r.getMessage() for r in caplog.records)


@pytest.mark.redis
def test_a_forked_child_renews_its_own_leases(redis_url: str, prefix: str) -> None:
    idem = Idempotency(RedisStore(redis.Redis.from_url(redis_url)), prefix=prefix, lease=0.3)
    fork = multiprocessing.get_context("fork")
    started = fork.Event()

    @idem.idempotent(scope="forked")
    def job(n: int) -> int:
        if multiprocessing.parent_process() is not None:  # only the child runs long
            started.set()
            time.sleep(1.5)
        return n

    @idem.idempotent(scope="warmup")
    def warm(n: int) -> int:
        time.sleep(0.2)
        return n

    warm(0)  # the parent's renewer for this store now has a thread the child won't have
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on 3.12+
        # fork copies the parent: the child calls job on the very same store object
        child = fork.Process(target=job, args=(1,))
        child.start()
    try:
        assert started.wait(10)
        deadline = time.monotonic() + 1.2  # four lease lengths into the child's call
        while time.monotonic() < deadline:
            with pytest.raises(RequestInProgress):
                job(1)
            time.sleep(0.1)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
