"""Cluster failures reach callers as StoreUnavailable, and the function does not run."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
import redis
import redis.asyncio
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    MasterDownError,
    MovedError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from idemsdk import (
    AsyncRedisStore,
    ConfigurationError,
    Idempotency,
    RedisStore,
    StoreUnavailable,
)
from idemsdk.testing import RedisServer, free_port

from ..contract.harness import Harness, Mode
from .topology import Primary, key_for, primary_named, primary_of, slot_of

CLUSTER_ERRORS = [
    (ClusterDownError("CLUSTERDOWN The cluster is down"), "the cluster, or the key's shard"),
    (MasterDownError("MASTERDOWN Link with MASTER is down"), "the cluster, or the key's shard"),
    (TryAgainError("TRYAGAIN"), "slot is being migrated"),
    (MovedError("3999 127.0.0.1:7002"), "connect with redis+cluster://"),
    (AskError("3999 127.0.0.1:7002"), "connect with redis+cluster://"),
    (ClusterError("TTL exhausted."), "MOVED/ASK redirections ran out"),
    (SlotNotCoveredError('Slot "3999" is not covered by the cluster.'), "serve the key's slot"),
    (RedisClusterException("Redis Cluster cannot be connected."), "serve the key's slot"),
]


class Failing:
    """A client whose every script raises ``error``, as redis-py would."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_encoder(self) -> Any:
        return redis.Redis().get_encoder()

    def evalsha(self, *args: Any) -> Any:
        raise self.error


class AsyncFailing(Failing):
    async def evalsha(self, *args: Any) -> Any:
        raise self.error


def _never(x: int) -> int:
    pytest.fail("the function ran although the store failed")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("error", "says"), CLUSTER_ERRORS, ids=[type(error).__name__ for error, _ in CLUSTER_ERRORS]
)
def test_every_cluster_error_raises_store_unavailable_that_says_why(
    mode: Mode, error: Exception, says: str
) -> None:
    store: RedisStore | AsyncRedisStore
    if mode == "sync":
        store = RedisStore(cast(redis.RedisCluster, Failing(error)))
    else:
        store = AsyncRedisStore(cast(redis.asyncio.RedisCluster, AsyncFailing(error)))
    h = Harness(mode, mode, store, "t")
    try:
        with pytest.raises(StoreUnavailable, match=re.escape(says)) as info:
            h.decorate(h.idem(), _never)(1)
    finally:
        h.close()
    assert info.value.__cause__ is error
    assert "Redis Cluster unavailable during idemsdk.claim" in str(info.value)


@pytest.mark.redis
@pytest.mark.cluster
def test_redirections_without_end_raise_store_unavailable(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    """A slot migrating to a node that does not import it: ASK there, MOVED back, forever."""
    job = harness.decorate(harness.idem(), _never)
    key = key_for(job)(1)
    source = primary_named(nodes, primary_of(cluster, key))
    elsewhere = next(node for node in nodes if node is not source)
    source.run("CLUSTER SETSLOT", slot_of(key), "MIGRATING", elsewhere.id)
    try:
        with pytest.raises(StoreUnavailable, match="redirections ran out"):
            job(1)
    finally:
        source.run("CLUSTER SETSLOT", slot_of(key), "STABLE")


@pytest.mark.redis
@pytest.mark.cluster
def test_a_plain_client_on_a_cluster_node_is_told_to_use_a_cluster_url(
    cluster: redis.RedisCluster, nodes: list[Primary], prefix: str
) -> None:
    store = RedisStore(nodes[0].client)
    job = Idempotency(store, prefix=prefix).idempotent(_never)
    x = next(i for i in range(1000) if primary_of(cluster, job.key_for(i)) != nodes[0].name)
    with pytest.raises(StoreUnavailable, match=r"connect with redis\+cluster://"):
        job(x)


def test_a_cluster_url_whose_seeds_do_not_answer_raises_store_unavailable() -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/"
    with pytest.raises(StoreUnavailable, match=r"no Redis Cluster node of 127\.0\.0\.1:"):
        RedisStore.from_url(url)
    # The async client connects on first use: the first call fails, and does not run.
    h = Harness("async", "async", AsyncRedisStore.from_url(url), "t")
    try:
        with pytest.raises(StoreUnavailable, match="cannot be connected"):
            h.decorate(h.idem(), _never)(1)
    finally:
        h.close()


@pytest.mark.redis
def test_a_server_not_in_cluster_mode_behind_a_cluster_url_is_refused(
    plain_server: RedisServer,
) -> None:
    with pytest.raises(ConfigurationError, match="Cluster mode is not enabled"):
        RedisStore.from_url(f"redis+cluster://127.0.0.1:{plain_server.port}/")
