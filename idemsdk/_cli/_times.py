"""Times as operators read them: ISO 8601 UTC and short durations; no I/O."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["duration", "utc"]


def utc(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC: ``2026-01-31T12:00:00.250Z``."""
    # timezone.utc, not datetime.UTC: that alias is Python 3.11+.
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(ms: int) -> str:
    """A span of time: ``850 ms``, ``12.3 s``, ``4m05s``, ``2h05m``, ``3d04h``."""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s"
