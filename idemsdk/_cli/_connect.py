"""The commands' only way to Redis: a client with short timeouts, and redis-py errors as ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AskError, AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .._errors import StoreError, StoreUnavailable
from ._errors import UsageError
from ._urls import check_url, redacted

__all__ = ["DEFAULT_TIMEOUT", "connect", "talking_to"]

#: Seconds to connect and to wait for each reply. An operator tool must say "unreachable"
#: in seconds, not hang on a firewalled port.
DEFAULT_TIMEOUT = 2.0


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A client for ``url`` (checked first); connects lazily, on its first command."""
    if not timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout}")
    check_url(url)
    try:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            # One attempt: redis-py retries by default, with backoff, which would turn a
            # 2 s timeout into many; the operator reruns the command instead.
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:  # what check_url cannot foresee, such as bad query options
        raise UsageError(f"{redacted(url)!r}: {exc}") from exc


@contextmanager
def talking_to(url: str) -> Iterator[None]:
    """Turn redis-py errors raised inside into ours, naming the server (without password)."""
    shown = redacted(url)
    try:
        yield
    except AuthenticationError as exc:
        raise StoreUnavailable(f"{shown} refused the credentials: {exc}") from exc
    except RedisTimeoutError as exc:
        raise StoreUnavailable(f"{shown} did not answer in time: {exc}") from exc
    except RedisConnectionError as exc:
        raise StoreUnavailable(f"cannot reach {shown}: {exc}") from exc
    except AskError as exc:  # MOVED or ASK: a cluster node that does not serve the key
        raise StoreError(
            f"{shown} does not serve this key's hash slot {exc.slot_id}: the cluster node "
            f"{exc.host}:{exc.port} does; point --url at it"
        ) from exc
    except ResponseError as exc:
        raise StoreError(f"{shown} refused a command: {exc}") from exc
    except RedisError as exc:
        raise StoreError(f"{shown}: {exc}") from exc
