"""The commands' only way to Redis: a client with short timeouts, and redis-py errors as ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AskError, AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .._errors import StoreError, StoreUnavailable
from .._redis_url import SentinelURL
from ._errors import UsageError
from ._urls import address, check_url, redacted

__all__ = [
    "DEFAULT_TIMEOUT",
    "check_timeout",
    "command",
    "connect",
    "connect_sentinel",
    "first_answer",
    "talking_to",
    "unreachable",
    "why",
]

#: Seconds to connect and to wait for each reply. An operator tool must say "unreachable"
#: in seconds, not hang on a firewalled port.
DEFAULT_TIMEOUT = 2.0

T = TypeVar("T")


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A client for one server's ``url`` (checked first); connects lazily, on its first command."""
    check_timeout(timeout)
    check_url(url)
    try:
        # One attempt: redis-py retries by default, with backoff, which would turn a
        # 2 s timeout into many; the operator reruns the command instead.
        return redis.Redis.from_url(url, **_once(timeout))
    except ValueError as exc:  # what check_url cannot foresee, such as bad query options
        raise UsageError(f"{redacted(url)!r}: {exc}") from exc


def connect_sentinel(
    sentinel: SentinelURL, host: str, port: int, timeout: float = DEFAULT_TIMEOUT
) -> redis.Redis:
    """A client for the sentinel at ``host:port``, with the sentinels' own credentials."""
    check_timeout(timeout)
    # Sentinels speak plain RESP and take only the URL's sentinel_username/_password: the
    # primary's password and database are not theirs.
    options = dict(sentinel.sentinel_options)
    return redis.Redis(
        host,
        port,
        username=options.get("sentinel_username"),
        password=options.get("sentinel_password"),
        **_once(timeout),
    )


def command(client: redis.Redis, *args: str) -> object:
    """Send a command as written; replies come parsed or not, by redis-py's version."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def check_timeout(timeout: float) -> None:
    """UsageError unless ``timeout`` is a positive number of seconds."""
    if not timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout}")


def first_answer(
    targets: Sequence[tuple[str, int]], ask: Callable[[str, int], T], what: str
) -> tuple[tuple[str, int], T, dict[str, str]]:
    """``ask`` each target in turn until one answers.

    Returns that target, its answer, and why each one before it did not answer; raises
    StoreUnavailable, naming every target, when none answers.
    """
    silent: dict[str, str] = {}
    for host, port in targets:
        try:
            return (host, port), ask(host, port), silent
        except StoreUnavailable as exc:  # noqa: PERF203 - each try is a network round trip
            silent[address(host, port)] = why(exc)
    raise unreachable(what, silent)


def unreachable(what: str, silent: dict[str, str]) -> StoreUnavailable:
    """The error for ``what`` when none of its servers answered (``silent``: why each)."""
    return StoreUnavailable(f"no {what} answered: {'; '.join(silent.values())}")


def why(error: Exception) -> str:
    """``error``'s message to list with others (``; ``), without redis-py's final period."""
    return str(error).rstrip(".")


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
            f"{exc.host}:{exc.port} does; point --url at it, or give a redis+cluster:// URL"
        ) from exc
    except ResponseError as exc:
        raise StoreError(f"{shown} refused a command: {exc}") from exc
    except RedisError as exc:
        raise StoreError(f"{shown}: {exc}") from exc


def _once(timeout: float) -> dict[str, Any]:
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
