"""``python -m idemsdk`` / ``idemsdk``: the operator command line (commands in ``_cli``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._cli import COMMANDS, FAILED, USAGE, exit_status
from ._errors import IdempotencyError

__all__ = ["main"]

_DESCRIPTION = (
    "Operate idemsdk: check a Redis server (doctor), read a stored record (inspect), "
    "compute a key (keygen), or watch the four behaviours on a memory store (demo). "
    "Exit status: 0 done, 1 a problem was found, 2 a usage error."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idemsdk", description=_DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="show idempotent calls on the embedded memory store")
    for add_parser in COMMANDS:
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits itself: 0 after --help, 2 for bad usage
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.command == "demo":
        from ._demo import run

        return run()
    try:
        status: int = args.run(args)
        sys.stdout.flush()  # a reader gone (`| head`) shows here, not in a traceback at exit
    except BrokenPipeError:
        # Nothing more can be written; point stdout at /dev/null so the exit flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except IdempotencyError as exc:
        # Expected failures (bad input, unreachable server, unknown key) are one line on
        # stderr and an exit status, never a traceback.
        sys.stderr.write(f"idemsdk {args.command}: error: {exc}\n")
        return exit_status(exc)
    return status


if __name__ == "__main__":
    sys.exit(main())
