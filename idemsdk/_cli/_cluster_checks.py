"""``doctor``'s judgement of a Redis Cluster: its slot map and every node's facts, no I/O.

The cluster as a whole must serve every slot (a key in an unserved slot fails with
CLUSTERDOWN); each primary with slots must pass what one server must (``_checks.evaluate``);
each replica, which holds its primary's records once promoted, must keep them
(``_checks.evaluate_replica``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._checks import Facts, Finding, Level
from ._topology import Diagnosis, Node, Section, node_findings, slot_ranges
from ._urls import address

__all__ = ["ClusterFacts", "ClusterNode", "evaluate_cluster", "parse_nodes"]

TOTAL_SLOTS = 16384
#: Flags of a node that cannot be asked yet: it has no address, or is still being met.
_UNREACHABLE = frozenset({"noaddr", "handshake"})


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One line of CLUSTER NODES: a node as the node asked sees it."""

    id: str
    host: str
    port: int
    #: ``master`` or ``slave``, and ``fail``, ``fail?``, ``noaddr``... (``myself`` aside).
    flags: frozenset[str]
    #: A replica's primary, by id.
    primary_id: str | None = None
    slots: tuple[tuple[int, int], ...] = ()
    #: The line of the node that answered (``myself``).
    myself: bool = False
    #: Slots moving out, to another node's id (``[42->-id]`` in CLUSTER NODES); only the
    #: node itself lists its moving slots.
    migrating: tuple[tuple[int, str], ...] = ()
    #: Slots moving in, from another node's id (``[42-<-id]``).
    importing: tuple[tuple[int, str], ...] = ()

    @property
    def address(self) -> str:
        """``host:port``; the node's id for one without an address (``noaddr``)."""
        return address(self.host, self.port) if self.port else f"{self.id[:8]}... (no address)"

    @property
    def is_primary(self) -> bool:
        """Whether the node is a primary (with slots or not)."""
        return "master" in self.flags

    @property
    def askable(self) -> bool:
        """Whether the node has an address doctor can connect to."""
        return not self.flags & _UNREACHABLE and self.port > 0


def parse_nodes(text: str) -> list[ClusterNode]:
    """CLUSTER NODES' reply, a node per line."""
    return [_node(line.split()) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What the cluster said: one node's CLUSTER INFO and NODES, and each node's own facts."""

    #: The node whose CLUSTER INFO and NODES these are (``host:port``).
    seed: str
    info: Mapping[str, str]
    nodes: Sequence[ClusterNode]
    #: Each node's facts, by address; those that could not be asked are in ``errors``.
    facts: Mapping[str, Facts] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    #: Each node's own line of its CLUSTER NODES, by address: the slots it is moving.
    own: Mapping[str, ClusterNode] = field(default_factory=dict)
    #: Seeds of the URL that did not answer before ``seed`` did, and why.
    silent_seeds: Mapping[str, str] = field(default_factory=dict)


def evaluate_cluster(facts: ClusterFacts) -> Diagnosis:
    """The whole cluster's findings, then each primary's followed by its replicas'."""
    primaries = [node for node in facts.nodes if node.is_primary]
    replicas = [node for node in facts.nodes if not node.is_primary]
    serving = sorted((node for node in primaries if node.slots), key=lambda node: node.slots[0])
    heading = (
        f"cluster: {len(primaries)} {_plural(len(primaries), 'primary', 'primaries')}, "
        f"{len(replicas)} {_plural(len(replicas), 'replica')}; slot map from {facts.seed}"
    )
    sections = [Section(heading, [_seeds(facts), _state(facts), _slots(facts, serving)])]
    shown: set[str] = set()
    for primary in serving:
        own = sorted(
            (node for node in replicas if node.primary_id == primary.id),
            key=lambda node: node.address,
        )
        count = f"{len(own)} {_plural(len(own), 'replica')}"
        listed = f" ({', '.join(node.address for node in own)})" if own else ""
        sections.append(
            Section(
                f"primary {primary.address}{_marked(primary)}: slots "
                f"{slot_ranges(primary.slots)}, {count}{listed}",
                _findings(facts, primary, primary=True),
                Node(primary.address, "primary", slots=primary.slots),
            )
        )
        sections += [_replica(facts, node, primary.address) for node in own]
        shown |= {primary.id, *(node.id for node in own)}
    # Primaries without slots (new, or failed over) serve nothing, but hold data once given
    # slots or promoted: judged as replicas are.
    for node in facts.nodes:
        if node.id in shown:
            continue
        if node.is_primary:
            sections.append(
                Section(
                    f"primary {node.address}{_marked(node)}: no slots (serves no key)",
                    _findings(facts, node, primary=False),
                    Node(node.address, "primary"),
                )
            )
        else:
            of = next((p.address for p in primaries if p.id == node.primary_id), None)
            sections.append(_replica(facts, node, of))
    return Diagnosis("cluster", sections)


def _replica(facts: ClusterFacts, node: ClusterNode, primary: str | None) -> Section:
    of = primary or f"an unknown primary ({node.primary_id})"
    return Section(
        f"replica {node.address} of {of}{_marked(node)}",
        _findings(facts, node, primary=False),
        Node(node.address, "replica", primary=primary),
    )


def _marked(node: ClusterNode) -> str:
    """What the node asked thinks of ``node``'s health, when it doubts it."""
    if "fail" in node.flags:
        return ", marked failed"
    if "fail?" in node.flags:
        return ", marked fail? (unreachable from the node asked)"
    return ""


def _findings(facts: ClusterFacts, node: ClusterNode, *, primary: bool) -> list[Finding]:
    if not node.askable:
        error = f"the node has no address yet ({','.join(sorted(node.flags))})"
    else:
        error = facts.errors.get(node.address, "not asked")
    return node_findings(facts.facts.get(node.address), error, primary=primary)


def _seeds(facts: ClusterFacts) -> Finding:
    if facts.silent_seeds:
        silent = "; ".join(facts.silent_seeds.values())
        return Finding(
            "seeds",
            Level.WARN,
            f"{len(facts.silent_seeds)} {_plural(len(facts.silent_seeds), 'seed')} of the URL "
            f"did not answer ({silent}); {facts.seed} did",
        )
    return Finding("seeds", Level.OK, f"{facts.seed}, the first seed, answered")


def _state(facts: ClusterFacts) -> Finding:
    state = facts.info.get("cluster_state", "unknown")
    known = facts.info.get("cluster_known_nodes", "?")
    if state != "ok":
        return Finding(
            "state",
            Level.FAIL,
            f"cluster_state is {state}: every command fails with CLUSTERDOWN until it is ok",
        )
    return Finding("state", Level.OK, f"cluster_state ok, {known} nodes known")


def _slots(facts: ClusterFacts, serving: Sequence[ClusterNode]) -> Finding:
    info = facts.info
    assigned = _int(info.get("cluster_slots_assigned"))
    failed = _int(info.get("cluster_slots_fail")) or 0
    unsure = _int(info.get("cluster_slots_pfail")) or 0
    if assigned is None:
        return Finding("slots", Level.UNKNOWN, "CLUSTER INFO reports no cluster_slots_assigned")
    if assigned < TOTAL_SLOTS:
        return Finding(
            "slots",
            Level.FAIL,
            f"{TOTAL_SLOTS - assigned} of {TOTAL_SLOTS} slots have no primary: keys in them "
            "fail with CLUSTERDOWN (redis-cli --cluster fix assigns them)",
        )
    if failed:
        return Finding(
            "slots",
            Level.FAIL,
            f"{failed} slots are served by a primary the cluster marks failed: keys in them "
            "fail until a replica takes over",
        )
    if unsure:
        return Finding(
            "slots",
            Level.WARN,
            f"{unsure} slots are served by a primary some nodes cannot reach (pfail)",
        )
    moving = _moving([*facts.nodes, *facts.own.values()])
    if moving:
        return Finding(
            "slots",
            Level.WARN,
            f"{len(moving)} {_plural(len(moving), 'slot')} moving ({', '.join(moving[:3])}"
            f"{', ...' if len(moving) > 3 else ''}): keys there answer ASK until the move "
            "ends; one left half done needs redis-cli --cluster fix",
        )
    return Finding(
        "slots",
        Level.OK,
        f"all {TOTAL_SLOTS} slots served by {len(serving)} "
        f"{_plural(len(serving), 'primary', 'primaries')}",
    )


def _moving(nodes: Sequence[ClusterNode]) -> list[str]:
    """``slot 42 from a to b`` for each slot moving, named once though both ends list it."""
    by_id = {node.id: node.address for node in nodes}
    pairs = {(slot, node.id, to) for node in nodes for slot, to in node.migrating}
    pairs |= {(slot, source, node.id) for node in nodes for slot, source in node.importing}
    return [
        f"slot {slot} from {by_id.get(source, source)} to {by_id.get(to, to)}"
        for slot, source, to in sorted(pairs)
    ]


def _node(fields: list[str]) -> ClusterNode:
    # <id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
    endpoint = fields[1].split(",", 1)[0].split("@", 1)[0]
    host, _, port = endpoint.rpartition(":")
    flags = frozenset(fields[2].split(","))
    slots: list[tuple[int, int]] = []
    migrating: list[tuple[int, str]] = []
    importing: list[tuple[int, str]] = []
    for item in fields[8:]:
        if item.startswith("["):  # [42->-id] or [42-<-id]
            slot, arrow, other = item.strip("[]").partition("->-")
            if not arrow:
                slot, _, other = item.strip("[]").partition("-<-")
            (migrating if arrow else importing).append((int(slot), other))
        else:
            first, _, last = item.partition("-")
            slots.append((int(first), int(last or first)))
    return ClusterNode(
        id=fields[0],
        host=host,
        port=_int(port) or 0,
        flags=flags - {"myself"},
        myself="myself" in flags,
        primary_id=None if fields[3] == "-" else fields[3],
        slots=tuple(slots),
        migrating=tuple(migrating),
        importing=tuple(importing),
    )


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or f"{one}s")


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None
