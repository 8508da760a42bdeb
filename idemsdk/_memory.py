"""The embedded store: Redis semantics in one process, for development, tests, single nodes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._record import ClaimResult, Status

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Entry:
    status: Status
    token: int
    fingerprint: str
    lease_deadline_ms: int
    expires_ms: int
    body: bytes | None = None


class MemoryStore:
    """A thread-safe in-process store with exactly the semantics of the Redis store.

    Usable from threads and from asyncio (its async methods never block on I/O). ``clock``
    returns seconds since the epoch; inject a fake one to test expiry without sleeping.
    Records live only as long as the process.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._last_token = 0
        self._writes_since_sweep = 0
        self._sweep_after = 1024

    def __len__(self) -> int:
        """How many unexpired records the store holds."""
        with self._lock:
            now = self._now_ms()
            return sum(1 for entry in self._entries.values() if entry.expires_ms > now)

    def telemetry_attributes(self) -> dict[str, str | int]:
        """What OpenTelemetry spans say about this store."""
        return {"db.system.name": "memory"}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _live(self, key: str, now_ms: int) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_ms <= now_ms:
            del self._entries[key]
            return None
        return entry

    def _new_token(self, previous: int) -> int:
        # Like the Redis script: larger than the previous owner's and time-based, so tokens
        # grow across releases; the store-wide counter keeps them unique under a frozen clock.
        token = max(previous + 1, int(self._clock() * 1_000_000), self._last_token + 1)
        self._last_token = token
        return token

    def _sweep(self, now_ms: int) -> None:
        # Amortised O(1): a full pass only after as many new records as the pass left behind.
        self._writes_since_sweep += 1
        if self._writes_since_sweep < self._sweep_after:
            return
        for key in [k for k, e in self._entries.items() if e.expires_ms <= now_ms]:
            del self._entries[key]
        self._writes_since_sweep = 0
        self._sweep_after = max(1024, len(self._entries))

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        with self._lock:
            now = self._now_ms()
            entry = self._live(key, now)
            if entry is None:
                self._sweep(now)
                token = self._new_token(0)
                deadline = now + lease_ms
                self._entries[key] = _Entry(
                    Status.IN_PROGRESS, token, fingerprint, deadline, now + max(ttl_ms, lease_ms)
                )
                return ClaimResult(True, token, deadline, now)
            if (
                entry.status is Status.IN_PROGRESS
                and entry.lease_deadline_ms <= now
                and entry.fingerprint == fingerprint
            ):
                entry.token = self._new_token(entry.token)
                entry.lease_deadline_ms = now + lease_ms
                entry.expires_ms = now + max(ttl_ms, lease_ms)
                return ClaimResult(True, entry.token, entry.lease_deadline_ms, now, takeover=True)
            return ClaimResult(
                False,
                entry.token,
                entry.lease_deadline_ms,
                now,
                status=entry.status,
                fingerprint=entry.fingerprint,
                body=entry.body,
            )

    def _owned(self, key: str, token: int, now_ms: int) -> _Entry | None:
        entry = self._live(key, now_ms)
        if entry is None or entry.token != token or entry.status is not Status.IN_PROGRESS:
            return None
        return entry

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        with self._lock:
            now = self._now_ms()
            entry = self._live(key, now)
            if entry is None or entry.token != token:
                return False
            if entry.status is not Status.IN_PROGRESS:
                # This very outcome, stored already, is stored (the Redis scripts answer so
                # for a completion resent after its reply was lost); any other is not.
                return (entry.status, entry.body) == (status, body)
            entry.status = status
            entry.body = body
            entry.lease_deadline_ms = 0
            entry.expires_ms = now + ttl_ms
            return True

    def release(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        with self._lock:
            if self._owned(key, token, self._now_ms()) is None:
                return False
            del self._entries[key]
            return True

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        with self._lock:
            now = self._now_ms()
            entry = self._owned(key, token, now)
            if entry is None:
                return False
            entry.lease_deadline_ms = now + lease_ms
            entry.expires_ms = max(entry.expires_ms, entry.lease_deadline_ms)
            return True

    # The async face: the lock is only ever held for a dict operation, so calling the sync
    # methods from the event loop does not block it in any way that matters.

    async def aclaim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        return self.claim(key, fingerprint, lease_ms, ttl_ms)

    async def acomplete(
        self, key: str, token: int, status: Status, body: bytes, ttl_ms: int
    ) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        return self.complete(key, token, status, body, ttl_ms)

    async def arelease(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        return self.release(key, token)

    async def arenew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        return self.renew(key, token, lease_ms)
