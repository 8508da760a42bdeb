"""The ``harness`` fixture: every contract test runs once per store and mode below.

To add a store, add a case to ``_CASES`` (its name, mode, and a factory) — and the whole
suite, store-level and decorator-level, runs against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import fakeredis
import pytest
import redis
import redis.asyncio

from idemsdk import AsyncRedisStore, AsyncStore, MemoryStore, RedisStore, Store

from .harness import Harness, Mode

Factory = Callable[[pytest.FixtureRequest], Store | AsyncStore]


def _real_sync(request: pytest.FixtureRequest) -> Store:
    return RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))


def _real_async(request: pytest.FixtureRequest) -> AsyncStore:
    return AsyncRedisStore(redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url")))


def _cluster_sync(request: pytest.FixtureRequest) -> Store:
    return RedisStore.from_url(request.getfixturevalue("redis_cluster_url"))


def _cluster_async(request: pytest.FixtureRequest) -> AsyncStore:
    return AsyncRedisStore.from_url(request.getfixturevalue("redis_cluster_url"))


def _cluster_waiting_sync(request: pytest.FixtureRequest) -> Store:
    url = request.getfixturevalue("redis_cluster_url")
    return RedisStore.from_url(url).with_wait(1, timeout=2.0)


def _cluster_waiting_async(request: pytest.FixtureRequest) -> AsyncStore:
    url = request.getfixturevalue("redis_cluster_url")
    return AsyncRedisStore.from_url(url).with_wait(1, timeout=2.0)


def _replicated_sync(request: pytest.FixtureRequest) -> Store:
    url = request.getfixturevalue("replicated").url
    return RedisStore.from_url(url).with_wait(1, timeout=2.0)


def _replicated_async(request: pytest.FixtureRequest) -> AsyncStore:
    url = request.getfixturevalue("replicated").url
    return AsyncRedisStore.from_url(url).with_wait(1, timeout=2.0)


def _sentinel_sync(request: pytest.FixtureRequest) -> Store:
    return RedisStore.from_url(request.getfixturevalue("sentinel").url)


def _sentinel_async(request: pytest.FixtureRequest) -> AsyncStore:
    return AsyncRedisStore.from_url(request.getfixturevalue("sentinel").url)


_CLUSTER = [pytest.mark.redis, pytest.mark.cluster]


_CASES: list[tuple[str, Mode, Factory, list[pytest.MarkDecorator]]] = [
    ("memory-sync", "sync", lambda r: MemoryStore(), []),
    ("memory-async", "async", lambda r: MemoryStore(), []),
    ("fakeredis-sync", "sync", lambda r: RedisStore(fakeredis.FakeRedis()), []),
    ("fakeredis-async", "async", lambda r: AsyncRedisStore(fakeredis.FakeAsyncRedis()), []),
    ("redis-sync", "sync", _real_sync, [pytest.mark.redis]),
    ("redis-async", "async", _real_async, [pytest.mark.redis]),
    # Every claim and completion pipelined with WAIT 1 on a primary with one replica.
    ("redis-replicated-sync", "sync", _replicated_sync, [pytest.mark.redis]),
    ("redis-replicated-async", "async", _replicated_async, [pytest.mark.redis]),
    # Found through three sentinels (redis+sentinel://), on a primary with one replica.
    ("redis-sentinel-sync", "sync", _sentinel_sync, [pytest.mark.redis]),
    ("redis-sentinel-async", "async", _sentinel_async, [pytest.mark.redis]),
    ("redis-cluster-sync", "sync", _cluster_sync, _CLUSTER),
    ("redis-cluster-async", "async", _cluster_async, _CLUSTER),
    # WAIT 1 after every claim and completion, on the connection to the key's primary.
    ("redis-cluster-waiting-sync", "sync", _cluster_waiting_sync, _CLUSTER),
    ("redis-cluster-waiting-async", "async", _cluster_waiting_async, _CLUSTER),
]


@pytest.fixture(
    params=[pytest.param(case, id=case[0], marks=case[3]) for case in _CASES],
)
def harness(request: pytest.FixtureRequest, prefix: str) -> Iterator[Harness]:
    """One store in one mode, for one contract test."""
    name, mode, factory, _ = request.param
    # Registers the server for the prefix fixture's key clean-up.
    if "cluster" in request.node.keywords:
        request.getfixturevalue("redis_cluster_url")
    elif "redis" in request.node.keywords:
        request.getfixturevalue("redis_url")
    h = Harness(name, mode, factory(request), prefix)
    yield h
    h.close()
