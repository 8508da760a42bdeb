"""``doctor``'s output: findings as aligned text, grouped by node, or as JSON; no I/O."""

from __future__ import annotations

from typing import Any

import orjson

from ._checks import Finding, Level
from ._topology import Diagnosis, Node

__all__ = ["report_json", "report_text"]

_COUNTED = ((Level.FAIL, "failure"), (Level.WARN, "warning"), (Level.UNKNOWN, "unknown"))


def report_text(url: str, diagnosis: Diagnosis, status: int) -> str:
    """One line per finding under its section's heading, then a summary with the exit status."""
    findings = diagnosis.findings
    # One width for every section, so the reasons line up down the whole report.
    width = max((len(finding.check) for finding in findings), default=0)
    lines = [f"idemsdk doctor {url}"]
    for section in diagnosis.sections:
        if section.heading:
            lines.append(section.heading)
        lines += [
            f"  {finding.level.value:<7}  {finding.check:<{width}}  {finding.reason}"
            for finding in section.findings
        ]
    lines.append(f"{_summary(findings) or 'all OK'}: exit {status}")
    return "\n".join(lines)


def report_json(url: str, diagnosis: Diagnosis, status: int) -> str:
    """The same as a JSON object: ``url``, ``mode``, ``findings``, ``nodes``, ``exit``.

    Each finding is ``check``, ``level``, ``reason`` and ``node``: the ``host:port`` it is
    about, ``null`` for the server ``url`` names or the deployment as a whole.
    """
    document = {
        "url": url,
        "mode": diagnosis.mode,
        "findings": [
            _finding(finding, None if section.node is None else section.node.address)
            for section in diagnosis.sections
            for finding in section.findings
        ],
        "nodes": [_node(node) for node in diagnosis.nodes],
        "exit": status,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def _summary(findings: list[Finding]) -> str:
    counts = [
        f"{n} {name}{'' if n == 1 or name == 'unknown' else 's'}"
        for level, name in _COUNTED
        if (n := sum(finding.level is level for finding in findings))
    ]
    return ", ".join(counts)


def _finding(finding: Finding, node: str | None) -> dict[str, Any]:
    return {
        "check": finding.check,
        "level": finding.level.value,
        "reason": finding.reason,
        "node": node,
    }


def _node(node: Node) -> dict[str, Any]:
    return {
        "address": node.address,
        "role": node.role,
        "primary": node.primary,
        "slots": [list(pair) for pair in node.slots],
    }
