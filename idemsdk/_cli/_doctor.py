"""``idemsdk doctor``: ask a Redis server what idemsdk needs to know, then judge (``_checks``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping

import redis
from redis.exceptions import ResponseError

from .. import _lua
from ._checks import Facts, ScriptLoad, evaluate, verdict
from ._connect import connect, talking_to
from ._options import add_json_option, add_server_options
from ._report import report_json, report_text
from ._urls import redacted

__all__ = ["add_parser", "gather", "run"]

#: Every script the stores run, found rather than listed, so a new one is checked too.
SCRIPTS = tuple(
    script for name in _lua.__all__ if isinstance(script := getattr(_lua, name), _lua.Script)
)
PINGS = 5
#: CONFIG parameters INFO does not report: the RDB schedule and the AOF fsync policy.
CONFIG = ("save", "appendfsync")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``doctor``."""
    parser = commands.add_parser(
        "doctor",
        help="check that a Redis server is fit for idemsdk",
        description="Check a Redis server for idemsdk: version, mode, scripts, round trip, "
        "eviction, persistence, replicas. Exit 0 without failures, 1 with any "
        "(with --strict, warnings too), 2 for usage errors.",
    )
    add_server_options(parser)
    parser.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the findings; return the exit status."""
    client = connect(args.url, args.timeout)
    try:
        with talking_to(args.url):
            facts = gather(client)
    finally:
        client.close()
    findings = evaluate(facts)
    status = verdict(findings, strict=args.strict)
    report = report_json if args.json else report_text
    sys.stdout.write(report(redacted(args.url), findings, status) + "\n")
    return status


def gather(client: redis.Redis) -> Facts:
    """Everything the checks read; redis-py errors other than refused commands propagate."""
    info = _flat(client.info())  # first: it also opens the connection PING times would pay
    ping_ms = [_timed_ping(client) for _ in range(PINGS)]
    if info.get("redis_mode") == "sentinel":
        return Facts(info, ping_ms)
    scripts = [_load(client, script) for script in SCRIPTS]
    config, config_error = _config(client)
    cluster: dict[str, str] = {}
    if info.get("redis_mode") == "cluster" or info.get("cluster_enabled") == "1":
        reply = client.cluster("INFO")
        # redis-py parses this reply for some client classes and versions, not others.
        cluster = (
            {_text(k): _text(v) for k, v in reply.items()}
            if isinstance(reply, dict)
            else _lines(_text(reply))
        )
    return Facts(info, ping_ms, scripts, config, config_error, cluster)


def _timed_ping(client: redis.Redis) -> float:
    began = time.perf_counter()
    client.ping()
    return (time.perf_counter() - began) * 1000


def _load(client: redis.Redis, script: _lua.Script) -> ScriptLoad:
    try:
        sha = client.script_load(script.source)
    except ResponseError as exc:  # scripting disabled, ACLs, a compile error
        return ScriptLoad(script.name, script.sha, error=str(exc))
    return ScriptLoad(script.name, script.sha, loaded_sha=_text(sha))


def _config(client: redis.Redis) -> tuple[dict[str, str], str | None]:
    # Managed services often disable or rename CONFIG: that is a finding, not a crash.
    values: dict[str, str] = {}
    for name in CONFIG:
        try:
            reply = client.config_get(name)
        except ResponseError as exc:
            return {}, str(exc)
        values.update({_text(key): _text(value) for key, value in reply.items()})
    return values, None


def _flat(info: Mapping[str, object]) -> dict[str, str]:
    """INFO as text fields; redis-py's nested dicts (``slave0``) back in INFO's own form."""
    flat: dict[str, str] = {}
    for name, value in info.items():
        if isinstance(value, dict):
            flat[name] = ",".join(f"{key}={item}" for key, item in value.items())
        else:
            flat[name] = _text(value)
    return flat


def _lines(text: str) -> dict[str, str]:
    pairs = (line.partition(":") for line in text.splitlines() if ":" in line)
    return {name.strip(): value.strip() for name, _, value in pairs}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
