"""Smoke test of ``benchmarks/load.py`` on the real Redis: its counts, not its speed."""

from __future__ import annotations

import pytest

from benchmarks import load

from .replication import PrimaryWithReplica

pytestmark = pytest.mark.redis


def test_a_small_load_run_counts_every_key_once(redis_url: str) -> None:
    result = load.run(redis_url, processes=2, calls=60, duplicates=0.5)
    assert result.calls == 120
    assert result.double_executions == 0
    # Half the calls reuse a key: fewer keys ran than calls were made, and at least the
    # fresh ones ran (a duplicate may name a key its worker has not reached yet).
    assert 0 < result.executions < result.calls
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.row("x").startswith("| x | 120 |")


def test_a_load_run_with_wait_replicas_waits_on_a_real_replica(
    replicated: PrimaryWithReplica,
) -> None:
    result = load.run(replicated.url, processes=2, calls=40, duplicates=0.5, wait_replicas=1)
    assert (result.calls, result.double_executions) == (80, 0)
    assert 0 < result.executions < result.calls


@pytest.mark.cluster
def test_a_load_run_with_wait_replicas_on_a_cluster_counts_every_key_once(
    redis_cluster_url: str,
) -> None:
    result = load.run(redis_cluster_url, processes=2, calls=40, duplicates=0.5, wait_replicas=1)
    assert (result.calls, result.double_executions) == (80, 0)
    assert 0 < result.executions < result.calls
