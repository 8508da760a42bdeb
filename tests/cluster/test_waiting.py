"""``wait_replicas`` on Redis Cluster: WAIT follows each write on the key's primary.

The script and WAIT go as one pipeline on one connection to the primary that owns the key,
and on to the node a MOVED or ASK reply names. A replica is frozen (SIGSTOP) to make it fall
behind: only a frozen replica of the key's own primary may hold a call back. The whole
contract suite also runs on the cluster with waiting (tests/contract, ``cluster-waiting``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from idemsdk import AsyncRedisStore, ConfigurationError, Idempotency, NotReplicated, RedisStore
from idemsdk._lua import CLAIM, COMPLETE
from idemsdk.testing import RedisClusterServer, RedisServer

from ..contract.harness import Harness
from .topology import (
    Primary,
    holders,
    key_for,
    move_slot,
    names_on_every_primary,
    primary_named,
    primary_of,
    slot_of,
)

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

#: Ample for a healthy replica on a busy machine; the tests that freeze one wait it out.
WAIT_TIMEOUT = 1.0


def replica_of(servers: RedisClusterServer, primary: Primary) -> RedisServer:
    """The one replica of ``primary``, as the primary says."""
    port = int(primary.client.info("replication")["slave0"]["port"])
    return next(server for server in servers.servers if server.port == port)


@contextmanager
def frozen(server: RedisServer) -> Iterator[None]:
    """``server`` (ours) acknowledges nothing until the block ends."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def waits_on(primary: Primary) -> int:
    """How many WAIT commands ``primary`` has run since it started."""
    stats: dict[str, Any] = primary.client.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


@pytest.fixture(autouse=True)
def _scripts_loaded(nodes: list[Primary]) -> None:
    """Every primary has the scripts, so a first write does not add EVAL and a second WAIT."""
    for node in nodes:
        for script in (CLAIM, COMPLETE):
            node.run("SCRIPT LOAD", script.source)


def owner_and_another(
    cluster: redis.RedisCluster, nodes: list[Primary], key: str
) -> tuple[Primary, Primary]:
    """The primary that owns ``key``, and another one to move its slot to."""
    owner = primary_named(nodes, primary_of(cluster, key))
    return owner, next(node for node in nodes if node != owner)


def counting(harness: Harness, ran: list[str], **options: Any) -> Callable[[str], str]:
    """A function on the harness's store that waits for 1 replica and records its runs."""
    idem = Idempotency(
        harness.store, prefix=harness.prefix, wait_replicas=1, wait_timeout=WAIT_TIMEOUT
    )

    def charge(name: str) -> str:
        ran.append(name)
        return f"{name} charged"

    return harness.decorate(idem, charge, **options)


def test_a_write_waits_for_the_replica_of_its_keys_primary_and_no_other(
    harness: Harness,
    redis_cluster: RedisClusterServer,
    cluster: redis.RedisCluster,
    nodes: list[Primary],
) -> None:
    ran: list[str] = []
    charge = counting(harness, ran)
    names = names_on_every_primary(cluster, key_for(charge), per_primary=2)
    for own, other in zip(names[::2], names[1::2], strict=True):
        primary = primary_named(nodes, primary_of(cluster, key_for(charge)(own)))
        elsewhere = next(node for node in nodes if node != primary)
        before = waits_on(primary)
        with frozen(replica_of(redis_cluster, elsewhere)):
            assert charge(own) == f"{own} charged"  # another shard's replica is not asked
        assert waits_on(primary) - before == 2  # after the claim, and after the result
        with frozen(replica_of(redis_cluster, primary)), pytest.raises(NotReplicated) as caught:
            charge(other)
        assert "the claim was released and the function did not run" in str(caught.value)
        assert (caught.value.acknowledged, caught.value.wanted) == (0, 1)
        assert charge(other) == f"{other} charged"  # the replica is back: it runs, once
    assert ran == names


def test_a_result_the_replica_lacks_says_the_function_ran_and_replays(
    harness: Harness,
    redis_cluster: RedisClusterServer,
    cluster: redis.RedisCluster,
    nodes: list[Primary],
) -> None:
    ran: list[str] = []
    replica: list[RedisServer] = []

    idem = Idempotency(
        harness.store, prefix=harness.prefix, wait_replicas=1, wait_timeout=WAIT_TIMEOUT
    )

    def charge(name: str) -> str:
        ran.append(name)
        os.kill(replica[0].process.pid, signal.SIGSTOP)  # after the claim's acknowledgement
        return f"{name} charged"

    decorated = harness.decorate(idem, charge)
    primary = primary_named(nodes, primary_of(cluster, key_for(decorated)("order-1")))
    replica.append(replica_of(redis_cluster, primary))
    try:
        with pytest.raises(NotReplicated, match="the function ran and its result is on the"):
            decorated("order-1")
    finally:
        os.kill(replica[0].process.pid, signal.SIGCONT)
    assert decorated("order-1") == "order-1 charged"  # the primary kept it: a replay
    assert ran == ["order-1"]


def test_a_write_whose_slot_moved_follows_moved_and_waits_on_the_new_owner(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    ran: list[str] = []
    charge = counting(harness, ran)
    assert charge("warm-up") == "warm-up charged"  # the store's client has its slot map now
    key = key_for(charge)("order-1")
    source, target = owner_and_another(cluster, nodes, key)
    move_slot(slot_of(key), source, target, nodes)  # behind the store's client's back
    before = waits_on(target)
    assert charge("order-1") == "order-1 charged"
    assert charge("order-1") == "order-1 charged"
    assert waits_on(target) - before == 3  # the claim and result; the replay's claim too
    assert holders(cluster, [key]) == {key: target.name}
    assert ran == ["warm-up", "order-1"]


def test_a_write_to_a_slot_half_way_follows_ask_and_waits_on_the_importing_node(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    ran: list[str] = []
    charge = counting(harness, ran)
    key = key_for(charge)("order-1")
    source, target = owner_and_another(cluster, nodes, key)
    waited: list[int] = []

    def midway() -> None:
        # The key is new: the source answers ASK, and both writes run on the target.
        before = waits_on(target)
        assert charge("order-1") == "order-1 charged"
        waited.append(waits_on(target) - before)
        assert target.run("CLUSTER COUNTKEYSINSLOT", slot_of(key)) == 1  # the record is here
        assert source.run("CLUSTER COUNTKEYSINSLOT", slot_of(key)) == 0

    move_slot(slot_of(key), source, target, nodes, midway=midway)
    assert waited == [2]
    assert charge("order-1") == "order-1 charged"  # the slot is the target's now: a replay
    assert holders(cluster, [key]) == {key: target.name}
    assert ran == ["order-1"]


def test_a_node_that_forgot_the_scripts_gets_them_with_eval_then_waits(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    ran: list[str] = []
    charge = counting(harness, ran)
    primary = primary_named(nodes, primary_of(cluster, key_for(charge)("order-1")))
    primary.run("SCRIPT FLUSH")  # our own cluster's node, as after a restart
    before = waits_on(primary)
    assert charge("order-1") == "order-1 charged"
    assert charge("order-1") == "order-1 charged"
    assert waits_on(primary) - before == 5  # each write: EVALSHA, NOSCRIPT, EVAL; the replay
    assert ran == ["order-1"]


@pytest.mark.parametrize("store", [RedisStore, AsyncRedisStore])
def test_a_wait_timeout_the_cluster_clients_read_timeout_would_cut_is_refused(
    redis_cluster_url: str, store: type[RedisStore] | type[AsyncRedisStore]
) -> None:
    made = store.from_url(redis_cluster_url, socket_timeout=1.0)
    with pytest.raises(ConfigurationError, match=r"shorter than the client's socket_timeout"):
        Idempotency(made, wait_replicas=1, wait_timeout=1.0)
    assert Idempotency(made, wait_replicas=1, wait_timeout=0.9).wait_replicas == 1
    if isinstance(made, RedisStore):  # the async client has not connected yet
        made.client.close()
