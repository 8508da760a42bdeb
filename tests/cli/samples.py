"""A healthy server's doctor facts, for tests to change one fact at a time."""

from __future__ import annotations

from typing import Any

from idemsdk._cli._checks import Facts, ScriptLoad

HEALTHY_INFO = {
    "redis_version": "7.2.4",
    "redis_mode": "standalone",
    "role": "master",
    "cluster_enabled": "0",
    "maxmemory": "0",
    "maxmemory_policy": "noeviction",
    "used_memory": "1000000",
    "aof_enabled": "1",
    "aof_last_write_status": "ok",
    "rdb_last_bgsave_status": "ok",
    "connected_slaves": "1",
    "slave0": "ip=10.0.0.2,port=6379,state=online,offset=10,lag=0",
}
SCRIPTS = [
    ScriptLoad("idemsdk.claim", "a" * 40, "a" * 40),
    ScriptLoad("idemsdk.renew", "b" * 40, "b" * 40),
]


def facts(info: dict[str, str] | None = None, drop: tuple[str, ...] = (), **changes: Any) -> Facts:
    """A healthy server's facts, with ``info`` fields changed and ``changes`` replaced."""
    merged = {**HEALTHY_INFO, **(info or {})}
    for name in drop:
        merged.pop(name)
    values: dict[str, Any] = {
        "info": merged,
        "ping_ms": [0.2, 0.1, 0.3],
        "scripts": SCRIPTS,
        "config": {"save": "3600 1", "appendfsync": "everysec"},
        "config_error": None,
        "cluster_info": {},
    }
    values.update(changes)
    return Facts(**values)
