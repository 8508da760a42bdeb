"""``doctor``'s questions to a Redis Cluster: the slot map from a seed, then every node's facts."""

from __future__ import annotations

from redis.exceptions import ResponseError

from .._errors import StoreError
from .._redis_url import ClusterURL
from ._checks import Facts
from ._cluster_checks import ClusterFacts, ClusterNode, parse_nodes
from ._connect import command, connect, first_answer, talking_to
from ._gather import fields, gather, text
from ._urls import address, redacted, with_address

__all__ = ["gather_cluster"]


def gather_cluster(url: str, cluster: ClusterURL, timeout: float) -> ClusterFacts:
    """The slot map from the first seed that answers, and the facts of every node in it.

    StoreUnavailable when no seed answers; StoreError when one is not a cluster node. A
    node that cannot be asked is an entry in ``errors``, which ``_cluster_checks`` judges.
    """

    def slot_map(host: str, port: int) -> tuple[dict[str, str], str]:
        node_url = with_address(cluster.node_url, host, port)
        client = connect(node_url, timeout)
        try:
            with talking_to(node_url):
                try:
                    info = fields(client.cluster("INFO"))
                except ResponseError as exc:  # "cluster support disabled"
                    raise StoreError(
                        f"{redacted(node_url)} is not a cluster node ({exc}): for one "
                        "server, use its redis://host:port URL"
                    ) from exc
                # As raw text, parsed here (parse_nodes) whatever redis-py's version does.
                return info, text(command(client, "CLUSTER", "NODES"))
        finally:
            client.close()

    seed, (info, nodes), silent = first_answer(cluster.nodes, slot_map, f"seed of {redacted(url)}")
    facts: dict[str, Facts] = {}
    own: dict[str, ClusterNode] = {}
    errors: dict[str, str] = {}
    parsed = parse_nodes(nodes)
    for node in (node for node in parsed if node.askable):
        try:
            facts[node.address], own[node.address] = _ask(cluster, node, timeout)
        except StoreError as exc:  # noqa: PERF203 - StoreUnavailable too: a finding
            errors[node.address] = str(exc)
    return ClusterFacts(address(*seed), info, parsed, facts, errors, own, silent)


def _ask(cluster: ClusterURL, node: ClusterNode, timeout: float) -> tuple[Facts, ClusterNode]:
    """A node's facts, and its own line of CLUSTER NODES: only it lists the slots it moves."""
    node_url = with_address(cluster.node_url, node.host, node.port)
    client = connect(node_url, timeout)
    try:
        with talking_to(node_url):
            # Only primaries serving slots run scripts; the others load them once they do.
            facts = gather(client, scripts=node.is_primary and bool(node.slots))
            lines = parse_nodes(text(command(client, "CLUSTER", "NODES")))
    finally:
        client.close()
    return facts, next((line for line in lines if line.myself), node)
