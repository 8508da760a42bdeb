"""Redis URLs as the operator gives them: checked before connecting, shown without passwords.

Three kinds: one server (``redis://``, ``rediss://``, ``unix://``), a Redis Cluster
(``redis+cluster://`` seeds) and a Sentinel setup (``redis+sentinel://`` sentinels and a
service name), the forms ``RedisStore.from_url`` and ``idemsdk._redis_url`` take.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .._errors import ConfigurationError
from .._redis_url import (
    ClusterURL,
    SentinelURL,
    parse_cluster_url,
    parse_sentinel_url,
    redacted,
)
from ._errors import UsageError

__all__ = ["address", "check_url", "cluster_url", "redacted", "sentinel_url", "with_address"]

_SCHEMES = ("redis", "rediss", "unix")
_USE = (
    "use redis://host:port/db, rediss://host:port/db (TLS), unix:///path/to/socket, "
    "redis+cluster://host:port,host:port/ or redis+sentinel://host:26379/service"
)


def check_url(url: str) -> str:
    """Return ``url`` if it is one of the three kinds, written so it can work; else UsageError."""
    if cluster_url(url) is None and sentinel_url(url) is None:
        _check_server(url)
    return url


def cluster_url(url: str) -> ClusterURL | None:
    """``url`` taken apart as a cluster URL (seeds checked); ``None`` for the other kinds."""
    try:
        cluster = parse_cluster_url(url)
    except (ConfigurationError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if cluster is not None:
        # The seeds share the first one's credentials and options: check them as a server's.
        _check_server(cluster.node_url, shown=url)
    return cluster


def sentinel_url(url: str) -> SentinelURL | None:
    """``url`` taken apart as a Sentinel URL; ``None`` for the other kinds."""
    try:
        return parse_sentinel_url(url)
    except (ConfigurationError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


def with_address(url: str, host: str, port: int) -> str:
    """``url`` pointed at ``host:port``, keeping its scheme, credentials, database, options."""
    parts = urlsplit(url)
    credentials, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{credentials}{at}{address(host, port)}"))


def address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets as URLs write it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_server(url: str, shown: str | None = None) -> None:
    # redis-py accepts some mistakes silently (``redis://h:6379/x`` ignores the database,
    # ``redis://`` means localhost): an operator's typo must not inspect another server.
    shown = redacted(shown or url)
    try:
        parts = urlsplit(url)
        port_error = None
        try:
            parts.port  # noqa: B018 - reading it is the check: urlsplit raises for bad ports
        except ValueError as exc:
            port_error = exc
    except ValueError as exc:
        raise UsageError(f"{shown!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in _SCHEMES:
        raise UsageError(f"{shown!r} is not a Redis URL: {_USE}")
    if parts.scheme == "unix":
        if not parts.path:
            raise UsageError(f"{shown!r} names no socket path: unix:///path/to/socket")
        return
    if not parts.hostname:
        raise UsageError(f"{shown!r} names no host: {parts.scheme}://host:port/db")
    if port_error is not None:
        raise UsageError(f"{shown!r} has an invalid port: {port_error}")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise UsageError(f"{shown!r}: the database {database!r} is not a number")
