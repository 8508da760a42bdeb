"""``doctor``'s questions to one server: INFO, timed PINGs, SCRIPT LOAD, CONFIG GET, CLUSTER INFO.

The answers become :class:`~._checks.Facts`, which ``_checks`` judges without I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import redis
from redis.exceptions import ResponseError

from .. import _lua
from ._checks import Facts, ScriptLoad
from ._connect import connect, talking_to

__all__ = ["SCRIPTS", "fields", "gather", "gather_from", "text"]

#: Every script the stores run, found rather than listed, so a new one is checked too.
SCRIPTS = tuple(
    script for name in _lua.__all__ if isinstance(script := getattr(_lua, name), _lua.Script)
)
PINGS = 5
#: CONFIG parameters INFO does not report: the RDB schedule and the AOF fsync policy.
CONFIG = ("save", "appendfsync")


def gather(client: redis.Redis, *, scripts: bool = True) -> Facts:
    """Everything the checks read; redis-py errors other than refused commands propagate.

    ``scripts=False`` skips SCRIPT LOAD, for replicas: they run no script until promoted,
    and a promoted replica loads them on its first ``NOSCRIPT``.
    """
    info = _flat(client.info())  # first: it also opens the connection PING times would pay
    ping_ms = [_timed_ping(client) for _ in range(PINGS)]
    if info.get("redis_mode") == "sentinel":
        return Facts(info, ping_ms)
    loads = [_load(client, script) for script in SCRIPTS] if scripts else []
    config, config_error = _config(client)
    cluster: dict[str, str] = {}
    if info.get("redis_mode") == "cluster" or info.get("cluster_enabled") == "1":
        cluster = fields(client.cluster("INFO"))
    return Facts(info, ping_ms, loads, config, config_error, cluster)


def gather_from(url: str, timeout: float, *, scripts: bool = True) -> Facts:
    """:func:`gather` on the server at ``url``; its redis-py errors become ours (StoreError)."""
    client = connect(url, timeout)
    try:
        with talking_to(url):
            return gather(client, scripts=scripts)
    finally:
        client.close()


def fields(reply: object) -> dict[str, str]:
    """A ``name:value`` per line reply (CLUSTER INFO) as a dict, parsed by redis-py or not."""
    # redis-py parses such replies for some client classes and versions, not others.
    if isinstance(reply, dict):
        return {text(name): text(value) for name, value in reply.items()}
    pairs = (line.partition(":") for line in text(reply).splitlines() if ":" in line)
    return {name.strip(): value.strip() for name, _, value in pairs}


def text(value: object) -> str:
    """A reply as text: bytes decoded, anything else as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _timed_ping(client: redis.Redis) -> float:
    began = time.perf_counter()
    client.ping()
    return (time.perf_counter() - began) * 1000


def _load(client: redis.Redis, script: _lua.Script) -> ScriptLoad:
    try:
        sha = client.script_load(script.source)
    except ResponseError as exc:  # scripting disabled, ACLs, a compile error
        return ScriptLoad(script.name, script.sha, error=str(exc))
    return ScriptLoad(script.name, script.sha, loaded_sha=text(sha))


def _config(client: redis.Redis) -> tuple[dict[str, str], str | None]:
    # Managed services often disable or rename CONFIG: that is a finding, not a crash.
    values: dict[str, str] = {}
    for name in CONFIG:
        try:
            reply = client.config_get(name)
        except ResponseError as exc:
            return {}, str(exc)
        values.update({text(key): text(value) for key, value in reply.items()})
    return values, None


def _flat(info: Mapping[str, object]) -> dict[str, str]:
    """INFO as text fields; redis-py's nested dicts (``slave0``) back in INFO's own form."""
    flat: dict[str, str] = {}
    for name, value in info.items():
        if isinstance(value, dict):
            flat[name] = ",".join(f"{key}={item}" for key, item in value.items())
        else:
            flat[name] = text(value)
    return flat
