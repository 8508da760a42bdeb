"""Shared fixtures: real Redis servers, a cluster, a replica and sentinels, of our own.

``REDIS_URL`` names a server to use; otherwise a ``redis-server`` is started on a free
loopback port for the session and stopped by its pid. The others are always our own
(``our_own``), on loopback, stopped by their pids: the cluster is six ``redis-server``
processes (3 primaries, 3 replicas) formed with ``redis-cli --cluster create`` once per
session, whose slots tests move around; ``replicated`` is a primary and its replica;
``sentinel`` a primary, its replica and 3 sentinels. Without the binaries, Redis tests
are skipped with the reason, unless ``IDEMSDK_REQUIRE_REDIS=1`` (CI), where they fail.
Tests touch only keys under their own unique prefix and delete them, on every primary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

import pytest
import redis

from idemsdk import RedisStore
from idemsdk.testing import (
    RedisClusterServer,
    RedisReplicatedServer,
    RedisSentinelServer,
    RedisServer,
)

from .replication import PrimaryWithReplica


def unavailable(reason: str) -> None:
    """Skip for lack of a real Redis, or fail when one is required."""
    if require_redis():
        pytest.fail(f"a real Redis is required (IDEMSDK_REQUIRE_REDIS=1): {reason}")
    pytest.skip(f"no real Redis: {reason}")


def require_redis() -> bool:
    """True under CI, where a skipped Redis test is a failure."""
    return os.environ.get("IDEMSDK_REQUIRE_REDIS") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """Register our own markers (besides pyproject's ``redis`` and ``slow``)."""
    config.addinivalue_line("markers", "cluster: needs a real Redis Cluster (started by a fixture)")


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


S = TypeVar(
    "S", bound=RedisServer | RedisClusterServer | RedisReplicatedServer | RedisSentinelServer
)


@contextmanager
def our_own(start: Callable[[], S], what: str, needs: tuple[str, ...] = ()) -> Iterator[S]:
    """Servers of our own on loopback from ``start``, stopped after; unavailable() if not."""
    missing = [name for name in ("redis-server", *needs) if shutil.which(name) is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not installed, so no {what}")
    try:
        servers = start()
    except (OSError, RuntimeError, subprocess.SubprocessError, redis.RedisError) as exc:
        unavailable(f"could not start {what}: {exc}")
        raise  # unreachable: unavailable() raised
    with servers:
        yield servers


def cluster_of(primaries: int, replicas: int) -> AbstractContextManager[RedisClusterServer]:
    """A Redis Cluster of our own (``redis-cli`` forms it)."""
    return our_own(
        lambda: RedisClusterServer(primaries=primaries, replicas=replicas),
        "Redis Cluster",
        needs=("redis-cli",),
    )


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServer]:
    """A Redis Cluster of our own for the session: 3 primaries, 3 replicas."""
    with cluster_of(primaries=3, replicas=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: RedisClusterServer) -> str:
    """``redis+cluster://`` URL of the session's Redis Cluster."""
    return redis_cluster.url


def cluster_client(url: str) -> redis.RedisCluster:
    """A sync client on the cluster at a ``redis+cluster://`` URL."""
    return cast(redis.RedisCluster, RedisStore.from_url(url).client)


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
    if "redis_cluster_url" in request.fixturenames:
        delete_cluster_keys(request.getfixturevalue("redis_cluster_url"), f"{value}:*")


def delete_cluster_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` on every primary of the cluster at ``url``."""
    cluster = cluster_client(url)
    # SCAN answers for one node: redis-py runs it on each primary and chains the cursors.
    keys = list(cluster.scan_iter(pattern, count=1000, target_nodes=cluster.PRIMARIES))
    if keys:
        cluster.delete(*keys)  # redis-py splits it into one DEL per slot
    cluster.close()


def sentinel_of(**options: Any) -> AbstractContextManager[RedisSentinelServer]:
    """A Sentinel setup of our own: RedisSentinelServer's ``options``, by default a primary,
    a replica and 3 sentinels."""
    return our_own(lambda: RedisSentinelServer(**options), "Sentinel setup")


@pytest.fixture(scope="session")
def sentinel() -> Iterator[RedisSentinelServer]:
    """The session's Sentinel setup; tests must not stop or demote its primary."""
    with sentinel_of() as setup:
        yield setup


@pytest.fixture(scope="session")
def replicated() -> Iterator[PrimaryWithReplica]:
    """A primary with one replica, shared by the tests that do not stop either."""
    with our_own(PrimaryWithReplica, "primary with a replica") as servers:
        yield servers


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client on the real server."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
