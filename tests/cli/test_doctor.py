"""``idemsdk doctor`` against real servers: the shared one read-only, and private ones set up
with exactly the setting each test is about."""

from __future__ import annotations

import json
import socket
import time

import pytest
import redis

from idemsdk.testing import RedisServer, free_port

from .conftest import Cli, StartRedis, run_module, wait_for

pytestmark = pytest.mark.redis

CHECKS = ["version", "mode", "scripts", "round-trip", "eviction", "persistence", "replicas"]


def info(server: RedisServer, section: str) -> dict[str, object]:
    """One INFO section of a private server."""
    client = redis.Redis.from_url(server.url)
    try:
        return dict(client.info(section))
    finally:
        client.close()


def test_the_shared_server_gets_every_check_and_a_consistent_status(
    cli: Cli, redis_url: str
) -> None:
    outcome = cli("doctor", "--url", redis_url)
    levels = {check: outcome.level(check) for check in CHECKS}
    assert outcome.out.startswith(f"idemsdk doctor {redis_url}\n")
    assert outcome.status == (1 if "FAIL" in levels.values() else 0)
    as_json = json.loads(cli("doctor", "--url", redis_url, "--json").out)
    assert [finding["check"] for finding in as_json["findings"]] == CHECKS


def replica_online(primary: RedisServer) -> bool:
    """Whether the first replica of ``primary`` is in sync."""
    replica = info(primary, "replication").get("slave0")
    return isinstance(replica, dict) and replica.get("state") == "online"


@pytest.fixture
def well_set_up(start_redis: StartRedis) -> RedisServer:
    """A primary with AOF and noeviction, and one replica in sync."""
    primary = start_redis(
        "--appendonly",
        "yes",
        "--maxmemory-policy",
        "noeviction",
        "--repl-diskless-sync-delay",
        "0",  # the replica syncs at once rather than after 5 s
    )
    start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for(lambda: replica_online(primary), "the replica to come online")
    return primary


def test_a_well_set_up_server_passes_even_strict(cli: Cli, well_set_up: RedisServer) -> None:
    outcome = cli("doctor", "--url", well_set_up.url, "--strict")
    assert outcome.status == 0, outcome.out
    assert {outcome.level(check) for check in CHECKS} == {"OK"}
    assert "AOF on (appendfsync everysec)" in outcome.line("persistence")
    assert "1 connected, 1 online" in outcome.line("replicas")
    assert outcome.out.endswith("all OK: exit 0\n")


@pytest.mark.parametrize(
    "policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl"]
)
def test_an_evicting_policy_warns(cli: Cli, start_redis: StartRedis, policy: str) -> None:
    server = start_redis("--maxmemory-policy", policy)
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("eviction") == "WARN"
    assert f"maxmemory-policy {policy}" in outcome.line("eviction")
    assert outcome.status == 0  # warnings alone pass...
    assert cli("doctor", "--url", server.url, "--strict").status == 1  # ...unless strict


def test_noeviction_warns_when_memory_is_nearly_full(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis()
    client = redis.Redis.from_url(server.url)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", int(used * 1.04))  # our own server: its config is ours
    client.close()
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("eviction") == "WARN"
    assert "of maxmemory" in outcome.line("eviction")


def test_noeviction_with_room_is_ok(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--maxmemory", "100mb", "--maxmemory-policy", "noeviction")
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("eviction") == "OK"
    assert "noeviction, used_memory 1% of maxmemory" in outcome.line("eviction")


def test_no_aof_and_no_rdb_warns(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--appendonly", "no", "--save", "")
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("persistence") == "WARN"
    assert "AOF and RDB both off" in outcome.line("persistence")
    assert outcome.status == 0


def test_rdb_snapshots_alone_are_ok_with_a_caveat(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--save", "3600 1")
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("persistence") == "OK"
    assert "RDB only (save 3600 1)" in outcome.line("persistence")


def test_aof_without_fsync_warns(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--appendonly", "yes", "--appendfsync", "no")
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("persistence") == "WARN"
    assert "appendfsync no" in outcome.line("persistence")


def test_no_replica_warns(cli: Cli, start_redis: StartRedis) -> None:
    outcome = cli("doctor", "--url", start_redis().url)
    assert outcome.level("replicas") == "WARN"
    assert "no replica" in outcome.line("replicas")


def test_a_replica_fails_the_mode_check(cli: Cli, start_redis: StartRedis) -> None:
    primary = start_redis()
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    outcome = cli("doctor", "--url", replica.url)
    assert outcome.level("mode") == "FAIL"
    assert f"replica of 127.0.0.1:{primary.port}" in outcome.line("mode")
    assert outcome.status == 1


def test_disabled_config_is_unknown_not_a_crash(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--rename-command", "CONFIG", "")
    outcome = cli("doctor", "--url", server.url)
    assert outcome.level("persistence") == "UNKNOWN"
    assert "unknown command 'CONFIG'" in outcome.line("persistence")
    assert outcome.level("eviction") == "OK"  # read from INFO, which managed Redis keeps
    assert outcome.status == 0
    assert cli("doctor", "--url", server.url, "--strict").status == 1


def test_a_cluster_node_is_ok_once_the_cluster_serves_every_slot(
    cli: Cli, start_redis: StartRedis
) -> None:
    # The bus port defaults to port + 10000, past 65535 for high free ports: pick one.
    node = start_redis("--cluster-enabled", "yes", "--cluster-port", str(free_port()))
    outcome = cli("doctor", "--url", node.url)
    assert outcome.level("mode") == "FAIL"
    assert "cluster_state is fail" in outcome.line("mode")
    assert outcome.status == 1
    client = redis.Redis.from_url(node.url)
    client.cluster("ADDSLOTSRANGE", 0, 16383)
    wait_for(lambda: client.cluster("INFO")["cluster_state"] == "ok", "cluster_state ok")
    client.close()
    outcome = cli("doctor", "--url", node.url)
    assert outcome.level("mode") == "OK"
    assert outcome.line("mode").split(None, 2)[2].startswith("cluster (cluster_state ok)")


def test_json_output_carries_every_finding(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis("--maxmemory-policy", "allkeys-lru")
    outcome = cli("doctor", "--url", server.url, "--json", "--strict")
    document = json.loads(outcome.out)
    levels = {finding["check"]: finding["level"] for finding in document["findings"]}
    assert list(levels) == CHECKS
    assert levels["eviction"] == "WARN"
    assert document["exit"] == outcome.status == 1


def test_doctor_runs_as_a_real_process(start_redis: StartRedis) -> None:
    server = start_redis("--maxmemory-policy", "volatile-lru")
    outcome = run_module("doctor", "--url", server.url)
    assert outcome.status == 0
    assert outcome.level("scripts") == "OK"
    assert outcome.level("eviction") == "WARN"
    assert run_module("doctor", "--url", server.url, "--strict").status == 1


def test_an_unreachable_server_fails_fast(cli: Cli) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    began = time.monotonic()
    outcome = cli("doctor", "--url", url)
    assert outcome.status == 1
    assert outcome.err.startswith(f"idemsdk doctor: error: cannot reach {url}: ")
    assert "Connection refused" in outcome.err
    assert time.monotonic() - began < 3


def test_a_server_that_never_answers_times_out(cli: Cli) -> None:
    # Accepts connections (the kernel's backlog) and never replies: a hung server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        began = time.monotonic()
        outcome = cli("doctor", "--url", url, "--timeout", "0.3")
    assert outcome.status == 1
    assert "did not answer in time" in outcome.err
    assert time.monotonic() - began < 5


ACL_USERS = (
    # An operator without SCRIPT and CONFIG, as managed services hand out; one with PING only.
    *("--user", "ops", "on", ">s3cret", "~*", "&*", "+@all", "-config", "-script"),
    *("--user", "blind", "on", ">pw", "~*", "+ping", "+hello", "+client"),
)


def test_acl_denials_are_findings_or_one_line_errors(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis(*ACL_USERS)
    ops = f"redis://ops:s3cret@127.0.0.1:{server.port}/0"
    outcome = cli("doctor", "--url", ops)
    assert outcome.status == 1
    assert outcome.level("scripts") == "FAIL"  # the store loads scripts again after NOSCRIPT
    assert "no permissions to run the 'script|load' command" in outcome.line("scripts")
    assert outcome.level("persistence") == "UNKNOWN"
    assert "s3cret" not in outcome.out
    blind = cli("doctor", "--url", f"redis://blind:pw@127.0.0.1:{server.port}/0")
    assert blind.status == 1
    assert "refused a command: this user has no permissions to run the 'info'" in blind.err


def test_wrong_credentials_exit_1_without_echoing_them(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis(*ACL_USERS)
    outcome = cli("doctor", "--url", f"redis://ops:wrong@127.0.0.1:{server.port}/0")
    assert outcome.status == 1
    assert f"redis://ops:***@127.0.0.1:{server.port}/0 refused the credentials" in outcome.err
    assert "wrong" not in outcome.err
