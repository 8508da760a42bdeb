"""``idemsdk keygen``: the key ``make_key`` gives a JSON payload read from standard input."""

from __future__ import annotations

import argparse
import sys

from ._errors import OK
from ._options import add_key_options, key_from

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keygen``."""
    parser = commands.add_parser(
        "keygen",
        help="print the key of a JSON payload read from standard input",
        description="Print prefix:tenant:scope:digest for the JSON payload on standard input, "
        "as make_key computes it. Exit 2 for invalid JSON, a payload with no canonical form, "
        "or a bad tenant, scope, prefix or secret.",
    )
    add_key_options(parser, required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the key; return the exit status."""
    sys.stdout.write(key_from(args, sys.stdin.buffer.read(), "standard input") + "\n")
    return OK
