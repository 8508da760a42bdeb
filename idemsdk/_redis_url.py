"""Cluster URLs: ``redis+cluster://`` and ``rediss+cluster://``, pure parsing, no I/O.

::

    redis+cluster://[[user]:[password]@]host[:port][,host[:port]...][/0][?option=value...]

Every listed node is a seed: the client asks the first one that answers for the slot map,
so one node being down does not stop a store from starting. Credentials, the path and the
query are those of a ``redis://`` URL, and apply to every node; a cluster has only
database 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = ["ClusterURL", "parse_cluster_url", "redacted"]

#: Cluster scheme -> the scheme of one node's URL.
_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_DEFAULT_PORT = 6379
# user:password@ in the authority; a regex rather than urlsplit, so that even a URL too
# malformed to parse is shown without its password.
_PASSWORD = re.compile(r"(//[^/@:]*):[^/@]*@")


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """A cluster URL taken apart: its seed nodes, and the URL of the first as a node URL."""

    #: ``redis://`` / ``rediss://`` URL of the first node, with the credentials and options.
    node_url: str
    #: Every seed node as (host, port), the first one included.
    nodes: tuple[tuple[str, int], ...]


def parse_cluster_url(url: str) -> ClusterURL | None:
    """Take a cluster URL apart; ``None`` when ``url`` is not one (``redis://`` and the rest)."""
    scheme, separator, _ = url.partition("://")
    node_scheme = _SCHEMES.get(scheme.lower())
    if not separator or node_scheme is None:
        return None
    parts = urlsplit(url)
    credentials, at, hosts = parts.netloc.rpartition("@")
    seeds = hosts.split(",")
    nodes = tuple(_node(seed, url) for seed in seeds)
    if unquote(parts.path).strip("/") not in ("", "0") or any(
        value != "0" for value in parse_qs(parts.query).get("db", [])
    ):
        raise ConfigurationError(f"a Redis Cluster has only database 0: {redacted(url)}")
    first = f"{credentials}{at}{seeds[0]}"
    node_url = urlunsplit((node_scheme, first, parts.path, parts.query, parts.fragment))
    return ClusterURL(node_url, nodes)


def _node(text: str, url: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[ipv6]:port`` as (host, port)."""
    try:
        parts = urlsplit(f"//{text.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ConfigurationError(f"bad node {text!r} in {redacted(url)}: {exc}") from exc
    if not host:
        raise ConfigurationError(f"a node without a host in {redacted(url)}")
    return host, port or _DEFAULT_PORT


def redacted(url: str) -> str:
    """The URL without its password, for messages and output (they end up in logs)."""
    return _PASSWORD.sub(r"\1:***@", url)
