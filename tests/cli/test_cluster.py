"""``doctor`` and ``inspect`` on ``redis+cluster://`` URLs, against real clusters.

Tests that only read use the session's cluster (3 primaries, 3 replicas). Those that change
a cluster (delete a slot, pause a node, move a slot) share one of this module's own,
3 primaries without replicas, and put it back as they found it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from redis.crc import key_slot

from idemsdk import Idempotency, RedisStore
from idemsdk._cli._cluster_checks import ClusterNode, parse_nodes
from idemsdk._cli._connect import command
from idemsdk._cli._gather import text
from idemsdk.testing import RedisClusterServer, free_port

from ..cluster.topology import primary_of
from ..conftest import cluster_client, cluster_of
from .conftest import Cli, StartRedis, run_module, wait_for
from .test_inspect import charge_function, fields

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

PRIMARY_CHECKS = ["version", "mode", "scripts", "round-trip", "eviction", "persistence", "replicas"]
REPLICA_CHECKS = ["version", "eviction", "persistence"]


@pytest.fixture(scope="module")
def bare_cluster() -> Iterator[RedisClusterServer]:
    """3 primaries without replicas, for this module's tests that change a cluster."""
    with cluster_of(primaries=3, replicas=0) as cluster:
        yield cluster


def addresses(url: str) -> list[str]:
    """The seeds of a ``redis+cluster://host:port,.../`` URL."""
    return url.removeprefix("redis+cluster://").rstrip("/").split(",")


def slot_map(port: int) -> list[ClusterNode]:
    """CLUSTER NODES of the node on ``port``."""
    client = redis.Redis(port=port)
    try:
        return parse_nodes(text(command(client, "CLUSTER", "NODES")))
    finally:
        client.close()


def settled(url: str, primaries: int, replicas: int) -> bool:
    """Every node sees the cluster's whole shape and calls it ok.

    Gossip lags behind the cluster's creation, and behind a test that put a slot back: a
    node still saying ``cluster_state:fail`` refuses a MIGRATE into it.
    """
    for seed in addresses(url):
        port = int(seed.rpartition(":")[2])
        nodes = slot_map(port)
        serving = sum(node.is_primary and bool(node.slots) for node in nodes)
        if (serving, sum(not node.is_primary for node in nodes)) != (primaries, replicas):
            return False
        client = redis.Redis(port=port)
        try:
            if client.cluster("INFO")["cluster_state"] != "ok":
                return False
        finally:
            client.close()
    return True


def test_doctor_checks_every_primary_and_replica_of_the_cluster(
    cli: Cli, redis_cluster_url: str
) -> None:
    wait_for(lambda: settled(redis_cluster_url, 3, 3), "every node to see 3 + 3 nodes")
    outcome = cli("doctor", "--url", redis_cluster_url)
    headings = outcome.headings()
    assert (
        headings[0]
        == f"cluster: 3 primaries, 3 replicas; slot map from {addresses(redis_cluster_url)[0]}"
    )
    primaries = [h for h in headings if h.startswith("primary ")]
    replicas = [h for h in headings if h.startswith("replica ")]
    assert len(primaries) == len(replicas) == 3
    for heading in primaries:
        assert ", 1 replica (127.0.0.1:" in heading
        section = outcome.section(heading)
        assert [line.split()[1] for line in section.out.splitlines()] == PRIMARY_CHECKS
        assert section.level("mode") == "OK"
        assert section.level("scripts") == "OK"
        assert section.level("replicas") == "OK"
    for heading in replicas:
        checks = [line.split()[1] for line in outcome.section(heading).out.splitlines()]
        assert checks == REPLICA_CHECKS
    cluster = outcome.section("cluster:")
    assert cluster.level("state") == "OK"
    assert cluster.line("slots").endswith("all 16384 slots served by 3 primaries")
    levels = [line.split()[0] for line in outcome.out.splitlines() if line.startswith("  ")]
    assert outcome.status == (1 if "FAIL" in levels else 0)


def test_doctor_json_names_the_node_of_each_finding(redis_cluster_url: str) -> None:
    wait_for(lambda: settled(redis_cluster_url, 3, 3), "every node to see 3 + 3 nodes")
    outcome = run_module("doctor", "--url", redis_cluster_url, "--json")
    document = json.loads(outcome.out)
    assert document["mode"] == "cluster"
    assert document["exit"] == outcome.status
    nodes = document["nodes"]
    primaries = {node["address"] for node in nodes if node["role"] == "primary"}
    assert len(primaries) == 3
    assert sum(last - first + 1 for node in nodes for first, last in node["slots"]) == 16384
    assert {node["primary"] for node in nodes if node["role"] == "replica"} == primaries
    by_node: dict[str | None, list[str]] = {}
    for finding in document["findings"]:
        by_node.setdefault(finding["node"], []).append(finding["check"])
    assert by_node.pop(None) == ["seeds", "state", "slots"]
    assert set(by_node) == {node["address"] for node in nodes}
    assert all(by_node[address] == PRIMARY_CHECKS for address in primaries)


def test_a_seed_that_does_not_answer_is_passed_over_with_a_warning(
    cli: Cli, redis_cluster_url: str
) -> None:
    silent = f"127.0.0.1:{free_port()}"
    url = f"redis+cluster://{silent},{','.join(addresses(redis_cluster_url))}/"
    outcome = cli("doctor", "--url", url)
    seeds = outcome.section("cluster:").line("seeds")
    assert seeds.split()[0] == "WARN"
    assert f"cannot reach redis://{silent}/: " in seeds
    assert seeds.endswith(f"; {addresses(redis_cluster_url)[0]} did")


def test_when_no_seed_answers_doctor_and_inspect_exit_1_naming_each(cli: Cli) -> None:
    seeds = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    url = f"redis+cluster://{','.join(seeds)}/"
    began = time.monotonic()
    for argv in (["doctor", "--url", url], ["inspect", "--url", url, "some:key"]):
        outcome = cli(*argv)
        assert outcome.status == 1
        assert outcome.out == ""
        assert outcome.err.startswith(f"idemsdk {argv[0]}: error: no seed of {url} answered: ")
        assert all(f"cannot reach redis://{seed}/: " in outcome.err for seed in seeds)
    assert time.monotonic() - began < 3


def test_a_seed_that_is_not_a_cluster_node_exits_1(cli: Cli, start_redis: StartRedis) -> None:
    server = start_redis()
    outcome = cli("doctor", "--url", f"redis+cluster://127.0.0.1:{server.port}/")
    assert outcome.status == 1
    assert f"redis://127.0.0.1:{server.port}/ is not a cluster node" in outcome.err
    assert "use its redis://host:port URL" in outcome.err


def test_inspect_reads_each_key_from_the_node_that_serves_its_slot(
    cli: Cli, redis_cluster_url: str, prefix: str
) -> None:
    charge = charge_function(redis_cluster_url, prefix)
    cluster = cluster_client(redis_cluster_url)
    orders: dict[str, str] = {}  # primary -> an order whose key it serves
    try:
        for n in range(200):
            orders.setdefault(primary_of(cluster, charge.key_for(f"o-{n}", 100)), f"o-{n}")
    finally:
        cluster.close()
    assert len(orders) == 3
    for order in orders.values():  # the first seed serves one; MOVED leads to the others
        charge(order, 100)
        key = charge.key_for(order, 100)
        outcome = cli("inspect", "--url", redis_cluster_url, key)
        assert outcome.status == 0, outcome.err
        assert fields(outcome)["key"] == key
        assert fields(outcome)["status"] == "completed"
    document = json.loads(cli("inspect", "--url", redis_cluster_url, key, "--json").out)
    assert document["result"]["charge"] == f"ch_{order}"
    missing = cli("inspect", "--url", redis_cluster_url, f"{prefix}:shop:nothing:here")
    assert missing.status == 1
    assert missing.err.startswith(f"idemsdk inspect: error: no key '{prefix}:shop:nothing:here'")


def test_primaries_without_a_replica_each_warn(cli: Cli, bare_cluster: RedisClusterServer) -> None:
    wait_for(lambda: settled(bare_cluster.url, 3, 0), "every node to see 3 primaries")
    outcome = cli("doctor", "--url", bare_cluster.url)
    primaries = [h for h in outcome.headings() if h.startswith("primary ")]
    assert len(primaries) == 3
    for heading in primaries:
        assert heading.endswith(", 0 replicas")
        replicas = outcome.section(heading).line("replicas")
        assert replicas.split()[0] == "WARN"
        assert "no replica: losing this server loses every record" in replicas
    assert outcome.status == 0
    assert cli("doctor", "--url", bare_cluster.url, "--strict").status == 1


def owner_of(cluster: RedisClusterServer, slot: int) -> ClusterNode:
    """The primary serving ``slot``, as the first node sees it."""
    nodes = slot_map(cluster.servers[0].port)
    return next(node for node in nodes if any(first <= slot <= last for first, last in node.slots))


def on_every_node(cluster: RedisClusterServer, *args: str | int) -> None:
    """Run a CLUSTER command on every node."""
    for server in cluster.servers:
        client = redis.Redis(port=server.port)
        try:
            client.execute_command("CLUSTER", *args)  # type: ignore[no-untyped-call]
        finally:
            client.close()


def test_a_slot_without_a_primary_fails_the_cluster(
    cli: Cli, bare_cluster: RedisClusterServer
) -> None:
    slot = key_slot(b"x")
    owner = owner_of(bare_cluster, slot)
    on_every_node(bare_cluster, "DELSLOTS", slot)
    first = redis.Redis(port=bare_cluster.servers[0].port)
    try:
        wait_for(lambda: first.cluster("INFO")["cluster_state"] == "fail", "cluster_state fail")
        outcome = cli("doctor", "--url", bare_cluster.url)
        cluster = outcome.section("cluster:")
        assert cluster.level("state") == "FAIL"
        assert "cluster_state is fail" in cluster.line("state")
        assert cluster.level("slots") == "FAIL"
        assert "1 of 16384 slots have no primary" in cluster.line("slots")
        assert outcome.status == 1
        inspect = cli("inspect", "--url", bare_cluster.url, "x")
        assert inspect.status == 1
        assert "CLUSTERDOWN" in inspect.err or "not served" in inspect.err
    finally:
        owner_client = redis.Redis(host=owner.host, port=owner.port)
        owner_client.execute_command("CLUSTER", "ADDSLOTS", slot)  # type: ignore[no-untyped-call]
        owner_client.close()
        wait_for(lambda: first.cluster("INFO")["cluster_state"] == "ok", "cluster_state ok")
        first.close()


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """Our own redis-server stopped (SIGSTOP): it accepts connections, answers nothing."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_primary_that_does_not_answer_fails_by_name(
    cli: Cli, bare_cluster: RedisClusterServer
) -> None:
    wait_for(lambda: settled(bare_cluster.url, 3, 0), "every node to see 3 primaries")
    silent = bare_cluster.servers[1]
    address = f"127.0.0.1:{silent.port}"
    key = next(f"k{n}" for n in range(10_000) if owner_of_key(bare_cluster, f"k{n}") == address)
    with paused(silent.process.pid):
        outcome = cli("doctor", "--url", bare_cluster.url, "--timeout", "0.5")
        inspect = cli("inspect", "--url", bare_cluster.url, key, "--timeout", "0.5")
    connect = outcome.section(f"primary {address}:").line("connect")
    assert connect.split()[0] == "FAIL"
    assert f"redis://{address}/ did not answer in time" in connect
    assert outcome.status == 1
    assert inspect.status == 1
    assert f"redis://{address}/ did not answer in time" in inspect.err


def owner_of_key(cluster: RedisClusterServer, key: str) -> str:
    """The address of the primary serving ``key``."""
    return owner_of(cluster, key_slot(key.encode())).address


def test_inspect_follows_ask_while_the_slot_moves_and_moved_once_it_has(
    cli: Cli, bare_cluster: RedisClusterServer
) -> None:
    wait_for(lambda: settled(bare_cluster.url, 3, 0), "every node to see 3 primaries")
    idem = Idempotency(
        RedisStore.from_url(bare_cluster.url), tenant="shop", prefix="ask", telemetry=False
    )

    @idem.idempotent(scope="billing.charge")
    def charge(order_id: str) -> str:
        return f"ch_{order_id}"

    charge("o-1")
    key = charge.key_for("o-1")
    slot = key_slot(key.encode())
    source = owner_of(bare_cluster, slot)
    target = next(n for n in slot_map(source.port) if n.is_primary and n.id != source.id)
    source_client = redis.Redis(host=source.host, port=source.port)
    target_client = redis.Redis(host=target.host, port=target.port)
    try:
        # As redis-cli --cluster reshard does it, stopped halfway: the key has moved.
        target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)  # type: ignore[no-untyped-call]
        source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)  # type: ignore[no-untyped-call]
        source_client.execute_command("MIGRATE", target.host, target.port, key, 0, 5000)  # type: ignore[no-untyped-call]
        moving = cli("inspect", "--url", bare_cluster.url, key)
        assert moving.status == 0, moving.err
        assert fields(moving)["status"] == "completed"
        doctor = cli("doctor", "--url", bare_cluster.url)
        slots = doctor.section("cluster:").line("slots")
        assert slots.split()[0] == "WARN"
        assert f"1 slot moving (slot {slot} from {source.address} to {target.address})" in slots
    finally:
        on_every_node(bare_cluster, "SETSLOT", slot, "NODE", target.id)
        source_client.close()
        target_client.close()
    wait_for(lambda: owner_of_key(bare_cluster, key) == target.address, "the move to end")
    moved = cli("inspect", "--url", bare_cluster.url, key)
    assert moved.status == 0, moved.err
    assert fields(moved)["status"] == "completed"
