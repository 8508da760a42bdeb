"""What ``doctor`` found, grouped by node: the shape of a report for one server, a cluster or a
Sentinel setup, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._checks import Facts, Finding, Level, evaluate, evaluate_replica

__all__ = ["Diagnosis", "Node", "Section", "node_findings", "slot_ranges"]


@dataclass(frozen=True, slots=True)
class Node:
    """One server of a cluster or a Sentinel setup, as the topology describes it."""

    #: ``host:port``.
    address: str
    #: ``primary``, ``replica`` or ``sentinel``.
    role: str
    #: A replica's primary (``host:port``), when known.
    primary: str | None = None
    #: A cluster primary's hash slots, as inclusive ``(first, last)`` ranges.
    slots: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    """Findings under one heading: about one node, or (``node`` None) about the whole."""

    heading: str
    findings: Sequence[Finding]
    node: Node | None = None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Everything doctor found, in the order shown; ``mode`` is standalone, cluster or sentinel."""

    mode: str
    sections: Sequence[Section]

    @property
    def findings(self) -> list[Finding]:
        """Every section's findings, in order."""
        return [finding for section in self.sections for finding in section.findings]

    @property
    def nodes(self) -> list[Node]:
        """Every node a section is about, in order."""
        return [section.node for section in self.sections if section.node is not None]


def node_findings(facts: Facts | None, error: str, *, primary: bool) -> list[Finding]:
    """A node's findings: from its facts, or a ``connect`` finding saying why there are none."""
    if facts is not None:
        return evaluate(facts) if primary else evaluate_replica(facts)
    # A primary doctor cannot ask may still serve the application; nothing says its records
    # are safe, which fails. A replica that cannot be asked is a standby fewer.
    return [Finding("connect", Level.FAIL if primary else Level.WARN, error)]


def slot_ranges(slots: Sequence[tuple[int, int]]) -> str:
    """``0-5460,10923`` for ranges as CLUSTER NODES lists them; ``none`` for no slot."""
    if not slots:
        return "none"
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in slots)
