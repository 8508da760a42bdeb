"""Connecting to a cluster: from_url with a cluster URL, or a RedisCluster client of your own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio

from idemsdk import AsyncRedisStore, Idempotency, RedisStore
from idemsdk.testing import free_port

from ..conftest import delete_cluster_keys
from .topology import primary_names, primary_of

pytestmark = [pytest.mark.redis, pytest.mark.cluster]


def test_from_url_makes_a_cluster_client_with_safe_timeouts(redis_cluster_url: str) -> None:
    client = RedisStore.from_url(redis_cluster_url).client
    assert isinstance(client, redis.RedisCluster)
    kwargs = client.nodes_manager.connection_kwargs
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (2.0, 5.0)
    client.close()
    client = RedisStore.from_url(redis_cluster_url, socket_timeout=1.5).client
    assert isinstance(client, redis.RedisCluster)
    assert client.nodes_manager.connection_kwargs["socket_timeout"] == 1.5, "yours win"
    client.close()


def test_async_from_url_makes_an_async_cluster_client_with_safe_settings(
    redis_cluster_url: str,
) -> None:
    client = AsyncRedisStore.from_url(redis_cluster_url).client
    assert isinstance(client, redis.asyncio.RedisCluster)
    kwargs = client.get_connection_kwargs()
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (2.0, 5.0)
    # MOVED updates the one slot, instead of closing connections other tasks are using.
    assert client.reinitialize_steps == 0
    asyncio.run(client.aclose())
    client = AsyncRedisStore.from_url(redis_cluster_url, reinitialize_steps=5).client
    assert isinstance(client, redis.asyncio.RedisCluster)
    assert client.reinitialize_steps == 5, "yours wins"
    asyncio.run(client.aclose())


def test_plain_urls_still_make_plain_clients() -> None:
    assert type(RedisStore.from_url("redis://127.0.0.1:6379/0").client) is redis.Redis
    client = AsyncRedisStore.from_url("redis://127.0.0.1:6379/0").client
    assert type(client) is redis.asyncio.Redis


def test_a_seed_that_does_not_answer_is_skipped(cluster: redis.RedisCluster, prefix: str) -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()},{','.join(primary_names(cluster))}/"
    job = Idempotency(RedisStore.from_url(url), prefix=prefix).idempotent(lambda x: x + 1)
    assert job(1) == 2


def test_stores_take_cluster_clients_made_by_hand(cluster: redis.RedisCluster, prefix: str) -> None:
    host, port = primary_names(cluster)[0].split(":")
    sync_job = Idempotency(
        RedisStore(redis.RedisCluster(host=host, port=int(port))), prefix=prefix
    ).idempotent(lambda x: x + 1)
    assert sync_job(1) == 2

    async def scenario() -> int:
        client = redis.asyncio.RedisCluster(host=host, port=int(port))

        @Idempotency(AsyncRedisStore(client), prefix=prefix).idempotent
        async def job(x: int) -> int:
            return x + 1

        try:
            return await job(1) + await job(1)
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == 4


def test_key_clean_up_reaches_every_primary(
    redis_cluster_url: str, cluster: redis.RedisCluster
) -> None:
    mine = f"c{uuid.uuid4().hex[:12]}"
    keys = [f"{mine}:{i}" for i in range(60)]
    for key in keys:
        cluster.set(key, b"x")
    assert len({primary_of(cluster, key) for key in keys}) == 3
    delete_cluster_keys(redis_cluster_url, f"{mine}:*")
    assert cluster.exists(*keys) == 0
