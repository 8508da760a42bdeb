"""The scripts on a Redis Cluster: routed by their one key, run again where a node forgot them.

A node forgets scripts when it restarts, when a replica takes over, or when it is new to a
slot. The stores answer NOSCRIPT with EVAL, which redis-py routes by the key like EVALSHA
(following MOVED and ASK), so the script runs, and is cached, on the node that owns the key.
"""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

import pytest
import redis

from idemsdk import Idempotency, RedisStore
from idemsdk._lua import CLAIM, COMPLETE
from idemsdk.testing import RedisClusterServer

from ..contract.harness import Harness
from .topology import (
    Primary,
    holders,
    key_for,
    move_slot,
    names_on_every_primary,
    primary_named,
    primary_names,
    primary_of,
    slot_of,
)

pytestmark = [pytest.mark.redis, pytest.mark.cluster]


@pytest.fixture
def sent(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every command the harness's client sends from now on."""
    names: list[str] = []
    # The sync client sends through send_command; the async cluster client packs by itself
    # (and its from_url drops a connection_class), so patch the classes, not one client.
    if harness.mode == "sync":
        send = redis.connection.Connection.send_command

        def counting_send(self: redis.connection.Connection, *args: Any, **kwargs: Any) -> None:
            names.append(str(args[0]).upper())
            send(self, *args, **kwargs)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(redis.connection.Connection, "send_command", counting_send)
    else:
        pack = redis.asyncio.connection.Connection.pack_command

        def counting_pack(self: redis.asyncio.connection.Connection, *args: Any) -> list[bytes]:
            names.append(str(args[0]).upper())
            return pack(self, *args)

        monkeypatch.setattr(redis.asyncio.connection.Connection, "pack_command", counting_pack)
    return names


def _double(x: str) -> str:
    return x * 2


def test_each_record_lives_on_the_primary_that_owns_its_key(
    harness: Harness, cluster: redis.RedisCluster
) -> None:
    job = harness.decorate(harness.idem(), _double)
    names = names_on_every_primary(cluster, key_for(job), 4)
    assert [job(name) for name in names] == [name * 2 for name in names]
    keys = [key_for(job)(name) for name in names]
    on = holders(cluster, keys)
    assert on == {key: primary_of(cluster, key) for key in keys}
    assert len(set(on.values())) == 3


def test_a_primary_that_forgot_the_scripts_runs_them_by_eval_in_one_round_trip(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary], sent: list[str]
) -> None:
    job = harness.decorate(harness.idem(), _double)
    warm, cold = names_on_every_primary(cluster, key_for(job), 2)[:2]  # on one primary
    owner = primary_named(nodes, primary_of(cluster, key_for(job)(cold)))
    job(warm)  # connects to the owner
    owner.client.script_flush()
    sent.clear()
    assert job(cold) == cold * 2
    # claim and complete each meet NOSCRIPT once and run by EVAL, routed by the key
    assert sent == ["EVALSHA", "EVAL"] * 2
    assert owner.client.script_exists(CLAIM.sha, COMPLETE.sha) == [True, True]
    sent.clear()
    assert job(cold) == cold * 2
    assert sent == ["EVALSHA"]


def test_a_script_unknown_behind_an_ask_redirection_runs_on_the_importing_primary(
    harness: Harness, cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    job = harness.decorate(harness.idem(), _double)
    key = key_for(job)("new")
    source = primary_named(nodes, primary_of(cluster, key))
    target = next(node for node in nodes if node is not source)
    target.client.script_flush()
    seen: list[Any] = []

    def call_while_migrating() -> None:
        # The key is new, so the source answers ASK: the target runs the claim (NOSCRIPT,
        # then EVAL) and then the completion, each after ASKING.
        seen.append(job("new"))
        seen.append(holders(cluster, [key]))

    moved = move_slot(slot_of(key), source, target, nodes, midway=call_while_migrating)
    assert seen == ["newnew", {key: target.name}]
    assert moved == [], "the record was made on the target: the source never held it"
    assert job("new") == "newnew"  # a replay, from the slot's new owner


def test_redis_py_script_load_on_a_cluster_client_goes_to_every_primary(
    cluster: redis.RedisCluster, nodes: list[Primary]
) -> None:
    """Why idemsdk answers NOSCRIPT with EVAL: SCRIPT LOAD is not routed by key.

    It goes to every primary the client knows, so it fails as a whole when one of them
    is down (right after a failover, when scripts are missing), and it misses a node the
    client has not discovered yet.
    """
    sha = cluster.script_load(f"return '{uuid.uuid4().hex}'")
    assert [node.client.script_exists(sha) for node in nodes] == [[True]] * 3


def test_scripts_run_on_the_key_s_primary_while_another_primary_is_down(
    own_cluster: RedisClusterServer,
) -> None:
    """A primary forgot the scripts and another one is down: calls on the first still work.

    On a cluster of its own, since a primary is stopped. SCRIPT LOAD through the cluster
    client fails there (it goes to every primary); EVAL goes to the key's primary only.
    """
    store = RedisStore.from_url(own_cluster.url)
    client = store.client
    assert isinstance(client, redis.RedisCluster)
    job = Idempotency(store, prefix="down").idempotent(_double)
    down, alive = primary_names(client)[:2]
    name = next(n for n in map(str, count()) if primary_of(client, job.key_for(n)) == alive)
    next(server for server in own_cluster.servers if f"127.0.0.1:{server.port}" == down).stop()
    with redis.Redis.from_url(f"redis://{alive}") as forgetful:
        forgetful.script_flush()
    with pytest.raises(redis.ConnectionError):
        client.script_load(CLAIM.source)
    assert job(name) == name * 2
    assert job(name) == name * 2
    client.close()
