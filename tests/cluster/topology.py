"""Where keys live in the test cluster, and moving slots between primaries while calls run.

Slots move the way ``redis-cli --cluster reshard`` moves them (CLUSTER SETSLOT IMPORTING
and MIGRATING, MIGRATE in batches, SETSLOT NODE everywhere), but one slot at a time and
with pauses in between, so that calls running meanwhile meet ASK and MOVED.

redis-py's cluster methods are untyped: they are called here, behind typed functions.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import count
from typing import Any, cast

import redis
from redis.cluster import ClusterNode
from redis.crc import key_slot

__all__ = [
    "Primary",
    "Resharding",
    "holders",
    "key_for",
    "move_slot",
    "names_on_every_primary",
    "primaries",
    "primary_named",
    "primary_names",
    "primary_of",
    "redirections",
    "slot_of",
]


def key_for(job: Callable[..., Any]) -> Callable[..., str]:
    """The ``key_for`` of a decorated function: the key a call with these arguments uses."""
    return cast(Callable[..., str], cast(Any, job).key_for)


def slot_of(key: str) -> int:
    """The hash slot of ``key`` (no hash tags in idemsdk keys: the whole key counts)."""
    return key_slot(key.encode())


def _primary_nodes(cluster: redis.RedisCluster) -> list[ClusterNode]:
    return cast(list[ClusterNode], cluster.get_primaries())  # type: ignore[no-untyped-call]


def primary_names(cluster: redis.RedisCluster) -> list[str]:
    """Every primary (host:port), by the client's slot map."""
    return [str(node.name) for node in _primary_nodes(cluster)]


def primary_of(cluster: redis.RedisCluster, key: str) -> str:
    """The primary (host:port) that owns ``key``'s slot, by the client's slot map."""
    node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
    return str(node.name)


def holders(cluster: redis.RedisCluster, keys: Iterable[str]) -> dict[str, str]:
    """For each key, the primary that holds it, as the nodes themselves say (SCAN each)."""
    wanted = set(keys)
    found: dict[str, str] = {}
    for node in _primary_nodes(cluster):
        for key in cluster.scan_iter("*", count=1000, target_nodes=node):
            if key.decode() in wanted:
                found[key.decode()] = str(node.name)
    return found


def names_on_every_primary(
    cluster: redis.RedisCluster, key_of: Callable[[str], str], per_primary: int
) -> list[str]:
    """``per_primary`` names for each primary: names whose keys (``key_of``) it owns."""
    chosen: dict[str, list[str]] = {name: [] for name in primary_names(cluster)}
    for i in count():
        name = f"key-{i}"
        on = chosen[primary_of(cluster, key_of(name))]
        if len(on) < per_primary:
            on.append(name)
        if all(len(names) == per_primary for names in chosen.values()):
            break
    return [name for names in chosen.values() for name in names]


@dataclass(frozen=True)
class Primary:
    """A primary, and a plain client connected to it alone."""

    id: str
    host: str
    port: int
    client: redis.Redis

    @property
    def name(self) -> str:
        """host:port, as redis-py names nodes."""
        return f"{self.host}:{self.port}"

    def run(self, *args: Any) -> Any:
        """Send one command to this node, whatever the slot of its keys."""
        return self.client.execute_command(*args)  # type: ignore[no-untyped-call]


def primaries(cluster: redis.RedisCluster) -> list[Primary]:
    """Every primary of the cluster, each with its own client (close them after use)."""
    found = []
    for node in _primary_nodes(cluster):
        client = redis.Redis(host=node.host, port=node.port, socket_timeout=5)
        found.append(Primary(client.cluster("MYID").decode(), node.host, node.port, client))
    return found


def primary_named(nodes: list[Primary], name: str) -> Primary:
    """The primary called ``name`` (host:port)."""
    return next(node for node in nodes if node.name == name)


def owners(nodes: list[Primary]) -> dict[int, Primary]:
    """Slot -> its primary, as the first node says."""
    by_id = {node.id: node for node in nodes}
    slots: dict[int, Primary] = {}
    for start, end, *servers in nodes[0].run("CLUSTER SLOTS"):
        owner = by_id[servers[0][2].decode()]
        slots.update(dict.fromkeys(range(start, end + 1), owner))
    return slots


def move_slot(
    slot: int,
    source: Primary,
    target: Primary,
    nodes: list[Primary],
    *,
    pause: float = 0.0,
    midway: Callable[[], object] | None = None,
) -> list[str]:
    """Move ``slot`` from ``source`` to ``target``; returns the keys that moved.

    ``midway`` runs once the slot is migrating and before any key moves; ``pause`` is how
    long the slot stays half-way between batches of keys.
    """
    target.run("CLUSTER SETSLOT", slot, "IMPORTING", source.id)
    source.run("CLUSTER SETSLOT", slot, "MIGRATING", target.id)
    moved: list[str] = []
    try:
        if midway is not None:
            midway()
        time.sleep(pause)  # new keys of the slot now go to the target: ASK
    finally:
        # Finish the move whatever happened midway: a slot left half-way breaks later tests.
        while keys := source.run("CLUSTER GETKEYSINSLOT", slot, 5):
            source.run("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
            moved += keys
            time.sleep(pause)  # moved keys answer ASK at the source, the rest run there
        # The target first, so that the slot always has an owner; then everyone else.
        for node in sorted(nodes, key=lambda node: node is not target):
            node.run("CLUSTER SETSLOT", slot, "NODE", target.id)
    return moved


def redirections(nodes: list[Primary]) -> Counter[str]:
    """How many MOVED and ASK replies the primaries have sent since they started."""
    sent: Counter[str] = Counter()
    for node in nodes:
        stats: dict[str, Any] = node.client.info("errorstats")
        for kind in ("MOVED", "ASK"):
            sent[kind] += stats.get(f"errorstat_{kind}", {}).get("count", 0)
    return sent


class Resharding:
    """Moves ``slots`` in a thread, each to the next primary, one at a time, pass after pass.

    :meth:`stop` ends it between two slots, never with a slot half-way; :attr:`moved` is
    every key that moved, :attr:`passes` how many times every slot moved.
    """

    def __init__(self, nodes: list[Primary], slots: Iterable[int], pause: float) -> None:
        self.nodes = nodes
        self.slots = list(slots)
        self.pause = pause
        self.moved: list[str] = []
        self.passes = 0
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resharding")

    def _run(self) -> None:
        owner = owners(self.nodes)
        try:
            while not self._stopping.is_set():
                for slot in self.slots:
                    if self._stopping.is_set():
                        return
                    source = owner[slot]
                    target = self.nodes[(self.nodes.index(source) + 1) % len(self.nodes)]
                    self.moved += move_slot(slot, source, target, self.nodes, pause=self.pause)
                    owner[slot] = target
                self.passes += 1
        except BaseException as exc:  # re-raised by stop(), in the test's thread
            self.error = exc

    def __enter__(self) -> Resharding:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop after the slot being moved; re-raise what the mover raised."""
        self._stopping.set()
        self._thread.join(60)
        if self.error is not None:
            raise self.error
