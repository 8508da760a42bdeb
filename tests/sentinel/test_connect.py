"""Connecting through Sentinel: from_sentinel and Sentinel URLs, their settings and errors."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import pytest
import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from idemsdk import (
    AsyncRedisStore,
    ConfigurationError,
    Idempotency,
    RedisStore,
    StoreUnavailable,
)
from idemsdk.testing import RedisSentinelServer, free_port

from .conftest import delete_keys

#: What redis-py raises when no sentinel names a primary (one class per driver): both are
#: ConnectionErrors, which the stores turn into StoreUnavailable.
NO_PRIMARY = (redis.sentinel.MasterNotFoundError, redis.asyncio.sentinel.MasterNotFoundError)


def _pool(store: RedisStore | AsyncRedisStore) -> Any:
    """The sentinel-managed connection pool of a store made through Sentinel."""
    return cast(Any, store.client).connection_pool


def _sentinel_kwargs(store: RedisStore | AsyncRedisStore) -> list[dict[str, Any]]:
    """The connection settings of each sentinel behind a store made through Sentinel."""
    return [s.connection_pool.connection_kwargs for s in _pool(store).sentinel_manager.sentinels]


def _timeouts(kwargs: dict[str, Any]) -> tuple[float, float]:
    return kwargs["socket_connect_timeout"], kwargs["socket_timeout"]


@pytest.mark.redis
def test_from_url_finds_the_primary_through_the_sentinels(sentinel: RedisSentinelServer) -> None:
    store = RedisStore.from_url(sentinel.url)
    key = f"t{uuid.uuid4().hex[:12]}"
    calls: list[int] = []

    @Idempotency(store, prefix=key).idempotent(key=lambda n: str(n))
    def double(n: int) -> int:
        calls.append(n)
        return 2 * n

    assert (double(21), double(21)) == (42, 42)
    assert calls == [21]
    primary = redis.Redis(port=sentinel.primary.port)
    assert len(list(primary.scan_iter(f"{key}:*"))) == 1, "the record is on the primary"
    primary.close()
    store.client.close()
    delete_keys(sentinel.primary.url, f"{key}:*")


@pytest.mark.redis
def test_async_from_sentinel_finds_the_primary_through_the_sentinels(
    sentinel: RedisSentinelServer,
) -> None:
    store = AsyncRedisStore.from_sentinel(sentinel.sentinels, sentinel.service)
    assert isinstance(store.client, redis.asyncio.Redis)
    key = f"t{uuid.uuid4().hex[:12]}"

    @Idempotency(store, prefix=key).idempotent(key=lambda n: str(n))
    async def double(n: int) -> int:
        return 2 * n

    async def twice() -> tuple[int, int]:
        try:
            return await double(21), await double(21)
        finally:
            await store.client.aclose()

    assert asyncio.run(twice()) == (42, 42)
    delete_keys(sentinel.primary.url, f"{key}:*")


def test_from_url_sets_safe_timeouts_on_the_primary_and_the_sentinels() -> None:
    url = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/cache"
    for store in (RedisStore.from_url(url), AsyncRedisStore.from_url(url)):
        kwargs = _pool(store).connection_kwargs
        assert _timeouts(kwargs) == (2.0, 5.0)
        assert [_timeouts(s) for s in _sentinel_kwargs(store)] == [(2.0, 5.0)] * 2


def test_your_timeouts_win_on_the_primary_and_the_sentinels() -> None:
    sentinels = [("127.0.0.1", 26379)]
    for store in (
        RedisStore.from_sentinel(sentinels, "cache", socket_timeout=1.5),
        AsyncRedisStore.from_sentinel(sentinels, "cache", socket_timeout=1.5),
    ):
        assert _timeouts(_pool(store).connection_kwargs) == (2.0, 1.5)
        assert [_timeouts(s) for s in _sentinel_kwargs(store)] == [(2.0, 1.5)]


def test_sentinel_kwargs_keep_their_own_timeouts_and_take_the_primarys_for_the_rest() -> None:
    options = {"socket_timeout": 0.5, "password": "sentinel-pw"}
    for store in (
        RedisStore.from_sentinel([("h", 1)], "cache", sentinel_kwargs=options),
        AsyncRedisStore.from_sentinel([("h", 1)], "cache", sentinel_kwargs=options),
    ):
        (sentinel,) = _sentinel_kwargs(store)
        assert (_timeouts(sentinel), sentinel["password"]) == ((2.0, 0.5), "sentinel-pw")
        kwargs = _pool(store).connection_kwargs
        assert (_timeouts(kwargs), kwargs.get("password")) == ((2.0, 5.0), None)
    assert options == {"socket_timeout": 0.5, "password": "sentinel-pw"}, "yours, untouched"


def test_a_sentinel_url_gives_the_primary_its_credentials_and_the_sentinels_theirs() -> None:
    url = (
        "redis+sentinel://app:primary-pw@s1:5000,s2/cache/4"
        "?sentinel_password=sentinel-pw&sentinel_username=watcher&health_check_interval=7"
    )
    for store in (RedisStore.from_url(url), AsyncRedisStore.from_url(url)):
        kwargs = _pool(store).connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("app", "primary-pw", 4)
        assert kwargs["health_check_interval"] == 7
        assert [
            (s["host"], s["port"], s["username"], s["password"]) for s in _sentinel_kwargs(store)
        ] == [("s1", 5000, "watcher", "sentinel-pw"), ("s2", 26379, "watcher", "sentinel-pw")]


def test_rediss_sentinel_connects_to_the_primary_over_tls() -> None:
    url = "rediss+sentinel://s1/cache?ssl_cert_reqs=none"
    sync = _pool(RedisStore.from_url(url))
    assert sync.connection_class is redis.sentinel.SentinelManagedSSLConnection
    assert sync.connection_kwargs["ssl_cert_reqs"] == "none"
    pool = _pool(AsyncRedisStore.from_url(url))
    assert pool.connection_class is redis.asyncio.sentinel.SentinelManagedSSLConnection


def test_a_decoding_client_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="decode_responses=False"):
        RedisStore.from_sentinel([("h", 1)], "cache", decode_responses=True)
    with pytest.raises(ConfigurationError, match="decode_responses=False"):
        AsyncRedisStore.from_url("redis+sentinel://h/cache?decode_responses=true")


@pytest.mark.redis
def test_closing_the_client_closes_its_sentinel_connections(
    sentinel: RedisSentinelServer,
) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"
    watcher = redis.Redis(*sentinel.sentinels[0])

    def open_connections() -> int:
        return sum(client["name"] == name for client in watcher.client_list())

    store = RedisStore.from_url(sentinel.url, sentinel_kwargs={"client_name": name})
    store.client.ping()
    assert open_connections() == 1
    store.client.close()
    assert open_connections() == 0

    async def ping_and_close() -> int:
        store = AsyncRedisStore.from_url(sentinel.url, sentinel_kwargs={"client_name": name})
        await store.client.ping()
        opened = open_connections()
        await store.client.aclose()  # an async connection left open warns when collected
        return opened

    assert asyncio.run(ping_and_close()) == 1
    assert open_connections() == 0
    watcher.close()


def _no_primary(store: RedisStore) -> StoreUnavailable:
    """The error a call on ``store`` raises; the function must not run."""

    @Idempotency(store, circuit_breaker=False).idempotent(key=lambda: "k")
    def never() -> None:
        raise AssertionError("ran without a primary")

    with pytest.raises(StoreUnavailable) as info:
        never()
    store.client.close()
    return info.value


async def _no_primary_async(store: AsyncRedisStore) -> StoreUnavailable:
    @Idempotency(store, circuit_breaker=False).idempotent(key=lambda: "k")
    async def never() -> None:
        raise AssertionError("ran without a primary")

    try:
        with pytest.raises(StoreUnavailable) as info:
            await never()
    finally:
        await store.client.aclose()
    return info.value


@pytest.mark.redis
def test_a_service_no_sentinel_knows_is_store_unavailable(sentinel: RedisSentinelServer) -> None:
    (host, port) = sentinel.sentinels[0]
    url = f"redis+sentinel://{host}:{port}/no-such-service"
    for error in (
        _no_primary(RedisStore.from_url(url)),
        asyncio.run(_no_primary_async(AsyncRedisStore.from_url(url))),
    ):
        assert isinstance(error.__cause__, NO_PRIMARY)
        assert "No master found for 'no-such-service'" in str(error)


def test_no_sentinel_answering_is_store_unavailable() -> None:
    sentinels = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
    for error in (
        _no_primary(RedisStore.from_sentinel(sentinels, "cache")),
        asyncio.run(_no_primary_async(AsyncRedisStore.from_sentinel(sentinels, "cache"))),
    ):
        assert isinstance(error.__cause__, NO_PRIMARY)
        assert "Redis unreachable during idemsdk.claim" in str(error)
