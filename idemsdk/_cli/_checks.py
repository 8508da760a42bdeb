"""``doctor``'s judgement: from what a server said (:class:`Facts`) to findings, no I/O.

Each check asks one question an operator must answer before trusting idemsdk with money:
can the scripts run, can a record vanish before its TTL (eviction, restart, lost server),
and how much each call waits for the network.
"""

from __future__ import annotations

import enum
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ._errors import FAILED, OK

__all__ = ["Facts", "Finding", "Level", "ScriptLoad", "evaluate", "evaluate_replica", "verdict"]

#: The oldest Redis idemsdk supports (docs/stores.md); older than 5.0 cannot run the scripts.
SUPPORTED = (6, 2)
#: The scripts call TIME before writing, which needs effects replication: Redis 5's default.
REQUIRED = (5, 0)
#: A first call waits two round trips (claim, complete), a duplicate one: above this, the
#: network is most of the cost of every call.
SLOW_ROUND_TRIP_MS = 50.0
#: With noeviction, a server this full refuses writes soon: every claim then fails.
NEARLY_FULL = 0.9
_VERSION = re.compile(r"(\d+)\.(\d+)")


class Level(str, enum.Enum):
    """How a finding weighs; UNKNOWN (the server would not say) counts as a warning."""

    OK = "OK"
    WARN = "WARN"
    UNKNOWN = "UNKNOWN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome and its reason, one line."""

    check: str
    level: Level
    reason: str


@dataclass(frozen=True, slots=True)
class ScriptLoad:
    """SCRIPT LOAD of one of idemsdk's scripts: the SHA1 the server answered, or its error."""

    name: str
    expected_sha: str
    loaded_sha: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the server said: INFO, PING times, SCRIPT LOAD, CONFIG GET, CLUSTER INFO."""

    #: INFO fields as text; nested ones (``slave0``) in INFO's own ``k=v,k=v`` form.
    info: Mapping[str, str]
    ping_ms: Sequence[float] = ()
    scripts: Sequence[ScriptLoad] = ()
    #: CONFIG GET replies by parameter; empty when CONFIG failed (``config_error`` says why).
    config: Mapping[str, str] = field(default_factory=dict)
    config_error: str | None = None
    cluster_info: Mapping[str, str] = field(default_factory=dict)


def evaluate(facts: Facts) -> list[Finding]:
    """Every finding for a server, in the order they are shown."""
    if facts.info.get("redis_mode") == "sentinel":
        # A Sentinel holds no data: the data checks would describe the wrong process.
        return [_version(facts), _mode(facts), _round_trip(facts)]
    checks: tuple[Callable[[Facts], Finding], ...] = (
        _version,
        _mode,
        _scripts,
        _round_trip,
        _eviction,
        _persistence,
        _replicas,
    )
    return [check(facts) for check in checks]


def evaluate_replica(facts: Facts) -> list[Finding]:
    """The findings that matter on a replica: promoted, it holds its primary's records.

    Its scripts, mode and replicas are judged on its primary; how it would keep the records
    once promoted (eviction, persistence) and whether it can run the scripts are its own.
    """
    return [_version(facts), _eviction(facts), _persistence(facts)]


def verdict(findings: Sequence[Finding], *, strict: bool = False) -> int:
    """The exit status: 1 for any FAIL, or with ``strict`` any WARN or UNKNOWN; else 0."""
    failing = {Level.FAIL, Level.WARN, Level.UNKNOWN} if strict else {Level.FAIL}
    return FAILED if any(finding.level in failing for finding in findings) else OK


def _version(facts: Facts) -> Finding:
    text = facts.info.get("redis_version")
    version = _version_tuple(text)
    if text is None or version is None:
        return Finding("version", Level.UNKNOWN, f"INFO reports no usable redis_version ({text})")
    if version < REQUIRED:
        return Finding(
            "version",
            Level.FAIL,
            f"Redis {text}: idemsdk's scripts call TIME before writing, which needs "
            "Redis 5.0 or newer (effects replication)",
        )
    if version < SUPPORTED:
        return Finding(
            "version", Level.WARN, f"Redis {text} is older than 6.2, the oldest version tested"
        )
    return Finding("version", Level.OK, f"Redis {text}")


def _version_tuple(text: str | None) -> tuple[int, int] | None:
    """(major, minor) of ``7.0.15`` or ``7.4-rc1``."""
    found = _VERSION.match(text or "")
    return None if found is None else (int(found[1]), int(found[2]))


def _mode(facts: Facts) -> Finding:
    info = facts.info
    mode = info.get("redis_mode", "standalone")
    if mode == "sentinel":
        return Finding(
            "mode",
            Level.FAIL,
            "this is a Sentinel, which stores no data: point --url at the master it monitors "
            "(SENTINEL GET-MASTER-ADDR-BY-NAME); other checks skipped",
        )
    if info.get("role") == "slave":
        master = f"{info.get('master_host', '?')}:{info.get('master_port', '?')}"
        return Finding(
            "mode",
            Level.FAIL,
            f"{mode} replica of {master}: idemsdk writes every call, point --url at the master",
        )
    if mode == "cluster" or info.get("cluster_enabled") == "1":
        state = facts.cluster_info.get("cluster_state", "unknown")
        if state != "ok":
            return Finding(
                "mode",
                Level.FAIL,
                f"cluster, but cluster_state is {state}: keys in unserved slots fail "
                "with CLUSTERDOWN",
            )
        return Finding(
            "mode",
            Level.OK,
            "cluster (cluster_state ok): connect with redis+cluster:// (a RedisCluster); "
            "every script touches one key",
        )
    return Finding("mode", Level.OK, f"{mode} master")


def _scripts(facts: Facts) -> Finding:
    if not facts.scripts:
        return Finding("scripts", Level.UNKNOWN, "no script was loaded")
    for script in facts.scripts:
        if script.error is not None:
            return Finding(
                "scripts", Level.FAIL, f"SCRIPT LOAD {script.name} failed: {script.error}"
            )
        if script.loaded_sha != script.expected_sha:
            return Finding(
                "scripts",
                Level.FAIL,
                f"{script.name} loaded as {script.loaded_sha}, expected {script.expected_sha}: "
                "EVALSHA would not find it",
            )
    names = ", ".join(script.name.rpartition(".")[2] for script in facts.scripts)
    return Finding(
        "scripts", Level.OK, f"{len(facts.scripts)} load with the expected SHA1 ({names})"
    )


def _round_trip(facts: Facts) -> Finding:
    if not facts.ping_ms:
        return Finding("round-trip", Level.UNKNOWN, "no PING was timed")
    median = statistics.median(facts.ping_ms)
    reason = f"{median:.2f} ms (median of {len(facts.ping_ms)} PINGs)"
    if median > SLOW_ROUND_TRIP_MS:
        return Finding(
            "round-trip",
            Level.WARN,
            f"{reason}: a first call waits two round trips, a duplicate one",
        )
    return Finding("round-trip", Level.OK, reason)


def _eviction(facts: Facts) -> Finding:
    info = facts.info
    # INFO has the policy even where CONFIG is disabled (managed Redis).
    policy = info.get("maxmemory_policy") or facts.config.get("maxmemory-policy")
    maxmemory = _int(info.get("maxmemory"))
    if policy is None or maxmemory is None:
        return Finding("eviction", Level.UNKNOWN, "INFO reports no maxmemory or maxmemory_policy")
    limit = "no maxmemory yet, but setting one turns eviction on" if maxmemory == 0 else ""
    if policy.startswith("allkeys-"):
        return Finding(
            "eviction",
            Level.WARN,
            _join(
                f"maxmemory-policy {policy} can evict records before their TTL, and a "
                "duplicate then runs again; use noeviction",
                limit,
            ),
        )
    if policy.startswith("volatile-"):
        # volatile-* evicts only keys with a TTL, and every idemsdk record has one: for
        # records it is as dangerous as allkeys-*, whatever else the server holds.
        return Finding(
            "eviction",
            Level.WARN,
            _join(
                f"maxmemory-policy {policy} evicts keys with a TTL, and every record has "
                "one: a duplicate then runs again; use noeviction",
                limit,
            ),
        )
    if policy != "noeviction":
        return Finding("eviction", Level.UNKNOWN, f"unknown maxmemory-policy {policy}")
    if maxmemory == 0:
        return Finding("eviction", Level.OK, "noeviction, no maxmemory: records are never evicted")
    used = _int(info.get("used_memory")) or 0
    share = used / maxmemory
    if share >= NEARLY_FULL:
        return Finding(
            "eviction",
            Level.WARN,
            f"noeviction, but used_memory is {share:.0%} of maxmemory: when full, writes "
            "fail with OOM and every idempotent call fails (closed)",
        )
    return Finding(
        "eviction",
        Level.OK,
        f"noeviction, used_memory {share:.0%} of maxmemory: records are never evicted",
    )


def _persistence(facts: Facts) -> Finding:
    info = facts.info
    aof = info.get("aof_enabled")
    if aof is None:
        return Finding("persistence", Level.UNKNOWN, "INFO reports no aof_enabled")
    if aof == "1":
        fsync = facts.config.get("appendfsync")
        if info.get("aof_last_write_status", "ok") != "ok":
            return Finding(
                "persistence",
                Level.WARN,
                "AOF on, but its last write failed (aof_last_write_status): check the disk",
            )
        if fsync == "no":
            return Finding(
                "persistence",
                Level.WARN,
                "AOF on with appendfsync no: the OS decides when records reach the disk; "
                "use everysec",
            )
        return Finding("persistence", Level.OK, f"AOF on (appendfsync {fsync or 'unknown'})")
    save = facts.config.get("save")
    if save is None:
        return Finding(
            "persistence",
            Level.UNKNOWN,
            f"AOF off, and the RDB schedule is unreadable (CONFIG GET save: "
            f"{facts.config_error or 'no reply'}); check the provider's persistence settings",
        )
    if not save.strip():
        return Finding(
            "persistence",
            Level.WARN,
            "AOF and RDB both off: a restart forgets every record and duplicates run again; "
            "financial use wants appendonly yes",
        )
    if info.get("rdb_last_bgsave_status", "ok") != "ok":
        return Finding(
            "persistence",
            Level.WARN,
            f"RDB only (save {save}), and the last snapshot failed (rdb_last_bgsave_status)",
        )
    return Finding(
        "persistence",
        Level.OK,
        f"RDB only (save {save}): a crash loses records since the last snapshot; "
        "appendonly yes narrows that to a second",
    )


def _replicas(facts: Facts) -> Finding:
    info = facts.info
    count = _int(info.get("connected_slaves"))
    if count is None:
        return Finding("replicas", Level.UNKNOWN, "INFO reports no connected_slaves")
    if count == 0:
        return Finding(
            "replicas",
            Level.WARN,
            "no replica: losing this server loses every record; financial use wants one",
        )
    states = [_fields(info.get(f"slave{n}", "")).get("state", "?") for n in range(count)]
    online = states.count("online")
    if online == 0:
        return Finding(
            "replicas",
            Level.WARN,
            f"{count} connected, none in sync yet (state {', '.join(sorted(set(states)))})",
        )
    return Finding(
        "replicas",
        Level.OK,
        f"{count} connected, {online} online (asynchronous: a failover can lose the last writes)",
    )


def _fields(text: str) -> dict[str, str]:
    """INFO's nested ``k=v,k=v`` form as a dict."""
    pairs = (item.partition("=") for item in text.split(",") if item)
    return {name: value for name, _, value in pairs}


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _join(reason: str, note: str) -> str:
    return f"{reason} ({note})" if note else reason
