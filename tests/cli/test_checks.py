"""Doctor's judgement, pure: each INFO / CONFIG / SCRIPT LOAD fact to its finding and level."""

from __future__ import annotations

import pytest

from idemsdk._cli._checks import (
    Facts,
    Finding,
    Level,
    ScriptLoad,
    evaluate,
    evaluate_replica,
    verdict,
)

from .samples import facts


def finding(check: str, server: Facts) -> Finding:
    """The one finding of ``check`` for ``server``."""
    found = [f for f in evaluate(server) if f.check == check]
    assert len(found) == 1
    return found[0]


def test_a_healthy_server_is_all_ok_even_when_strict() -> None:
    findings = evaluate(facts())
    assert [f.check for f in findings] == [
        "version",
        "mode",
        "scripts",
        "round-trip",
        "eviction",
        "persistence",
        "replicas",
    ]
    assert {f.level for f in findings} == {Level.OK}, findings
    assert verdict(findings) == 0
    assert verdict(findings, strict=True) == 0


@pytest.mark.parametrize(
    ("version", "level"),
    [
        ("4.0.14", Level.FAIL),
        ("5.0.7", Level.WARN),
        ("6.0.9", Level.WARN),
        ("6.2.0", Level.OK),
        ("7.0.15", Level.OK),
        ("7.4-rc1", Level.OK),
        ("unstable", Level.UNKNOWN),
    ],
)
def test_versions_before_6_2_warn_and_before_5_fail(version: str, level: Level) -> None:
    assert finding("version", facts({"redis_version": version})).level is level


def test_a_replica_is_judged_on_what_it_keeps_once_promoted() -> None:
    # A replica's role, scripts and replicas are its primary's business; these are its own.
    replica = facts(
        {"role": "slave", "connected_slaves": "0", "maxmemory_policy": "allkeys-lru"},
        scripts=[],
    )
    findings = evaluate_replica(replica)
    assert [(f.check, f.level) for f in findings] == [
        ("version", Level.OK),
        ("eviction", Level.WARN),
        ("persistence", Level.OK),
    ]


def test_a_sentinel_fails_and_skips_the_data_checks() -> None:
    findings = evaluate(facts({"redis_mode": "sentinel"}))
    assert [f.check for f in findings] == ["version", "mode", "round-trip"]
    assert findings[1].level is Level.FAIL
    assert "Sentinel" in findings[1].reason
    assert verdict(findings) == 1


def test_a_replica_fails_because_idemsdk_writes() -> None:
    replica = facts({"role": "slave", "master_host": "10.0.0.1", "master_port": "6379"})
    found = finding("mode", replica)
    assert found.level is Level.FAIL
    assert "replica of 10.0.0.1:6379" in found.reason


def test_a_cluster_is_ok_only_when_its_state_is_ok() -> None:
    cluster = {"redis_mode": "cluster", "cluster_enabled": "1"}
    down = finding("mode", facts(cluster, cluster_info={"cluster_state": "fail"}))
    assert down.level is Level.FAIL
    assert "cluster_state is fail" in down.reason
    up = finding("mode", facts(cluster, cluster_info={"cluster_state": "ok"}))
    assert up.level is Level.OK
    assert up.reason.startswith("cluster")


def test_a_script_the_server_refuses_fails() -> None:
    refused = [ScriptLoad("idemsdk.claim", "a" * 40, error="ERR unknown command 'SCRIPT'")]
    found = finding("scripts", facts(scripts=refused))
    assert found.level is Level.FAIL
    assert "idemsdk.claim" in found.reason
    assert "unknown command" in found.reason


def test_a_script_loaded_under_another_sha_fails() -> None:
    wrong = [ScriptLoad("idemsdk.claim", "a" * 40, "c" * 40)]
    found = finding("scripts", facts(scripts=wrong))
    assert found.level is Level.FAIL
    assert "c" * 40 in found.reason


def test_the_round_trip_is_the_median_and_warns_when_slow() -> None:
    fast = finding("round-trip", facts(ping_ms=[0.5, 9.0, 0.25]))
    assert fast.level is Level.OK
    assert fast.reason.startswith("0.50 ms (median of 3 PINGs)")
    assert finding("round-trip", facts(ping_ms=[60.0, 70.0, 80.0])).level is Level.WARN
    assert finding("round-trip", facts(ping_ms=[])).level is Level.UNKNOWN


@pytest.mark.parametrize(
    "policy",
    [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ],
)
def test_every_evicting_policy_warns_because_records_carry_a_ttl(policy: str) -> None:
    found = finding("eviction", facts({"maxmemory_policy": policy, "maxmemory": "1000000000"}))
    assert found.level is Level.WARN
    assert policy in found.reason
    assert "noeviction" in found.reason


def test_an_evicting_policy_without_maxmemory_still_warns_and_says_so() -> None:
    found = finding("eviction", facts({"maxmemory_policy": "allkeys-lru", "maxmemory": "0"}))
    assert found.level is Level.WARN
    assert "no maxmemory yet" in found.reason


@pytest.mark.parametrize(
    ("used", "level"),
    [("950", Level.WARN), ("900", Level.WARN), ("1200", Level.WARN), ("500", Level.OK)],
)
def test_noeviction_warns_when_nearly_full(used: str, level: Level) -> None:
    server = facts({"maxmemory": "1000", "used_memory": used})
    assert finding("eviction", server).level is level


def test_the_policy_comes_from_config_when_info_lacks_it() -> None:
    server = facts(drop=("maxmemory_policy",), config={"maxmemory-policy": "volatile-lru"})
    assert finding("eviction", server).level is Level.WARN
    assert finding("eviction", facts({"maxmemory_policy": "odd"})).level is Level.UNKNOWN


def test_persistence_levels() -> None:
    off = {"aof_enabled": "0"}
    assert finding("persistence", facts()).reason == "AOF on (appendfsync everysec)"
    fsync_no = facts(config={"save": "", "appendfsync": "no"})
    assert finding("persistence", fsync_no).level is Level.WARN
    broken_aof = facts({"aof_last_write_status": "err"})
    assert finding("persistence", broken_aof).level is Level.WARN
    rdb_only = finding("persistence", facts(off))
    assert rdb_only.level is Level.OK
    assert "RDB only (save 3600 1)" in rdb_only.reason
    broken_rdb = facts({**off, "rdb_last_bgsave_status": "err"})
    assert finding("persistence", broken_rdb).level is Level.WARN
    nothing = finding("persistence", facts(off, config={"save": "", "appendfsync": "everysec"}))
    assert nothing.level is Level.WARN
    assert "AOF and RDB both off" in nothing.reason


def test_persistence_is_unknown_when_config_is_disabled() -> None:
    error = "unknown command 'CONFIG', with args beginning with: 'GET' 'save'"
    server = facts({"aof_enabled": "0"}, config={}, config_error=error)
    found = finding("persistence", server)
    assert found.level is Level.UNKNOWN
    assert error in found.reason
    # AOF on is known from INFO alone.
    assert finding("persistence", facts(config={}, config_error=error)).level is Level.OK


def test_replicas() -> None:
    none = finding("replicas", facts({"connected_slaves": "0"}))
    assert none.level is Level.WARN
    assert "no replica" in none.reason
    syncing = facts({"slave0": "ip=10.0.0.2,port=6379,state=wait_bgsave,offset=0,lag=0"})
    assert finding("replicas", syncing).level is Level.WARN
    assert finding("replicas", facts()).reason.startswith("1 connected, 1 online")
    assert finding("replicas", facts(drop=("connected_slaves",))).level is Level.UNKNOWN


def test_verdict_fails_on_fail_and_with_strict_on_warn_or_unknown() -> None:
    ok = Finding("a", Level.OK, "")
    for level in (Level.WARN, Level.UNKNOWN):
        mixed = [ok, Finding("b", level, "")]
        assert verdict(mixed) == 0
        assert verdict(mixed, strict=True) == 1
    assert verdict([ok, Finding("c", Level.FAIL, "")]) == 1
