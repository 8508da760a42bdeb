"""Fixtures for the Sentinel tests: a primary, its replica and three sentinels of our own.

The session's setup serves the tests that leave it as it is; a test that kills or demotes
the primary gets one of its own. Every process runs on loopback and is stopped by its pid.
Without ``redis-server``, the tests are skipped, or fail under ``IDEMSDK_REQUIRE_REDIS=1``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from idemsdk import AsyncRedisStore, RedisStore
from idemsdk.testing import RedisSentinelServer

from ..conftest import unavailable
from ..contract.harness import Harness, Mode


@contextmanager
def sentinel_setup() -> Iterator[RedisSentinelServer]:
    """A primary, a replica and 3 sentinels, stopped after; unavailable() if none can be."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed, so no Sentinel")
    try:
        setup = RedisSentinelServer(replicas=1, sentinels=3)
    except (OSError, RuntimeError, subprocess.SubprocessError, redis.RedisError) as exc:
        unavailable(f"could not start a primary, a replica and 3 sentinels: {exc}")
        raise  # unreachable: unavailable() raised
    with setup:
        yield setup


@pytest.fixture(scope="session")
def sentinel() -> Iterator[RedisSentinelServer]:
    """The session's Sentinel setup; tests must not stop or demote its primary."""
    with sentinel_setup() as setup:
        yield setup


@pytest.fixture
def own_sentinel() -> Iterator[RedisSentinelServer]:
    """A Sentinel setup for one test alone, which may kill or demote its primary."""
    with sentinel_setup() as setup:
        yield setup


@pytest.fixture(params=["sync", "async"])
def harness(
    request: pytest.FixtureRequest, sentinel: RedisSentinelServer, prefix: str
) -> Iterator[Harness]:
    """A store made by ``from_url`` with the Sentinel URL, in one mode (see tests/contract)."""
    mode: Mode = request.param
    store = RedisStore if mode == "sync" else AsyncRedisStore
    h = Harness(f"sentinel-{mode}", mode, store.from_url(sentinel.url), prefix)
    yield h
    h.close()
    delete_keys(sentinel.primary.url, f"{prefix}:*")


def delete_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` on the server at ``url``."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()
