"""Doctor's output, pure: findings as aligned text grouped by node, and as JSON."""

from __future__ import annotations

import json

from idemsdk._cli._checks import Finding, Level
from idemsdk._cli._report import report_json, report_text
from idemsdk._cli._topology import Diagnosis, Node, Section, slot_ranges

FINDINGS = [
    Finding("version", Level.OK, "Redis 7.2.4"),
    Finding("round-trip", Level.WARN, "slow"),
    Finding("mode", Level.FAIL, "replica"),
    Finding("eviction", Level.WARN, "allkeys-lru"),
]
ONE_SERVER = Diagnosis("standalone", [Section("", FINDINGS)])
CLUSTER = Diagnosis(
    "cluster",
    [
        Section("cluster: 1 primary, 1 replica", [Finding("state", Level.OK, "ok")]),
        Section(
            "primary 10.0.0.1:6379: slots 0-16383, 1 replica (10.0.0.2:6379)",
            [Finding("scripts", Level.OK, "4 load"), Finding("replicas", Level.OK, "1")],
            Node("10.0.0.1:6379", "primary", slots=((0, 16383),)),
        ),
        Section(
            "replica 10.0.0.2:6379 of 10.0.0.1:6379",
            [Finding("persistence", Level.WARN, "off")],
            Node("10.0.0.2:6379", "replica", primary="10.0.0.1:6379"),
        ),
    ],
)


def test_the_text_report_aligns_findings_and_counts_them() -> None:
    text = report_text("redis://h:6379/0", ONE_SERVER, 1)
    assert text.splitlines() == [
        "idemsdk doctor redis://h:6379/0",
        "  OK       version     Redis 7.2.4",
        "  WARN     round-trip  slow",
        "  FAIL     mode        replica",
        "  WARN     eviction    allkeys-lru",
        "1 failure, 2 warnings: exit 1",
    ]
    only = Diagnosis("standalone", [Section("", FINDINGS[:1])])
    assert report_text("u", only, 0).endswith("all OK: exit 0")


def test_the_text_report_puts_each_node_under_its_heading_aligned_throughout() -> None:
    text = report_text("redis+cluster://h:1/", CLUSTER, 0)
    assert text.splitlines() == [
        "idemsdk doctor redis+cluster://h:1/",
        "cluster: 1 primary, 1 replica",
        "  OK       state        ok",
        "primary 10.0.0.1:6379: slots 0-16383, 1 replica (10.0.0.2:6379)",
        "  OK       scripts      4 load",
        "  OK       replicas     1",
        "replica 10.0.0.2:6379 of 10.0.0.1:6379",
        "  WARN     persistence  off",
        "1 warning: exit 0",
    ]


def test_the_json_report_has_every_finding_and_the_exit_status() -> None:
    document = json.loads(report_json("redis://h:6379/0", ONE_SERVER, 1))
    assert document == {
        "url": "redis://h:6379/0",
        "mode": "standalone",
        "findings": [
            {"check": f.check, "level": f.level.value, "reason": f.reason, "node": None}
            for f in FINDINGS
        ],
        "nodes": [],
        "exit": 1,
    }


def test_the_json_report_names_the_node_of_each_finding_and_lists_the_nodes() -> None:
    document = json.loads(report_json("redis+cluster://h:1/", CLUSTER, 0))
    assert document["mode"] == "cluster"
    assert [(f["check"], f["node"]) for f in document["findings"]] == [
        ("state", None),
        ("scripts", "10.0.0.1:6379"),
        ("replicas", "10.0.0.1:6379"),
        ("persistence", "10.0.0.2:6379"),
    ]
    assert document["nodes"] == [
        {"address": "10.0.0.1:6379", "role": "primary", "primary": None, "slots": [[0, 16383]]},
        {"address": "10.0.0.2:6379", "role": "replica", "primary": "10.0.0.1:6379", "slots": []},
    ]


def test_slot_ranges_read_as_cluster_nodes_writes_them() -> None:
    assert slot_ranges([(0, 5460), (7000, 7000), (9000, 9001)]) == "0-5460,7000,9000-9001"
    assert slot_ranges([]) == "none"
