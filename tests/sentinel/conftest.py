"""Fixtures for the Sentinel tests: a primary, its replica and three sentinels of our own.

The session's setup (``sentinel``, in tests/conftest.py, which the store contract suite
runs on too) serves the tests that leave it as it is; a test that kills or demotes the
primary gets one of its own. Every process runs on loopback and is stopped by its pid.
Without ``redis-server``, the tests are skipped, or fail under ``IDEMSDK_REQUIRE_REDIS=1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from idemsdk.testing import RedisSentinelServer

from ..conftest import sentinel_of


@pytest.fixture
def own_sentinel() -> Iterator[RedisSentinelServer]:
    """A Sentinel setup for one test alone, which may kill or demote its primary."""
    with sentinel_of() as setup:
        yield setup


def delete_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` on the server at ``url``."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()
