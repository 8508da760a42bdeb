"""docs/cli.md tells the truth: its keygen examples print what it shows, its checks are doctor's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from idemsdk._cli._checks import evaluate, evaluate_replica
from idemsdk._cli._cluster_checks import evaluate_cluster
from idemsdk._cli._errors import FAILED, OK, USAGE
from idemsdk._cli._sentinel_checks import evaluate_sentinel

from .conftest import Cli
from .samples import facts
from .test_cluster_checks import cluster
from .test_sentinel_checks import setup

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
# "$ echo 'payload' | idemsdk keygen ..." and the line after it.
KEYGEN = re.findall(r"^\$ echo '([^']*)' \| idemsdk keygen (.*)\n(.*)$", GUIDE, re.MULTILINE)


def test_the_guide_has_its_keygen_examples() -> None:
    assert len(KEYGEN) == 4


@pytest.mark.parametrize(("payload", "options", "printed"), KEYGEN)
def test_each_keygen_example_prints_what_the_guide_shows(
    cli: Cli, payload: str, options: str, printed: str
) -> None:
    outcome = cli("keygen", *shlex.split(options), stdin=payload.encode() + b"\n")
    shown = outcome.out if outcome.status == OK else outcome.err
    assert shown == printed + "\n"


def test_the_checks_table_lists_every_check_in_order() -> None:
    table = GUIDE.split("### The checks", 1)[1].split("Why these levels", 1)[0]
    documented = re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE)
    assert documented == [finding.check for finding in evaluate(facts())]


def test_the_sample_outputs_list_every_check_in_order() -> None:
    checks = [finding.check for finding in evaluate(facts())]
    samples = re.findall(r"^idemsdk doctor .*\n((?:  .*\n)+)", GUIDE, re.MULTILINE)
    assert len(samples) == 2
    for sample in samples:
        assert [line.split()[1] for line in sample.splitlines()] == checks


PRIMARY = [finding.check for finding in evaluate(facts())]
REPLICA = [finding.check for finding in evaluate_replica(facts())]
CLUSTER = [finding.check for finding in evaluate_cluster(cluster()).sections[0].findings]
SENTINELS = [finding.check for finding in evaluate_sentinel(setup()).sections[0].findings]


def sections(kind: str) -> list[list[tuple[str, list[str]]]]:
    """Each sample doctor output for a ``kind`` URL, as (heading, checks) per section."""
    found: list[list[tuple[str, list[str]]]] = []
    lines = iter(GUIDE.splitlines())
    for line in lines:
        if not line.startswith(f"idemsdk doctor {kind}://"):
            continue
        sample: list[tuple[str, list[str]]] = []
        for row in lines:
            if re.search(r": exit \d$", row):
                break
            if row.startswith("  "):
                sample[-1][1].append(row.split()[1])
            else:
                sample.append((row, []))
        found.append(sample)
    return found


def test_the_cluster_sample_shows_every_check_of_every_node() -> None:
    [sample] = sections("redis+cluster")
    assert sample[0] == (sample[0][0], CLUSTER)
    assert sample[0][0].startswith("cluster: ")
    for heading, checks in sample[1:]:
        if heading.startswith("primary "):
            assert checks == PRIMARY, heading
        else:
            assert heading.startswith("replica ")
            assert checks in (REPLICA, ["connect"]), heading


def test_the_sentinel_samples_show_the_sentinels_then_the_servers() -> None:
    healthy, unknown = sections("redis+sentinel")
    assert [checks for _, checks in healthy] == [SENTINELS, PRIMARY, REPLICA]
    assert [checks for _, checks in unknown] == [["sentinels", "primary"]]


def test_the_cluster_and_sentinel_tables_list_their_checks() -> None:
    cluster_table = GUIDE.split("### A Redis Cluster", 1)[1].split("### A Sentinel setup", 1)[0]
    rows = re.findall(r"^\| cluster \| `([a-z-]+)` \|", cluster_table, re.MULTILINE)
    assert rows == CLUSTER
    sentinel_table = GUIDE.split("### A Sentinel setup", 1)[1].split("## `idemsdk inspect`")[0]
    rows = re.findall(r"^\| `([a-z-]+)` \|", sentinel_table, re.MULTILINE)
    assert rows == SENTINELS


def test_the_exit_status_table_is_the_contract() -> None:
    rows = re.findall(r"^\| `(\d)` \|", GUIDE, re.MULTILINE)
    assert [int(row) for row in rows] == [OK, FAILED, USAGE]
