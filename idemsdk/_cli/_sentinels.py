"""Questions to the sentinels of a ``redis+sentinel://`` URL: for ``doctor``, everything they
say of the service, then the facts of the servers they name; for ``inspect``, the primary."""

from __future__ import annotations

from collections.abc import Mapping

import redis
from redis.exceptions import ResponseError

from .._errors import StoreError, StoreUnavailable
from .._redis_url import SentinelURL
from ._checks import Facts
from ._connect import command, connect_sentinel, talking_to, unreachable, why
from ._gather import gather_from, text
from ._sentinel_checks import SentinelFacts, SentinelReply, known, listed
from ._urls import address, redacted, with_address

__all__ = ["gather_sentinel", "primary_of"]

_NO_SUCH_SERVICE = "No such master with that name"


def gather_sentinel(url: str, sentinel: SentinelURL, timeout: float) -> SentinelFacts:
    """Every sentinel's view of the service, and the facts of the primary and replicas.

    StoreUnavailable when no sentinel answers. A server that cannot be asked is an entry in
    ``errors``, which ``_sentinel_checks`` judges.
    """
    replies: list[SentinelReply] = []
    silent: dict[str, str] = {}
    for host, port in sentinel.sentinels:
        try:
            replies.append(_ask(sentinel, host, port, timeout))
        except StoreUnavailable as exc:  # noqa: PERF203 - each try is a network round trip
            silent[address(host, port)] = why(exc)
    if not replies:
        raise unreachable(f"sentinel of {redacted(url)}", silent)
    facts: dict[str, Facts] = {}
    errors: dict[str, str] = {}
    view = known(replies)
    if view is not None and view.primary is not None:
        servers = [(listed(view.primary), True), *((listed(r), False) for r in view.replicas)]
        for (host, port), primary in servers:
            node_url = with_address(sentinel.node_url, host, port)
            try:
                facts[address(host, port)] = gather_from(node_url, timeout, scripts=primary)
            except StoreError as exc:  # StoreUnavailable too: a finding about that server
                errors[address(host, port)] = str(exc)
    return SentinelFacts(sentinel.service, replies, silent, facts, errors)


def primary_of(url: str, sentinel: SentinelURL, timeout: float) -> str:
    """The URL of the primary the first sentinel that knows the service names.

    StoreUnavailable when no sentinel answers; StoreError when none knows the service.
    """
    silent: dict[str, str] = {}
    for host, port in sentinel.sentinels:
        client = connect_sentinel(sentinel, host, port, timeout)
        try:
            with talking_to(f"sentinel {address(host, port)}"):
                named = command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel.service)
        except StoreUnavailable as exc:
            silent[address(host, port)] = why(exc)
            continue
        finally:
            client.close()
        parts = _items(named)  # none from a sentinel that does not know the service
        if len(parts) == 2:
            return with_address(sentinel.node_url, text(parts[0]), int(text(parts[1])))
    if len(silent) == len(sentinel.sentinels):
        raise unreachable(f"sentinel of {redacted(url)}", silent)
    raise StoreError(
        f"no sentinel of {redacted(url)} knows the service {sentinel.service!r}: check the "
        "name after the hosts (idemsdk doctor lists the services they watch)"
    )


def _ask(sentinel: SentinelURL, host: str, port: int, timeout: float) -> SentinelReply:
    shown = address(host, port)
    service = sentinel.service
    client = connect_sentinel(sentinel, host, port, timeout)
    try:
        with talking_to(f"sentinel {shown}"):
            try:
                primary = _fields(command(client, "SENTINEL", "MASTER", service))
            except ResponseError as exc:
                if _NO_SUCH_SERVICE not in str(exc):
                    raise
                watched = command(client, "SENTINEL", "MASTERS")
                names = [_fields(fields).get("name", "?") for fields in _items(watched)]
                return SentinelReply(shown, None, services=names)
            replicas = command(client, "SENTINEL", "REPLICAS", service)
            others = command(client, "SENTINEL", "SENTINELS", service)
            quorum, quorum_ok = _ckquorum(client, service)
    finally:
        client.close()
    return SentinelReply(
        shown,
        primary,
        [_fields(fields) for fields in _items(replicas)],
        [_fields(fields) for fields in _items(others)],
        quorum,
        quorum_ok,
    )


def _ckquorum(client: redis.Redis, service: str) -> tuple[str, bool]:
    try:
        return text(command(client, "SENTINEL", "CKQUORUM", service)), True
    except ResponseError as exc:  # NOQUORUM: the answer, not a failure to ask
        return str(exc), False


def _fields(reply: object) -> dict[str, str]:
    """A sentinel's description of a server: redis-py's dict, or RESP2's flat name/value list."""
    if isinstance(reply, Mapping):
        return {text(name): text(value) for name, value in reply.items()}
    items = _items(reply)
    return {text(name): text(value) for name, value in zip(items[::2], items[1::2], strict=False)}


def _items(reply: object) -> list[object]:
    """A list reply's items; none for nil or anything else."""
    return list(reply) if isinstance(reply, (list, tuple)) else []
