"""A payload read as JSON, strictly: what another service would send must hash the same here."""

from __future__ import annotations

import json
from typing import Any

from .._canonical import canonicalize
from .._errors import CanonicalizationError
from ._errors import UsageError

__all__ = ["parse_payload"]


def parse_payload(data: bytes, source: str) -> Any:
    """The JSON value in ``data``, checked to have a canonical form; UsageError otherwise."""
    if not data.strip():
        raise UsageError(f"{source} is empty: give the payload as JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source} is not UTF-8: {exc}") from exc
    try:
        # The standard parser rather than orjson: it can refuse what orjson lets through,
        # duplicate names (which copy wins differs between languages) and NaN/Infinity.
        payload = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except ValueError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise UsageError(f"{source} nests arrays or objects too deeply") from exc
    # Checked here, so a payload without a canonical form fails before any connection.
    try:
        canonicalize(payload)
    except CanonicalizationError as exc:
        raise UsageError(f"the payload in {source} has no canonical JSON form: {exc}") from exc
    return payload


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise ValueError(f"the name {name!r} appears twice in one object")
        document[name] = value
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")
