"""docs/cli.md tells the truth: its keygen examples print what it shows, its checks are doctor's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from idemsdk._cli._checks import evaluate
from idemsdk._cli._errors import FAILED, OK, USAGE

from .conftest import Cli
from .samples import facts

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


def test_the_exit_status_table_is_the_contract() -> None:
    rows = re.findall(r"^\| `(\d)` \|", GUIDE, re.MULTILINE)
    assert [int(row) for row in rows] == [OK, FAILED, USAGE]
