"""The store protocols: what the engine needs from a place that keeps records.

A store moves opaque bytes and guarantees atomicity; the engine owns keys, codecs, policy
and telemetry. To plug in another backend, implement :class:`Store` (sync) and/or
:class:`AsyncStore` (async) — no subclassing needed — and run the contract suite in
``tests/contract`` against it.

Every operation is atomic on one key. Durations are milliseconds; the store decides
"now" from its own clock (Redis uses the server's clock, so a fleet of machines with skewed
clocks still agrees on when a lease ran out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ._record import ClaimResult, Status

__all__ = ["AsyncStore", "PerStore", "ReplicatedStore", "Store"]


@runtime_checkable
class Store(Protocol):
    """A synchronous store.

    - ``claim``: if the key is absent, create an ``IN_PROGRESS`` record owned by a new fencing
      token, with a lease of ``lease_ms`` and a lifetime of at least ``ttl_ms``, and answer
      ``acquired=True``. If it holds an ``IN_PROGRESS`` record whose lease ran out and whose
      fingerprint equals ``fingerprint``, take it over the same way with a new, larger token
      (``takeover=True``). Otherwise answer the record as it is (``acquired=False``).
    - ``complete``: if ``token`` still owns the ``IN_PROGRESS`` record, store ``status`` and
      ``body`` and keep the record ``ttl_ms``; answer whether it did.
    - ``release``: if ``token`` still owns the ``IN_PROGRESS`` record, delete it; answer
      whether it did.
    - ``renew``: if ``token`` still owns the ``IN_PROGRESS`` record, move its lease deadline
      to now + ``lease_ms``; answer whether it did.

    Errors reaching the backend raise :class:`~idemsdk.StoreUnavailable`; a value under the
    key that is not a record raises :class:`~idemsdk.RecordCorrupted`.
    """

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        ...

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        ...

    def release(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        ...

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        ...


@runtime_checkable
class AsyncStore(Protocol):
    """An asynchronous store: the same contract as :class:`Store`, awaited."""

    async def aclaim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        """Take ownership of ``key`` or answer the record that holds it."""
        ...

    async def acomplete(
        self, key: str, token: int, status: Status, body: bytes, ttl_ms: int
    ) -> bool:
        """Store the outcome if ``token`` still owns the key."""
        ...

    async def arelease(self, key: str, token: int) -> bool:
        """Delete the in-progress record if ``token`` still owns it."""
        ...

    async def arenew(self, key: str, token: int, lease_ms: int) -> bool:
        """Extend the lease if ``token`` still owns the key."""
        ...


@runtime_checkable
class ReplicatedStore(Protocol):
    """A store whose writes can wait for replicas: what ``Idempotency(wait_replicas=N)`` needs.

    ``with_wait`` answers a store on the same backend whose claims and completions return
    only once ``replicas`` replicas hold the write, or raise
    :class:`~idemsdk.NotReplicated` when fewer did within ``timeout`` seconds (a claim is
    released first, so nothing runs). Releases and renewals need not wait: losing one in a
    failover only delays a retry until the lease runs out.
    """

    def with_wait(self, replicas: int, timeout: float) -> Store | AsyncStore:
        """This store, with writes that wait for ``replicas`` acknowledgements."""
        ...


T = TypeVar("T")


class PerStore(Generic[T]):
    """One object per store, made on first use and kept: a wrapper, a breaker.

    Keyed by identity (stores need not be hashable), holding the store too so that a new
    store at a dead one's address never gets its object. One per store matters: the lease
    renewer is one per store object, so a wrapper made per call would start one per call.
    """

    def __init__(self, make: Callable[[Any], T]) -> None:
        self._make = make
        self._found: dict[int, tuple[Any, T]] = {}
        self._lock = threading.Lock()

    def __call__(self, store: Any) -> T:
        found = self._found.get(id(store))
        if found is not None and found[0] is store:
            return found[1]
        with self._lock:
            found = self._found.get(id(store))
            if found is None or found[0] is not store:
                found = self._found[id(store)] = (store, self._make(store))
            return found[1]
