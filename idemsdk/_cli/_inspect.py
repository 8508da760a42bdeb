"""``idemsdk inspect``: read one key in a transaction and show it as a record (``_view``).

The key is read where it lives: on the server a ``redis://`` URL names, on the cluster node
serving its slot (``redis+cluster://``: MOVED and ASK are followed), or on the primary the
sentinels name (``redis+sentinel://``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import redis
from redis.exceptions import AskError, MovedError

from .._errors import StoreError
from .._redis_url import ClusterURL
from ._connect import check_timeout, connect, first_answer, talking_to
from ._errors import FAILED, OK, UsageError
from ._options import add_json_option, add_key_options, add_server_options, key_from
from ._render import render_json, render_text
from ._sentinels import primary_of
from ._urls import check_url, cluster_url, redacted, sentinel_url, with_address
from ._view import Snapshot, read_record

__all__ = ["add_parser", "fetch", "read", "run"]

#: Redirections followed before giving up: one is the norm, two a slot that moved meanwhile.
MAX_REDIRECTIONS = 5


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``inspect``."""
    parser = commands.add_parser(
        "inspect",
        help="show the record stored under a key",
        description="Show an idemsdk record: status, TTL, owner token, lease, fingerprint, "
        "codec, sizes and the result or cached error, read from the server that holds it "
        "(in a cluster, the node serving its slot; with Sentinel, the primary). Name the key, "
        "or give --tenant, --scope and --payload-json to compute it. Exit 0 for a readable "
        "record, 1 for an unknown key or a value that is not a readable record, 2 for usage "
        "errors.",
    )
    add_server_options(parser)
    parser.add_argument("key", nargs="?", metavar="KEY", help="the full key, prefix:tenant:...")
    add_key_options(parser, required=False)
    parser.add_argument(
        "--payload-json",
        metavar="FILE",
        help="file holding the payload as JSON ('-': standard input), to compute the key",
    )
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the record; return the exit status."""
    key = _key(args)
    view = read_record(read(args.url, key, args.timeout))
    sys.stdout.write((render_json(view) if args.json else render_text(view)) + "\n")
    if view.problem is not None:
        sys.stderr.write(f"idemsdk inspect: error: {view.problem}\n")
        return FAILED
    return OK


def read(url: str, key: str, timeout: float) -> Snapshot:
    """The snapshot of ``key`` from the server that holds it, by the kind of ``url``."""
    check_timeout(timeout)
    check_url(url)
    cluster = cluster_url(url)
    if cluster is not None:
        return _from_cluster(url, cluster, key, timeout)
    sentinel = sentinel_url(url)
    if sentinel is not None:
        return _from_server(primary_of(url, sentinel, timeout), key, timeout)
    return _from_server(url, key, timeout)


def fetch(client: redis.Redis, key: str, *, asking: bool = False) -> Snapshot:
    """TYPE, PTTL, HGETALL and TIME of ``key`` in one MULTI: one consistent moment.

    ``asking`` sends ASKING first, for a cluster node that answered ASK: it holds until
    EXEC, so the node serves the key of the slot it is importing to the whole transaction.
    """
    pipe = client.pipeline(transaction=True)
    if asking:
        pipe.immediate_execute_command("ASKING")  # type: ignore[no-untyped-call]
    pipe.type(key)
    pipe.pttl(key)
    pipe.hgetall(key)
    pipe.time()
    # HGETALL of a key that is not a hash fails inside the transaction; TYPE says why.
    kind, pttl, fields, now = pipe.execute(raise_on_error=False)
    for reply in (kind, pttl, now):
        if isinstance(reply, Exception):  # refused for another reason (ACLs): not a record
            raise reply
    seconds, micros = now
    return Snapshot(
        key=key,
        kind=kind.decode() if isinstance(kind, bytes) else str(kind),
        pttl_ms=int(pttl),
        fields=fields if isinstance(fields, dict) else {},
        now_ms=int(seconds) * 1000 + int(micros) // 1000,
    )


def _from_server(url: str, key: str, timeout: float, *, asking: bool = False) -> Snapshot:
    client = connect(url, timeout)
    try:
        with talking_to(url):
            return fetch(client, key, asking=asking)
    finally:
        client.close()


def _from_cluster(url: str, cluster: ClusterURL, key: str, timeout: float) -> Snapshot:
    """Ask the first seed that answers, and follow its MOVED or ASK to the key's node."""

    def ping(host: str, port: int) -> str:
        node_url = with_address(cluster.node_url, host, port)
        client = connect(node_url, timeout)
        try:
            with talking_to(node_url):
                client.ping()
        finally:
            client.close()
        return node_url

    _, node_url, _ = first_answer(cluster.nodes, ping, f"seed of {redacted(url)}")
    asking = False
    for _ in range(MAX_REDIRECTIONS):
        try:
            return _from_server(node_url, key, timeout, asking=asking)
        except StoreError as exc:
            # talking_to reports MOVED and ASK as a StoreError; redis-py's error, its cause,
            # names the node to ask instead.
            redirect = exc.__cause__
            if not isinstance(redirect, AskError):
                raise
        node_url = with_address(cluster.node_url, redirect.host, int(redirect.port))
        # ASK: the slot is moving, and the key already is on the importing node.
        asking = not isinstance(redirect, MovedError)
    raise StoreError(
        f"{key!r}: still redirected after {MAX_REDIRECTIONS} tries: the cluster's slots "
        "are moving; rerun in a moment"
    )


def _key(args: argparse.Namespace) -> str:
    computed = (args.tenant, args.scope, args.payload_json)
    if args.key is not None:
        if any(part is not None for part in computed):
            raise UsageError("give either KEY or --tenant, --scope and --payload-json, not both")
        return str(args.key)
    if any(part is None for part in computed):
        raise UsageError("give KEY, or --tenant, --scope and --payload-json to compute it")
    return key_from(args, _read(args.payload_json), args.payload_json)


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --payload-json {name}: {exc.strerror}") from exc
