"""Doctor's judgement of a Redis Cluster, pure: CLUSTER NODES and INFO replies to findings."""

from __future__ import annotations

from typing import Any

import pytest

from idemsdk._cli._checks import Level
from idemsdk._cli._cluster_checks import ClusterFacts, evaluate_cluster, parse_nodes
from idemsdk._cli._topology import Diagnosis, Node

from .samples import facts

A, B, C, R = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)
# CLUSTER NODES as Redis 7 writes it: the asked node is "myself", B announces a hostname,
# slot 10000 is moving from B to C, and one node was forgotten (no address) after failing.
NODES = f"""\
{A} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
{B} 127.0.0.1:30002@40002,node-b master - 0 1700000000000 2 connected 5461-9999 10001-10922 \
[10000->-{C}]
{C} 127.0.0.1:30003@40003 master - 0 1700000000000 3 connected 10000 10923-16383 \
[10000-<-{B}]
{R} 127.0.0.1:30004@40004 slave {A} 0 1700000000000 1 connected
{"e" * 40} :0@0 master,fail,noaddr - 0 0 0 disconnected
"""
HEALTHY_INFO = {
    "cluster_state": "ok",
    "cluster_slots_assigned": "16384",
    "cluster_slots_ok": "16384",
    "cluster_slots_pfail": "0",
    "cluster_slots_fail": "0",
    "cluster_known_nodes": "5",
}
ADDRESSES = [f"127.0.0.1:{port}" for port in (30001, 30002, 30003, 30004)]


def cluster(info: dict[str, str] | None = None, **changes: Any) -> ClusterFacts:
    """A cluster whose every reachable node answered as a healthy server."""
    values: dict[str, Any] = {
        "seed": "127.0.0.1:30001",
        "info": {**HEALTHY_INFO, **(info or {})},
        "nodes": parse_nodes(NODES),
        "facts": {address: facts() for address in ADDRESSES},
    }
    values.update(changes)
    return ClusterFacts(**values)


def level(diagnosis: Diagnosis, heading: str, check: str) -> tuple[Level, str]:
    """The level and reason of ``check`` in the section whose heading starts so."""
    [section] = [s for s in diagnosis.sections if s.heading.startswith(heading)]
    [finding] = [f for f in section.findings if f.check == check]
    return finding.level, finding.reason


def test_cluster_nodes_lines_are_parsed_whatever_their_extras() -> None:
    nodes = parse_nodes(NODES)
    assert [node.address for node in nodes] == [*ADDRESSES, "eeeeeeee... (no address)"]
    first, second, third, replica, lost = nodes
    assert first.flags == {"master"}  # "myself" says who answered, not what it is
    assert first.myself
    assert not second.myself
    assert first.slots == ((0, 5460),)
    assert second.address == "127.0.0.1:30002"  # the hostname after the comma is dropped
    assert second.slots == ((5461, 9999), (10001, 10922))
    assert second.migrating == ((10000, C),)
    assert third.slots == ((10000, 10000), (10923, 16383))
    assert third.importing == ((10000, B),)
    assert (replica.is_primary, replica.primary_id) == (False, A)
    assert not lost.askable


def test_each_primary_comes_with_its_replicas_then_the_nodes_serving_nothing() -> None:
    diagnosis = evaluate_cluster(cluster())
    assert diagnosis.mode == "cluster"
    assert [section.heading for section in diagnosis.sections] == [
        "cluster: 4 primaries, 1 replica; slot map from 127.0.0.1:30001",
        "primary 127.0.0.1:30001: slots 0-5460, 1 replica (127.0.0.1:30004)",
        "replica 127.0.0.1:30004 of 127.0.0.1:30001",
        "primary 127.0.0.1:30002: slots 5461-9999,10001-10922, 0 replicas",
        "primary 127.0.0.1:30003: slots 10000,10923-16383, 0 replicas",
        "primary eeeeeeee... (no address), marked failed: no slots (serves no key)",
    ]
    assert diagnosis.nodes[:2] == [
        Node("127.0.0.1:30001", "primary", slots=((0, 5460),)),
        Node("127.0.0.1:30004", "replica", primary="127.0.0.1:30001"),
    ]


def test_primaries_get_every_check_and_replicas_those_they_keep() -> None:
    diagnosis = evaluate_cluster(cluster())
    checks = {
        section.heading.split()[1]: [f.check for f in section.findings]
        for section in diagnosis.sections
    }
    assert checks["127.0.0.1:30001:"] == [
        "version",
        "mode",
        "scripts",
        "round-trip",
        "eviction",
        "persistence",
        "replicas",
    ]
    assert checks["127.0.0.1:30004"] == ["version", "eviction", "persistence"]


def test_a_healthy_slot_map_is_ok_apart_from_the_moving_slot() -> None:
    diagnosis = evaluate_cluster(cluster())
    assert level(diagnosis, "cluster", "state") == (Level.OK, "cluster_state ok, 5 nodes known")
    assert level(diagnosis, "cluster", "seeds")[0] is Level.OK
    found, reason = level(diagnosis, "cluster", "slots")
    assert found is Level.WARN
    # Named once, though both ends list it.
    assert reason.startswith("1 slot moving (slot 10000 from 127.0.0.1:30002 to 127.0.0.1:30003)")


STILL = NODES.replace(f" [10000->-{C}]", "").replace(f" [10000-<-{B}]", "")


def test_a_still_slot_map_is_ok() -> None:
    diagnosis = evaluate_cluster(cluster(nodes=parse_nodes(STILL)))
    assert level(diagnosis, "cluster", "slots") == (
        Level.OK,
        "all 16384 slots served by 3 primaries",
    )


def test_a_slot_moving_between_other_nodes_is_found_in_their_own_lines() -> None:
    # Only a node lists the slots it moves: the node asked for the map may know nothing.
    [own] = [node for node in parse_nodes(NODES) if node.address == "127.0.0.1:30002"]
    diagnosis = evaluate_cluster(cluster(nodes=parse_nodes(STILL), own={"127.0.0.1:30002": own}))
    found, reason = level(diagnosis, "cluster", "slots")
    assert found is Level.WARN
    assert "slot 10000 from 127.0.0.1:30002 to 127.0.0.1:30003" in reason


@pytest.mark.parametrize(
    ("info", "expected", "words"),
    [
        ({"cluster_slots_assigned": "16000"}, Level.FAIL, "384 of 16384 slots have no primary"),
        ({"cluster_slots_fail": "5461"}, Level.FAIL, "5461 slots are served by a primary the"),
        ({"cluster_slots_pfail": "5461"}, Level.WARN, "some nodes cannot reach (pfail)"),
        ({"cluster_slots_assigned": "x"}, Level.UNKNOWN, "no cluster_slots_assigned"),
    ],
)
def test_slots_without_a_working_primary_fail(
    info: dict[str, str], expected: Level, words: str
) -> None:
    found, reason = level(evaluate_cluster(cluster(info)), "cluster", "slots")
    assert found is expected
    assert words in reason


def test_a_cluster_state_other_than_ok_fails() -> None:
    found, reason = level(evaluate_cluster(cluster({"cluster_state": "fail"})), "cluster", "state")
    assert found is Level.FAIL
    assert "CLUSTERDOWN" in reason


def test_a_node_that_cannot_be_asked_fails_as_a_primary_and_warns_as_a_replica() -> None:
    down = {"127.0.0.1:30002": "cannot reach redis://127.0.0.1:30002/: refused"}
    reachable = {a: facts() for a in ADDRESSES if a not in down and a != "127.0.0.1:30004"}
    lost_replica = {"127.0.0.1:30004": "redis://127.0.0.1:30004/ did not answer in time"}
    diagnosis = evaluate_cluster(cluster(facts=reachable, errors={**down, **lost_replica}))
    assert level(diagnosis, "primary 127.0.0.1:30002", "connect") == (
        Level.FAIL,
        "cannot reach redis://127.0.0.1:30002/: refused",
    )
    assert level(diagnosis, "replica 127.0.0.1:30004", "connect")[0] is Level.WARN
    found, reason = level(diagnosis, "primary eeeeeeee", "connect")
    assert found is Level.WARN
    assert reason == "the node has no address yet (fail,master,noaddr)"


def test_seeds_that_did_not_answer_warn() -> None:
    silent = {"127.0.0.1:1": "cannot reach redis://127.0.0.1:1/: refused"}
    found, reason = level(evaluate_cluster(cluster(silent_seeds=silent)), "cluster", "seeds")
    assert found is Level.WARN
    assert reason == (
        "1 seed of the URL did not answer (cannot reach redis://127.0.0.1:1/: refused); "
        "127.0.0.1:30001 did"
    )
