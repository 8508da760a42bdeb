"""A Redis Cluster primary crashes under load: what ``wait_replicas`` keeps there.

A cluster of our own (3 primaries, 1 replica each, ``cluster-node-timeout`` 1 s) runs two
workloads through one failover (see ``tests/failover.py``): one with ``wait_replicas=1``,
which must lose no answered key and run none twice, and one without, whose figures are
printed (``-s``). The replica of the crashed primary is made to fall behind first (frozen
with SIGSTOP, its link cut), as a replica under load may be: the window waiting closes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from idemsdk import RedisStore
from idemsdk.testing import RedisClusterServer

from ..conftest import our_own
from ..failover import Workload, accounted_for, holds, running

pytestmark = [pytest.mark.redis, pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def fragile_cluster() -> Iterator[RedisClusterServer]:
    """A cluster of our own whose replicas take over 1 s after their primary stops."""
    with our_own(
        lambda: RedisClusterServer("--cluster-node-timeout", "1000", primaries=3, replicas=1),
        "Redis Cluster",
        needs=("redis-cli",),
    ) as cluster:
        yield cluster


def test_a_crashed_primary_ahead_of_its_replica_loses_no_key_answered_with_wait_replicas(
    fragile_cluster: RedisClusterServer,
) -> None:
    primary = fragile_cluster.servers[0]  # every workload has keys on every primary
    replica = fragile_cluster.replica_of(primary)
    stores = [RedisStore.from_url(fragile_cluster.url) for _ in range(2)]
    loads = [Workload(stores[0], wait_replicas=0), Workload(stores[1], wait_replicas=1)]
    try:
        with running(loads):
            time.sleep(0.5)
            os.kill(replica.process.pid, signal.SIGSTOP)
            try:
                client = redis.Redis(port=primary.port)
                client.client_kill_filter(_type="replica")
                client.close()
                time.sleep(0.4)  # writes the replica does not get
                primary.kill()
            finally:
                os.kill(replica.process.pid, signal.SIGCONT)
            fragile_cluster.wait_failover(replica, timeout=30)
            for load in loads:
                load.failed_over.set()
            time.sleep(2.0)  # calls stuck in the crash take ~1 s more to get through
        plain, waiting = (load.check(fragile_cluster.url) for load in loads)
    finally:
        for store in stores:
            store.client.close()
    scenario = "SIGKILL of a primary 0.4 s after its replica fell behind"
    print(f"\n[cluster failover: {scenario}]\n  {plain}\n  {waiting}")
    holds(waiting)
    accounted_for(plain)
    assert waiting.errors["NotReplicated"] > 0, "calls while the replica was behind"
