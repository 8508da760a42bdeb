"""Redis stores: the Lua protocol of ``_lua`` driven over redis-py, sync and async.

Replies are parsed by pure functions shared by both drivers; each driver only sends the
script and maps redis-py's errors onto ours, so callers never import ``redis`` to catch them.
Standalone and Cluster clients are driven alike: every script names its one key, so the
cluster client sends it to the primary that owns the key's slot and follows MOVED and ASK.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.asyncio.cluster import PipelineCommand
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._errors import (
    ConfigurationError,
    IdempotencyError,
    RecordCorrupted,
    StoreError,
    StoreUnavailable,
)
from ._lua import CLAIM, COMPLETE, RELEASE, RENEW, Script
from ._record import ClaimResult, Status
from ._redis_url import ClusterURL, parse_cluster_url, parse_sentinel_url
from ._sentinel import async_primary, primary, url_arguments
from ._waiting import CLAIM_SHORT, RESULT_SHORT, UNREACHABLE, Learn, Send, Wait, waiting_write

__all__ = ["AsyncRedisStore", "RedisStore"]

#: Defaults for clients built by ``from_url``: a hung or unreachable Redis must fail a call
#: in seconds, not hang it. Pass your own values to override.
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_SOCKET_TIMEOUT = 5.0

#: Everything redis-py raises; its cluster client raises some that are not RedisErrors.
_CLIENT_ERRORS = (RedisError, RedisClusterException)


_STATUS = {status.value.encode(): status for status in Status}


def _claim_result(reply: Any, key: str) -> ClaimResult:
    """Turn CLAIM's array reply into a ClaimResult (see the script's contract)."""
    try:
        code = int(reply[0])
        if code == -1:
            kind = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
            raise RecordCorrupted(f"the key holds a Redis {kind} that is not an idemsdk record")
        token, deadline, now = int(reply[1]), int(reply[2]), int(reply[3])
        if code in (1, 2):
            return ClaimResult(True, token, deadline, now, takeover=code == 2)
        return ClaimResult(
            False,
            token,
            deadline,
            now,
            status=_STATUS[reply[4]],
            fingerprint=reply[5].decode(),
            body=reply[6],
        )
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordCorrupted(f"unreadable claim reply for {key!r}: {reply!r:.200}") from exc


def _claim_id() -> str:
    """A claim's random id: lets the claim script recognise the claim when sent twice."""
    return os.urandom(8).hex()


def _check_client(client: Any) -> None:
    if client.get_encoder().decode_responses:
        raise ConfigurationError(
            "RedisStore needs a client with decode_responses=False: records hold binary data"
        )


def _client_attributes(client: Any) -> dict[str, str | int]:
    """A client's OpenTelemetry Redis attributes: whatever its connection settings say."""
    attributes: dict[str, str | int] = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}
    # A standalone client's pool knows its server; a cluster client talks to many (no pool).
    settings = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    if "path" in settings:
        attributes["server.address"] = str(settings["path"])
    elif "host" in settings:
        attributes["server.address"] = str(settings["host"])
        attributes["server.port"] = int(settings.get("port", 6379))
    if "db" in settings:
        attributes["db.namespace"] = str(settings["db"])
    return attributes


def _with_timeouts(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with our default timeouts where the caller gave none."""
    kwargs.setdefault("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    kwargs.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
    return kwargs


def _cluster_unavailable(exc: Exception) -> str | None:
    """What a Redis Cluster error means for the call, or None if it is not one.

    All of them are transient (a failover, a slot moving) or a client that cannot find the
    key's primary: the script did not run, so the call did not either.
    """
    if isinstance(exc, ClusterDownError):  # CLUSTERDOWN, MASTERDOWN
        return "the cluster, or the key's shard, is down"
    if isinstance(exc, TryAgainError):
        return "the key's slot is being migrated and retries ran out"
    if isinstance(exc, AskError):  # MOVED too; seen when the client is not a cluster client
        return "redirected to another node (is this a cluster? connect with redis+cluster://)"
    if isinstance(exc, ClusterError):  # "TTL exhausted": too many redirections or retries
        return "retries and MOVED/ASK redirections ran out"
    if isinstance(exc, RedisClusterException):  # no node answers, slot not covered
        return "no node could be reached or serve the key's slot"
    return None


def _ours(exc: Exception, script: Script) -> StoreError:
    """Our error for a redis-py error, so callers never import redis to catch it."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return StoreUnavailable(f"Redis unreachable during {script.name}: {exc}")
    cluster = _cluster_unavailable(exc)
    if cluster is not None:
        return StoreUnavailable(
            f"Redis Cluster unavailable during {script.name}: {cluster} "
            f"({type(exc).__name__}: {exc})"
        )
    if isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE"):
        return RecordCorrupted(f"the key does not hold an idemsdk record: {exc}")
    return StoreError(f"Redis failed during {script.name}: {exc}")


def _cluster_node(client: Any, key: str, step: Send) -> Any:
    """The node of a cluster client that ``step`` goes to: the key's primary, or the one named."""
    if step.target is None:
        return client.get_node_from_key(key)
    node = client.get_node(*step.target)
    if node is None:
        # A node that owns no slot yet (one being added) is not in the client's slot map.
        host, port = step.target
        raise RedisClusterException(f"redirected to {host}:{port}, a node the client does not know")
    return node


def _sync_node(host: str, port: int) -> redis.cluster.ClusterNode:
    return redis.cluster.ClusterNode(host, port)  # type: ignore[no-untyped-call]


def _no_cluster(cluster: ClusterURL, exc: Exception) -> StoreError | ConfigurationError:
    """Our error when no cluster client could be made: no seed answered, or not as a cluster."""
    nodes = ",".join(f"{host}:{port}" for host, port in cluster.nodes)
    unreachable = (RedisConnectionError, RedisTimeoutError)
    if isinstance(exc, unreachable) or isinstance(exc.__cause__, unreachable):
        return StoreUnavailable(f"no Redis Cluster node of {nodes} answered: {exc}")
    return ConfigurationError(f"cannot use {nodes} as a Redis Cluster: {exc}")


class RedisStore:
    """A store on Redis (standalone, Sentinel or Cluster) through atomic Lua scripts.

    Takes a ``redis.Redis`` or ``redis.RedisCluster`` client created with
    ``decode_responses=False`` (the default), or use :meth:`from_url` or
    :meth:`from_sentinel`.
    """

    def __init__(self, client: redis.Redis | redis.RedisCluster) -> None:
        _check_client(client)
        self.client = client
        self._wait: Wait | None = None
        self._waiting: dict[Wait, RedisStore] = {}
        self._lock = threading.Lock()

    def with_wait(self, replicas: int, timeout: float) -> RedisStore:
        """This store on the same client, its claims and completions followed by WAIT.

        WAIT goes in the same round trip as the script (pipelined on one connection, which
        is the one whose writes WAIT counts). Fewer than ``replicas`` acknowledgements
        within ``timeout`` seconds raise :class:`~idemsdk.NotReplicated`. On Redis Cluster
        both go to the key's primary, following MOVED and ASK together.
        """
        wait = Wait.of(self.client, replicas, timeout)
        with self._lock:  # one store per setting, so its lease renewer and breaker are shared
            found = self._waiting.get(wait)
            if found is None:
                found = self._waiting[wait] = type(self)(self.client)
                found._wait = wait
            return found

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        """Connect to ``redis://``, ``rediss://``, ``unix://``, or a cluster, with safe timeouts.

        A cluster URL (``redis+cluster://host:port[,host:port...]/``) makes a
        ``redis.RedisCluster``, which asks a seed node for the slot map at once: if none
        answers, this raises :class:`~idemsdk.StoreUnavailable`. A Sentinel URL
        (``redis+sentinel://host:port[,host:port...]/service[/db]``) is :meth:`from_sentinel`.
        """
        sentinel = parse_sentinel_url(url)
        if sentinel is not None:
            sentinel_kwargs, kwargs = url_arguments(sentinel, kwargs)
            return cls.from_sentinel(
                sentinel.sentinels, sentinel.service, sentinel_kwargs=sentinel_kwargs, **kwargs
            )
        cluster = parse_cluster_url(url)
        if cluster is None:
            return cls(redis.Redis.from_url(url, **_with_timeouts(kwargs)))
        seeds = [_sync_node(host, port) for host, port in cluster.nodes[1:]]
        try:
            client = redis.RedisCluster.from_url(
                cluster.node_url, startup_nodes=seeds, **_with_timeouts(kwargs)
            )
        except _CLIENT_ERRORS as exc:
            raise _no_cluster(cluster, exc) from exc
        return cls(client)

    @classmethod
    def from_sentinel(
        cls,
        sentinels: Iterable[tuple[str, int]],
        service_name: str,
        *,
        sentinel_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> RedisStore:
        """Connect to the primary the sentinels name for ``service_name``, with safe timeouts."""
        return cls(primary(sentinels, service_name, sentinel_kwargs, _with_timeouts(kwargs)))

    def telemetry_attributes(self) -> dict[str, str | int]:
        """What OpenTelemetry spans say about this store (system, server, database index)."""
        return _client_attributes(self.client)

    def _run(self, script: Script, key: str, args: Sequence[str | int | bytes]) -> Any:
        try:
            try:
                return self.client.evalsha(script.sha, 1, key, *args)
            except NoScriptError:
                # The server that owns the key forgot the script (a restart, a failover, a
                # node the slot just moved to). EVAL is routed by the key like EVALSHA, so
                # it runs there and leaves the script cached for the next EVALSHA; a
                # SCRIPT LOAD would go to whichever nodes the client knows, not that one.
                return self.client.eval(script.source, 1, key, *args)
        except _CLIENT_ERRORS as exc:
            raise _ours(exc, script) from exc

    def _run_waiting(
        self, wait: Wait, script: Script, key: str, args: Sequence[str | int | bytes]
    ) -> tuple[Any, Any]:
        """The script and WAIT in one round trip: (the script's reply, WAIT's count)."""
        cluster = isinstance(self.client, redis.RedisCluster)
        flow = waiting_write(wait, script, key, args, cluster=cluster)
        try:
            step = next(flow)
            while True:
                if isinstance(step, Learn):
                    step = flow.send(self._learn(key))
                    continue
                try:
                    replies = self._send(key, step)
                except UNREACHABLE as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(replies)
        except StopIteration as done:
            reply, acknowledged = done.value
            return reply, acknowledged
        except _CLIENT_ERRORS as exc:
            raise _ours(exc, script) from exc

    def _learn(self, key: str) -> bool:
        """Whether the client reached ``key`` through its own routing (see ``Learn``)."""
        try:
            self.client.exists(key)
        except _CLIENT_ERRORS:
            return False
        return True

    def _send(self, key: str, step: Send) -> list[Any]:
        """One pipeline: on the client, or on a connection to the cluster node ``step`` names."""
        client: Any = self.client
        if isinstance(client, redis.RedisCluster):
            node = _cluster_node(client, key, step)
            client = client.get_redis_connection(node)
        pipe = client.pipeline(transaction=False)
        for command in step.commands:
            pipe.execute_command(*command)
        return list(pipe.execute(raise_on_error=False))

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        args = (fingerprint, lease_ms, ttl_ms, _claim_id())
        if self._wait is None:
            return _claim_result(self._run(CLAIM, key, args), key)
        reply, acknowledged = self._run_waiting(self._wait, CLAIM, key, args)
        result = _claim_result(reply, key)
        # Only a claim that wrote needs its write on the replicas; a reply that read an
        # existing record is as good as the record was when it was written.
        short = self._wait.short(acknowledged, CLAIM_SHORT) if result.acquired else None
        if short is not None:
            with contextlib.suppress(IdempotencyError):  # else its lease runs out
                self.release(key, result.token)
            raise short
        return result

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        args = (token, status.value, body, ttl_ms)
        if self._wait is None:
            return bool(self._run(COMPLETE, key, args))
        reply, acknowledged = self._run_waiting(self._wait, COMPLETE, key, args)
        short = self._wait.short(acknowledged, RESULT_SHORT) if reply else None
        if short is not None:
            raise short
        return bool(reply)

    def release(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        return bool(self._run(RELEASE, key, (token,)))

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        return bool(self._run(RENEW, key, (token, lease_ms)))


class AsyncRedisStore:
    """A store on Redis through ``redis.asyncio`` clients: the async twin of :class:`RedisStore`."""

    def __init__(self, client: redis.asyncio.Redis | redis.asyncio.RedisCluster) -> None:
        _check_client(client)
        self.client = client
        self._wait: Wait | None = None
        self._waiting: dict[Wait, AsyncRedisStore] = {}
        self._lock = threading.Lock()

    def with_wait(self, replicas: int, timeout: float) -> AsyncRedisStore:
        """This store on the same client, its claims and completions followed by WAIT.

        See :meth:`RedisStore.with_wait`.
        """
        wait = Wait.of(self.client, replicas, timeout)
        with self._lock:
            found = self._waiting.get(wait)
            if found is None:
                found = self._waiting[wait] = type(self)(self.client)
                found._wait = wait
            return found

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncRedisStore:
        """Connect to ``redis://``, ``rediss://``, ``unix://``, or a cluster, with safe timeouts.

        A cluster URL (``redis+cluster://host:port[,host:port...]/``) makes a
        ``redis.asyncio.RedisCluster``; it asks a seed node for the slot map on first use,
        and follows MOVED by updating the one slot (``reinitialize_steps=0``). A Sentinel
        URL (``redis+sentinel://host:port[,host:port...]/service[/db]``) is
        :meth:`from_sentinel`.
        """
        sentinel = parse_sentinel_url(url)
        if sentinel is not None:
            sentinel_kwargs, kwargs = url_arguments(sentinel, kwargs)
            return cls.from_sentinel(
                sentinel.sentinels, sentinel.service, sentinel_kwargs=sentinel_kwargs, **kwargs
            )
        cluster = parse_cluster_url(url)
        if cluster is None:
            return cls(redis.asyncio.Redis.from_url(url, **_with_timeouts(kwargs)))
        seeds = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in cluster.nodes[1:]]
        # By default redis-py's async cluster client reloads the slot map on every fifth
        # MOVED by closing every connection, those other tasks are using too: mid-reshard,
        # their scripts fail or are sent again. With 0 it updates the slot that moved.
        kwargs.setdefault("reinitialize_steps", 0)
        try:
            client = redis.asyncio.RedisCluster.from_url(
                cluster.node_url, startup_nodes=seeds, **_with_timeouts(kwargs)
            )
        except _CLIENT_ERRORS as exc:
            raise _no_cluster(cluster, exc) from exc
        return cls(client)

    @classmethod
    def from_sentinel(
        cls,
        sentinels: Iterable[tuple[str, int]],
        service_name: str,
        *,
        sentinel_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncRedisStore:
        """Connect to the primary the sentinels name for ``service_name``, with safe timeouts."""
        return cls(async_primary(sentinels, service_name, sentinel_kwargs, _with_timeouts(kwargs)))

    def telemetry_attributes(self) -> dict[str, str | int]:
        """What OpenTelemetry spans say about this store (system, server, database index)."""
        return _client_attributes(self.client)

    async def _run(self, script: Script, key: str, args: Sequence[str | int | bytes]) -> Any:
        try:
            try:
                return await self.client.evalsha(script.sha, 1, key, *args)
            except NoScriptError:
                return await self.client.eval(script.source, 1, key, *args)
        except _CLIENT_ERRORS as exc:
            raise _ours(exc, script) from exc

    async def _run_waiting(
        self, wait: Wait, script: Script, key: str, args: Sequence[str | int | bytes]
    ) -> tuple[Any, Any]:
        """The script and WAIT in one round trip: (the script's reply, WAIT's count)."""
        cluster = isinstance(self.client, redis.asyncio.RedisCluster)
        flow = waiting_write(wait, script, key, args, cluster=cluster)
        try:
            step = next(flow)
            while True:
                if isinstance(step, Learn):
                    step = flow.send(await self._learn(key))
                    continue
                try:
                    replies = await self._send(key, step)
                except UNREACHABLE as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(replies)
        except StopIteration as done:
            reply, acknowledged = done.value
            return reply, acknowledged
        except _CLIENT_ERRORS as exc:
            raise _ours(exc, script) from exc

    async def _learn(self, key: str) -> bool:
        """Whether the client reached ``key`` through its own routing (see ``Learn``)."""
        try:
            await self.client.exists(key)
        except _CLIENT_ERRORS:
            return False
        return True

    async def _send(self, key: str, step: Send) -> list[Any]:
        """One pipeline: on the client, or on a connection to the cluster node ``step`` names."""
        client = self.client
        if isinstance(client, redis.asyncio.RedisCluster):
            await client.initialize()  # a no-op once the slot map is loaded
            node = _cluster_node(client, key, step)
            commands = [PipelineCommand(i, *command) for i, command in enumerate(step.commands)]
            await node.execute_pipeline(commands)  # no retries: a node's connections have none
            return [command.result for command in commands]
        pipe = client.pipeline(transaction=False)
        for command in step.commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    async def aclaim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        args = (fingerprint, lease_ms, ttl_ms, _claim_id())
        if self._wait is None:
            return _claim_result(await self._run(CLAIM, key, args), key)
        reply, acknowledged = await self._run_waiting(self._wait, CLAIM, key, args)
        result = _claim_result(reply, key)
        short = self._wait.short(acknowledged, CLAIM_SHORT) if result.acquired else None
        if short is not None:
            with contextlib.suppress(IdempotencyError):
                await self.arelease(key, result.token)
            raise short
        return result

    async def acomplete(
        self, key: str, token: int, status: Status, body: bytes, ttl_ms: int
    ) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        args = (token, status.value, body, ttl_ms)
        if self._wait is None:
            return bool(await self._run(COMPLETE, key, args))
        reply, acknowledged = await self._run_waiting(self._wait, COMPLETE, key, args)
        short = self._wait.short(acknowledged, RESULT_SHORT) if reply else None
        if short is not None:
            raise short
        return bool(reply)

    async def arelease(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        return bool(await self._run(RELEASE, key, (token,)))

    async def arenew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        return bool(await self._run(RENEW, key, (token, lease_ms)))
