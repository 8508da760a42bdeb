"""Smoke test of ``benchmarks/overhead.py``: every case runs and every figure is reported.

Its speed is measured by running the benchmark, never here; this checks that its cases
still do what they claim (the raw baselines send the scripts as the store does).
"""

from __future__ import annotations

import uuid

import pytest
import redis

from benchmarks import overhead

pytestmark = pytest.mark.redis


def test_every_case_runs_and_the_report_names_every_target(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    try:
        times = overhead.measure_paired(overhead.redis_cases(client, prefix), calls=5)
        raw = [client.hgetall(key) for key in client.scan_iter(f"{prefix}:raw:*")]
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    # The raw first calls stored completed records, as the decorator's first calls do.
    assert raw and all(record[b"status"] == b"completed" for record in raw)
    times |= overhead.measure({**overhead.memory_cases(), **overhead.key_cases()}, 1, 5)
    assert all(seconds > 0 for seconds in times.values()), times
    lines = "\n".join(overhead.report(times))
    for figure in ("EVALSHA", "first call", "make_key"):
        assert figure in lines, figure
