"""Smoke test of ``benchmarks/serialization.py``: its rows, ratios and files, not its timings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from benchmarks import serialization as bench

#: One call per batch: these tests check the bookkeeping, which any timing satisfies.
TINY_BUDGET_S = 1e-6


@pytest.fixture(scope="module")
def measured() -> bench.Measured:
    """Every format timed on the small record, three rounds of single calls."""
    return bench.measure({"small": bench.Fields(bench.small_result())}, 3, TINY_BUDGET_S)


def _expected_formats() -> list[str]:
    has_msgpack = importlib.util.find_spec("msgpack") is not None
    return [name for name in bench.ORDER if name != "msgpack" or has_msgpack]


def test_every_format_gets_a_row_with_ratios_against_orjson(measured: bench.Measured) -> None:
    """One row per format (msgpack only when installed), orjson's own ratios exactly 1."""
    rows = bench.rows(measured)
    assert [row.fmt for row in rows] == _expected_formats()
    orjson_row = rows[0]
    assert orjson_row.fmt == bench.BASELINE
    ratios = (orjson_row.encode_ratio, orjson_row.decode_ratio, orjson_row.total_ratio)
    assert (orjson_row.size_ratio, *ratios) == (1.0, 1.0, 1.0, 1.0)
    for row in rows:
        assert row.size > 0
        assert min(row.encode_us, row.decode_us, row.encode_ratio, row.total_ratio) > 0


def test_codecs_write_the_same_record_as_their_baselines(measured: bench.Measured) -> None:
    """Same fields, same bytes: the baselines encode the record the codecs encode."""
    sizes = {fmt: size for (_, fmt), size in measured.sizes.items()}
    assert sizes[bench.IDEM_JSON] == sizes[bench.BASELINE]
    assert sizes[bench.IDEM_PB] == sizes[bench.PB_BYTES]


def test_target_table_marks_every_ratio_ok_or_missed(measured: bench.Measured) -> None:
    """A header naming the record, then one row per target with a ratio and a verdict."""
    header, _, *targets = bench.target_lines(measured)
    assert header.endswith("| small |")
    assert len(targets) == len(bench.TARGETS)
    for line in targets:
        assert re.search(r"\| <= 1\.2 \| \d+\.\d\d (ok|MISSED) \|$", line), line


def test_main_writes_the_table_without_charts(tmp_path: Path) -> None:
    """--no-charts: the Markdown report with the protobuf backend, and no PNG."""
    args = ["--rounds", "1", "--budget-ms", "0.001", "--out", str(tmp_path), "--no-charts"]
    bench.main(args)
    report = (tmp_path / "serialization.md").read_text(encoding="utf-8")
    assert "backend " in report
    assert all(f"## {record} record" in report for record in bench.RESULTS)
    assert not list(tmp_path.glob("*.png"))


def test_charts_are_written_as_png(measured: bench.Measured, tmp_path: Path) -> None:
    """One PNG per record when matplotlib is installed."""
    pytest.importorskip("matplotlib", reason="charts need matplotlib (bench extra); tables don't")
    paths = bench.write_charts(measured, tmp_path)
    assert [path.name for path in paths] == ["serialization-small.png"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
