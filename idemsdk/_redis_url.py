"""Cluster and Sentinel URLs, pure parsing, no I/O.

::

    redis+cluster://[[user]:[password]@]host[:port][,host[:port]...][/0][?option=value...]
    redis+sentinel://[[user]:[password]@]host[:port][,host[:port]...]/service[/db][?option=value...]

Cluster: every listed node is a seed: the client asks the first one that answers for the
slot map, so one node being down does not stop a store from starting. Credentials, the path
and the query are those of a ``redis://`` URL, and apply to every node; a cluster has only
database 0.

Sentinel: the hosts are sentinels (port 26379 by default), asked in turn which server is
the primary of ``service``. The credentials, database and query options are the primary's,
as in a ``redis://`` URL; sentinels that require a password of their own take it from the
``sentinel_password`` (and ``sentinel_username``) options. ``rediss+sentinel://`` speaks TLS
to the primary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlencode, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = ["ClusterURL", "SentinelURL", "parse_cluster_url", "parse_sentinel_url", "redacted"]

#: Cluster scheme -> the scheme of one node's URL.
_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
#: Sentinel scheme -> the scheme of the primary's URL.
_SENTINEL_SCHEMES = {"redis+sentinel": "redis", "rediss+sentinel": "rediss"}
_DEFAULT_PORT = 6379
_DEFAULT_SENTINEL_PORT = 26379
#: Query options that are the sentinels' own, not the primary's.
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")
# user:password@ in the authority; a regex rather than urlsplit, so that even a URL too
# malformed to parse is shown without its password.
_PASSWORD = re.compile(r"(//[^/@:]*):[^/@]*@")
# A password in the query: redis-py takes ``?password=``, Sentinel URLs ``?sentinel_password=``.
_QUERY_PASSWORD = re.compile(r"([?&](?:sentinel_)?password=)[^&#]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """A cluster URL taken apart: its seed nodes, and the URL of the first as a node URL."""

    #: ``redis://`` / ``rediss://`` URL of the first node, with the credentials and options.
    node_url: str
    #: Every seed node as (host, port), the first one included.
    nodes: tuple[tuple[str, int], ...]


def parse_cluster_url(url: str) -> ClusterURL | None:
    """Take a cluster URL apart; ``None`` when ``url`` is not one (``redis://`` and the rest)."""
    split = _split(url, _SCHEMES)
    if split is None:
        return None
    node_scheme, parts, credentials, seeds = split
    nodes = tuple(_node(seed, url) for seed in seeds)
    if unquote(parts.path).strip("/") not in ("", "0") or any(
        value != "0" for value in parse_qs(parts.query).get("db", [])
    ):
        raise ConfigurationError(f"a Redis Cluster has only database 0: {redacted(url)}")
    first = f"{credentials}{seeds[0]}"
    node_url = urlunsplit((node_scheme, first, parts.path, parts.query, parts.fragment))
    return ClusterURL(node_url, nodes)


@dataclass(frozen=True, slots=True)
class SentinelURL:
    """A Sentinel URL taken apart: the sentinels, the service, and the primary's settings."""

    #: Every sentinel as (host, port).
    sentinels: tuple[tuple[str, int], ...]
    #: The name the sentinels monitor the primary under (``sentinel monitor <name> ...``).
    service: str
    #: ``redis://`` / ``rediss://`` URL with the primary's credentials, database and options,
    #: and a placeholder host: redis-py's ``parse_url`` turns it into connection arguments.
    node_url: str
    #: The sentinels' own credentials (``sentinel_username``, ``sentinel_password``).
    sentinel_options: tuple[tuple[str, str], ...] = ()


def parse_sentinel_url(url: str) -> SentinelURL | None:
    """Take a Sentinel URL apart; ``None`` when ``url`` is not one."""
    split = _split(url, _SENTINEL_SCHEMES)
    if split is None:
        return None
    node_scheme, parts, credentials, hosts = split
    sentinels = tuple(_node(host, url, _DEFAULT_SENTINEL_PORT) for host in hosts)
    service, _, database = unquote(parts.path).strip("/").partition("/")
    if not service:
        raise ConfigurationError(
            f"a Sentinel URL names the service after the hosts, "
            f"redis+sentinel://host:26379/mymaster: {redacted(url)}"
        )
    if database and not database.isdigit():
        raise ConfigurationError(f"the database {database!r} is not a number in {redacted(url)}")
    query = parse_qs(parts.query, keep_blank_values=True)
    sentinel_options = tuple(
        (name, query.pop(name)[-1]) for name in _SENTINEL_OPTIONS if name in query
    )
    rest = urlencode([(name, value) for name, values in query.items() for value in values])
    node_url = urlunsplit(
        (node_scheme, f"{credentials}sentinel-primary", f"/{database or 0}", rest, "")
    )
    return SentinelURL(sentinels, service, node_url, sentinel_options)


def _split(url: str, schemes: dict[str, str]) -> tuple[str, SplitResult, str, list[str]] | None:
    """A multi-host URL of one of ``schemes`` taken apart: the scheme of one server's URL,
    the parts, the credentials with their ``@`` (or ""), and the hosts; else None."""
    scheme, separator, _ = url.partition("://")
    node_scheme = schemes.get(scheme.lower())
    if not separator or node_scheme is None:
        return None
    parts = urlsplit(url)
    credentials, at, hosts = parts.netloc.rpartition("@")
    return node_scheme, parts, f"{credentials}{at}", hosts.split(",")


def _node(text: str, url: str, default_port: int = _DEFAULT_PORT) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[ipv6]:port`` as (host, port)."""
    try:
        parts = urlsplit(f"//{text.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ConfigurationError(f"bad node {text!r} in {redacted(url)}: {exc}") from exc
    if not host:
        raise ConfigurationError(f"a node without a host in {redacted(url)}")
    return host, port or default_port


def redacted(url: str) -> str:
    """The URL without its password, for messages and output (they end up in logs)."""
    return _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))
