"""Redis URLs as the operator gives them: checked before connecting, shown without passwords."""

from __future__ import annotations

from urllib.parse import urlsplit

from .._redis_url import redacted
from ._errors import UsageError

__all__ = ["check_url", "redacted"]

_SCHEMES = ("redis", "rediss", "unix")


def check_url(url: str) -> str:
    """Return ``url`` if redis-py can connect with it as written, else raise UsageError."""
    # redis-py accepts some mistakes silently (``redis://h:6379/x`` ignores the database,
    # ``redis://`` means localhost): an operator's typo must not inspect another server.
    shown = redacted(url)
    try:
        parts = urlsplit(url)
        port_error = None
        try:
            parts.port  # noqa: B018 - reading it is the check: urlsplit raises for bad ports
        except ValueError as exc:
            port_error = exc
    except ValueError as exc:
        raise UsageError(f"{shown!r} is not a valid URL: {exc}") from exc
    if parts.scheme.endswith("+cluster"):
        raise UsageError(
            f"{shown!r}: doctor and inspect talk to one node; give that node's "
            "redis://host:port URL (inspect: the node that serves the key's slot)"
        )
    if parts.scheme not in _SCHEMES:
        raise UsageError(
            f"{shown!r} is not a Redis URL: use redis://host:port/db, "
            "rediss://host:port/db (TLS) or unix:///path/to/socket"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise UsageError(f"{shown!r} names no socket path: unix:///path/to/socket")
        return url
    if not parts.hostname:
        raise UsageError(f"{shown!r} names no host: {parts.scheme}://host:port/db")
    if port_error is not None:
        raise UsageError(f"{shown!r} has an invalid port: {port_error}")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise UsageError(f"{shown!r}: the database {database!r} is not a number")
    return url
