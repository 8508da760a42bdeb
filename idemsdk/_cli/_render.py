"""``inspect``'s output: a record as ``redis-cli TTL`` and ``HGETALL`` together, or JSON; no I/O."""

from __future__ import annotations

from typing import Any

import orjson

from .._record import Status
from ._times import duration, utc
from ._view import RecordView, next_call

__all__ = ["render_json", "render_text"]


def render_text(view: RecordView) -> str:
    """Aligned ``name  value`` lines, then the result or cached error."""
    record = view.record
    rows: list[tuple[str, str]] = [
        ("key", view.key),
        ("status", view.status),
        ("ttl", _ttl(view.ttl_ms)),
        ("token", "unreadable" if view.token is None else str(view.token)),
        ("fingerprint", view.fingerprint),
    ]
    if view.status == Status.IN_PROGRESS.value:
        rows.append(("lease until", _when(view.lease_deadline_ms, view.now_ms)))
    rows.append(("created", _when(view.created_ms, view.now_ms)))
    if view.done_ms is not None:
        rows.append(("done", _when(view.done_ms, view.now_ms)))
    if view.body_bytes is not None:
        rows.append(("codec", view.header or "none (the body has no header line)"))
        size = f"{view.body_bytes} bytes"
        if view.result_json_bytes is not None:
            size += f" stored; the result is {view.result_json_bytes} bytes of JSON"
        rows.append(("body", size))
    if record is not None and record.trace_id:
        rows.append(("trace", f"{record.trace_id} span {record.span_id}"))
    if view.problem is not None:
        rows.append(("problem", view.problem))
    rows.append(("next call", next_call(view)))
    if record is not None and record.status is Status.FAILED:
        rows.append(("error", f"{record.error_type}: {record.error_message}"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {_printable(value)}" for name, value in rows]
    if record is not None and record.status is Status.COMPLETED:
        # JSON escapes control characters itself.
        lines += ["result:", _pretty(record.result)]
    return "\n".join(lines)


def render_json(view: RecordView) -> str:
    """Every field of the text form, as one JSON object (times in ms and ISO UTC)."""
    record = view.record
    document: dict[str, Any] = {
        "key": view.key,
        "status": view.status,
        "ttl_seconds": None if view.ttl_ms is None else view.ttl_ms / 1000,
        "token": view.token,
        "fingerprint": view.fingerprint,
        "lease_deadline": _moment(view.lease_deadline_ms, view.now_ms),
        "created": _moment(view.created_ms, view.now_ms),
        "done": _moment(view.done_ms, view.now_ms),
        "server_time": {"ms": view.now_ms, "utc": utc(view.now_ms)},
        "codec": view.header,
        "body_bytes": view.body_bytes,
        "result_json_bytes": view.result_json_bytes,
        "result": None,
        "error": None,
        "trace_id": (record.trace_id or None) if record is not None else None,
        "span_id": (record.span_id or None) if record is not None else None,
        "problem": view.problem,
        "next_call": next_call(view),
    }
    if record is not None and record.status is Status.COMPLETED:
        document["result"] = record.result
    elif record is not None and record.status is Status.FAILED:
        document["error"] = {"type": record.error_type, "message": record.error_message}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def _ttl(ttl_ms: int | None) -> str:
    if ttl_ms is None:
        return "none: the key never expires (idemsdk always sets one)"
    return f"{ttl_ms // 1000} s ({duration(ttl_ms)})"


def _when(ms: int | None, now_ms: int) -> str:
    if ms is None:
        return "not set"
    delta = ms - now_ms
    relative = f"in {duration(delta)}" if delta > 0 else f"{duration(-delta)} ago"
    return f"{utc(ms)} ({relative})"


def _moment(ms: int | None, now_ms: int) -> dict[str, Any] | None:
    if ms is None:
        return None
    return {"ms": ms, "utc": utc(ms), "seconds_from_now": (ms - now_ms) / 1000}


def _printable(text: str) -> str:
    """``text`` with control characters escaped: stored values must not drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
