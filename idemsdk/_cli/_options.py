"""Options shared by the commands: the server to talk to, and how to compute a key."""

from __future__ import annotations

import argparse
import binascii
import os
from collections.abc import Mapping

from .._keys import SECRET_SIZE, make_key
from ._connect import DEFAULT_TIMEOUT
from ._errors import UsageError
from ._payload import parse_payload

__all__ = ["add_json_option", "add_key_options", "add_server_options", "key_from"]


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--url`` (required) and ``--timeout``."""
    parser.add_argument(
        "--url",
        required=True,
        help="one server (redis://host:port/db, rediss://..., unix:///path/to/socket), a "
        "cluster (redis+cluster://host:port,host:port/) or a Sentinel setup "
        "(redis+sentinel://host:26379,host:26379/service[/db])",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"connect and reply timeout (default {DEFAULT_TIMEOUT:g})",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: machine-readable output."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_key_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The parts of a key besides the payload: tenant, scope, prefix, secret."""
    parser.add_argument("--tenant", required=required, help="the Idempotency tenant")
    parser.add_argument(
        "--scope", required=required, help="the function's scope (default: module.qualname)"
    )
    parser.add_argument("--prefix", default="idem", help="the key prefix (default: idem)")
    parser.add_argument(
        "--secret-env",
        metavar="NAME",
        help="environment variable holding the 32-byte secret as 64 hex digits, "
        "for instances created with secret=",
    )


def key_from(args: argparse.Namespace, data: bytes, source: str) -> str:
    """The key ``make_key`` gives the JSON payload ``data`` (read from ``source``)."""
    secret = _secret(os.environ, args.secret_env) if args.secret_env else None
    payload = parse_payload(data, source)
    return make_key(
        payload, tenant=args.tenant, scope=args.scope, prefix=args.prefix, secret=secret
    )


def _secret(environ: Mapping[str, str], name: str) -> bytes:
    # From the environment, never the command line: arguments show in ps and shell history.
    text = environ.get(name)
    if text is None:
        raise UsageError(f"--secret-env: the environment variable {name} is not set")
    try:
        secret = bytes.fromhex(text.strip())
    except (ValueError, binascii.Error) as exc:
        raise UsageError(f"--secret-env: {name} is not hexadecimal ({exc})") from exc
    if len(secret) != SECRET_SIZE:
        raise UsageError(
            f"--secret-env: {name} holds {len(secret)} bytes; the secret is {SECRET_SIZE} "
            f"({SECRET_SIZE * 2} hex digits)"
        )
    return secret
