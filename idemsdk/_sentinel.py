"""Clients on the primary of a Redis Sentinel service, sync and async, for the Redis stores.

redis-py's sentinel-managed pool asks the sentinels for the primary's address whenever it
opens a connection, and drops a connection whose server stops answering or answers as a
replica (``READONLY``): after a failover, the next connection goes to the new primary.
While no sentinel names a primary (during the failover, or when none answers), opening a
connection raises redis-py's ``MasterNotFoundError``, a ``ConnectionError``, which the
stores turn into ``StoreUnavailable`` like any unreachable server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.connection import parse_url

from ._redis_url import SentinelURL

__all__ = ["async_primary", "primary", "url_arguments"]

Address = tuple[str, int]

#: The timeouts a sentinel connection takes from the primary's when not given its own.
_TIMEOUTS = ("socket_connect_timeout", "socket_timeout")


class _Pool(redis.sentinel.SentinelConnectionPool):
    """A sentinel-managed pool that closes its sentinels' connections when it is closed."""

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        # Closing the client disconnects every connection; following a new primary only
        # the idle ones (inuse_connections=False), and the sentinels are still needed then.
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                sentinel.close()


class _AsyncPool(redis.asyncio.sentinel.SentinelConnectionPool):
    """The async twin of :class:`_Pool`: an open sentinel connection left behind warns."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.aclose()


def _sentinel_options(
    sentinel_kwargs: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The sentinels' connection options: the caller's, with the primary's timeouts as defaults."""
    if sentinel_kwargs is None:
        # What redis-py's Sentinel does without sentinel_kwargs: the primary's socket options.
        return {name: value for name, value in kwargs.items() if name.startswith("socket_")}
    options = dict(sentinel_kwargs)
    for name in _TIMEOUTS:
        if name in kwargs:
            options.setdefault(name, kwargs[name])
    return options


def primary(
    sentinels: Iterable[Address],
    service: str,
    sentinel_kwargs: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
) -> redis.Redis:
    """A ``redis.Redis`` on the primary the sentinels name for ``service``, found per connection."""
    manager = redis.sentinel.Sentinel(
        list(sentinels), sentinel_kwargs=_sentinel_options(sentinel_kwargs, kwargs), **kwargs
    )
    return cast(redis.Redis, manager.master_for(service, connection_pool_class=_Pool))


def async_primary(
    sentinels: Iterable[Address],
    service: str,
    sentinel_kwargs: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` on the primary of ``service``; the twin of :func:`primary`."""
    manager = redis.asyncio.sentinel.Sentinel(
        list(sentinels), sentinel_kwargs=_sentinel_options(sentinel_kwargs, kwargs), **kwargs
    )
    return cast(redis.asyncio.Redis, manager.master_for(service, connection_pool_class=_AsyncPool))


def url_arguments(
    url: SentinelURL, kwargs: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The sentinels' and the primary's connection options from a Sentinel URL and ``kwargs``.

    The URL's options win over ``kwargs``, as in redis-py's ``from_url``; a
    ``sentinel_kwargs`` in ``kwargs`` is the base of the sentinels' options.
    """
    options: dict[str, Any] = parse_url(url.node_url)  # type: ignore[no-untyped-call]
    # The host is a placeholder: the sentinels name the primary. For rediss://, the
    # sentinel pool picks its own TLS connection class when told ssl=True.
    del options["host"]
    if options.pop("connection_class", None) is not None:
        options["ssl"] = True
    sentinel_kwargs: dict[str, Any] | None = kwargs.pop("sentinel_kwargs", None)
    if url.sentinel_options:
        own = {name.removeprefix("sentinel_"): value for name, value in url.sentinel_options}
        sentinel_kwargs = {**(sentinel_kwargs or {}), **own}
    return sentinel_kwargs, {**kwargs, **options}
