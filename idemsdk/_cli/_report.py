"""``doctor``'s output: findings as aligned text or as JSON, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ._checks import Finding, Level

__all__ = ["report_json", "report_text"]

_COUNTED = ((Level.FAIL, "failure"), (Level.WARN, "warning"), (Level.UNKNOWN, "unknown"))


def report_text(url: str, findings: Sequence[Finding], status: int) -> str:
    """One line per finding, then a summary with the exit status."""
    width = max((len(finding.check) for finding in findings), default=0)
    lines = [f"idemsdk doctor {url}"]
    lines += [
        f"  {finding.level.value:<7}  {finding.check:<{width}}  {finding.reason}"
        for finding in findings
    ]
    counts = [
        f"{n} {name}{'' if n == 1 or name == 'unknown' else 's'}"
        for level, name in _COUNTED
        if (n := sum(finding.level is level for finding in findings))
    ]
    lines.append(f"{', '.join(counts) or 'all OK'}: exit {status}")
    return "\n".join(lines)


def report_json(url: str, findings: Sequence[Finding], status: int) -> str:
    """The same as a JSON object: ``url``, ``findings`` (check, level, reason), ``exit``."""
    document = {
        "url": url,
        "findings": [
            {"check": finding.check, "level": finding.level.value, "reason": finding.reason}
            for finding in findings
        ],
        "exit": status,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
