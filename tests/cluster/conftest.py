"""Fixtures for the cluster tests: clients and stores on the session's Redis Cluster."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from idemsdk import AsyncRedisStore, RedisStore
from idemsdk.testing import RedisClusterServer, RedisServer

from ..conftest import cluster_client, cluster_of, unavailable
from ..contract.harness import Harness, Mode
from .topology import Primary, primaries


@pytest.fixture
def cluster(redis_cluster_url: str) -> Iterator[redis.RedisCluster]:
    """A sync cluster client on the session's cluster."""
    client = cluster_client(redis_cluster_url)
    yield client
    client.close()


@pytest.fixture
def nodes(cluster: redis.RedisCluster) -> Iterator[list[Primary]]:
    """The cluster's primaries, each with a plain client of its own."""
    found = primaries(cluster)
    yield found
    for node in found:
        node.client.close()


@pytest.fixture(params=["sync", "async"])
def harness(
    request: pytest.FixtureRequest, redis_cluster_url: str, prefix: str
) -> Iterator[Harness]:
    """A store made by ``from_url`` on the cluster, in one mode (see tests/contract)."""
    mode: Mode = request.param
    store = RedisStore if mode == "sync" else AsyncRedisStore
    h = Harness(f"cluster-{mode}", mode, store.from_url(redis_cluster_url), prefix)
    yield h
    h.close()


@pytest.fixture
def own_cluster() -> Iterator[RedisClusterServer]:
    """A cluster for one test alone (it may stop nodes): 3 primaries, no replicas."""
    with cluster_of(primaries=3, replicas=0) as cluster:
        yield cluster


@pytest.fixture
def plain_server() -> Iterator[RedisServer]:
    """A redis-server of our own, not in cluster mode."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    with RedisServer() as server:
        yield server
