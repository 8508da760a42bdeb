"""Shared fixtures: a real Redis for the tests that need one.

``REDIS_URL`` names a server to use; otherwise a ``redis-server`` is started on a free
loopback port for the session and stopped by its pid. Without either, Redis tests are
skipped with the reason, unless ``IDEMSDK_REQUIRE_REDIS=1`` (CI), where they fail.
Tests on a shared server touch only keys under their own unique prefix and delete them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
import redis

from idemsdk.testing import RedisServer


def unavailable(reason: str) -> None:
    """Skip for lack of a real Redis, or fail when one is required."""
    if require_redis():
        pytest.fail(f"a real Redis is required (IDEMSDK_REQUIRE_REDIS=1): {reason}")
    pytest.skip(f"no real Redis: {reason}")


def require_redis() -> bool:
    """True under CI, where a skipped Redis test is a failure."""
    return os.environ.get("IDEMSDK_REQUIRE_REDIS") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With IDEMSDK_REQUIRE_REDIS=1, any skipped Redis test fails the run."""
    skipped = _SKIPPED_REDIS
    if require_redis() and skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nIDEMSDK_REQUIRE_REDIS=1 but {len(skipped)} Redis tests were skipped: {skipped}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember skipped Redis tests for pytest_sessionfinish."""
    if report.skipped and "redis" in report.keywords:
        _SKIPPED_REDIS.append(report.nodeid)


_SKIPPED_REDIS: list[str] = []


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session."""
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            unavailable(f"REDIS_URL={url} does not answer: {exc}")
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("REDIS_URL is not set and redis-server is not installed")
        return
    with RedisServer(binary=binary) as server:
        yield server.url


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards on real servers."""
    value = f"t{uuid.uuid4().hex[:12]}"
    yield value
    if "redis_url" in request.fixturenames:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        keys = list(client.scan_iter(f"{value}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client on the real server."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
