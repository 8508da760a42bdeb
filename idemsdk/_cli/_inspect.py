"""``idemsdk inspect``: read one key in a transaction and show it as a record (``_view``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import redis

from ._connect import connect, talking_to
from ._errors import FAILED, OK, UsageError
from ._options import add_json_option, add_key_options, add_server_options, key_from
from ._render import render_json, render_text
from ._view import Snapshot, read_record

__all__ = ["add_parser", "fetch", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``inspect``."""
    parser = commands.add_parser(
        "inspect",
        help="show the record stored under a key",
        description="Show an idemsdk record: status, TTL, owner token, lease, fingerprint, "
        "codec, sizes and the result or cached error. Name the key, or give --tenant, "
        "--scope and --payload-json to compute it. Exit 0 for a readable record, 1 for an "
        "unknown key or a value that is not a readable record, 2 for usage errors.",
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
    client = connect(args.url, args.timeout)
    try:
        with talking_to(args.url):
            snapshot = fetch(client, key)
    finally:
        client.close()
    view = read_record(snapshot)
    sys.stdout.write((render_json(view) if args.json else render_text(view)) + "\n")
    if view.problem is not None:
        sys.stderr.write(f"idemsdk inspect: error: {view.problem}\n")
        return FAILED
    return OK


def fetch(client: redis.Redis, key: str) -> Snapshot:
    """TYPE, PTTL, HGETALL and TIME of ``key`` in one MULTI: one consistent moment."""
    pipe = client.pipeline(transaction=True)
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
