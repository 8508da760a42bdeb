"""A circuit breaker per store: fail fast while the store is down, probe it now and then.

Without one, every call during an outage waits for its own connect timeout (2 s by default)
before it fails or, with ``on_store_error="execute"``, runs unprotected: an outage turns
into a pile of stalled requests. After ``failures`` consecutive connection failures the
breaker opens: calls fail at once with :class:`~idemsdk.StoreUnavailable` for ``cooldown``
seconds, then one call is let through as a probe. Its success closes the breaker; its
failure opens it for another cool-down. What a failing call does is still the caller's
``on_store_error`` policy; the breaker only decides how fast it fails.

Only unavailability counts (connection refused, timeouts): a store that answers with an
error is up, and so is a primary whose replicas are too slow to acknowledge a write
(:class:`~idemsdk.NotReplicated`): replays from it still work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ._errors import ConfigurationError, IdempotencyError, NotReplicated, StoreUnavailable
from ._record import ClaimResult, Status
from ._store import PerStore

__all__ = ["BreakerStore", "CircuitBreaker"]

log = logging.getLogger("idemsdk")

CLOSED, OPEN, PROBING = "closed", "open", "probing"


class CircuitBreaker:
    """Counts a store's consecutive connection failures; opens after ``failures`` of them."""

    def __init__(
        self,
        failures: int = 5,
        cooldown: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ConfigurationError(f"failures must be a positive int, not {failures!r}")
        if not cooldown > 0:
            raise ConfigurationError(
                f"cooldown must be a positive number of seconds, not {cooldown!r}"
            )
        self.failures, self.cooldown, self._clock = failures, float(cooldown), clock
        self.state = CLOSED
        self._count = 0  # consecutive failures
        self._reopen_at = 0.0
        self._lock = threading.Lock()
        self._stores = PerStore(lambda store: BreakerStore(store, self))

    def __repr__(self) -> str:
        return f"CircuitBreaker(failures={self.failures}, cooldown={self.cooldown}, {self.state})"

    def admit(self) -> None:
        """Before a store operation: raise StoreUnavailable at once while the breaker is open."""
        if self.state is CLOSED:  # the hot path: one attribute read, no lock
            return
        with self._lock:
            if self.state is OPEN and self._clock() >= self._reopen_at:
                self.state = PROBING  # this caller is the probe; the others keep failing fast
                return
            if self.state is CLOSED:
                return
            wait = max(self._reopen_at - self._clock(), 0.0)
        raise StoreUnavailable(
            f"the store failed {self._count} times in a row; failing fast for {wait:.1f} s "
            "more (circuit breaker open)"
        )

    def succeeded(self) -> None:
        """After an operation the store answered."""
        if self.state is CLOSED and self._count == 0:
            return
        with self._lock:
            was, self.state, self._count = self.state, CLOSED, 0
        if was is not CLOSED:
            log.warning("idemsdk: the store answers again; circuit breaker closed")

    def failed(self) -> None:
        """After an operation the store did not answer."""
        with self._lock:
            self._count += 1
            if self.state is CLOSED and self._count < self.failures:
                return
            self.state, self._reopen_at = OPEN, self._clock() + self.cooldown
            count = self._count
        log.warning(
            "idemsdk: the store failed %d times in a row; circuit breaker open for %.1f s",
            count,
            self.cooldown,
        )

    def settle(self, exc: BaseException) -> None:
        """After an operation that raised ``exc``."""
        if isinstance(exc, StoreUnavailable) and not isinstance(exc, NotReplicated):
            self.failed()
        elif isinstance(exc, IdempotencyError):
            self.succeeded()  # the store answered, with something we could not use
        elif self.state is PROBING:
            # Cancelled or interrupted: no verdict. The next caller probes again at once.
            with self._lock:
                self.state, self._reopen_at = OPEN, self._clock()

    def wrap(self, store: Any) -> BreakerStore:
        """``store`` behind this breaker: one wrapper per store, kept (renewers key on it)."""
        return self._stores(store)


#: The breaker every ``Idempotency`` on a store shares unless given its own.
default_breaker: PerStore[CircuitBreaker] = PerStore(lambda _: CircuitBreaker())


class BreakerStore:
    """A store whose operations go through a :class:`CircuitBreaker`; both protocols."""

    def __init__(self, store: Any, breaker: CircuitBreaker) -> None:
        self.inner, self.breaker = store, breaker

    def __repr__(self) -> str:
        return f"BreakerStore({self.inner!r}, {self.breaker!r})"

    def telemetry_attributes(self) -> Any:
        """The wrapped store's description, for its spans."""
        describe = getattr(self.inner, "telemetry_attributes", None)
        return describe() if callable(describe) else {}

    def _call(self, operation: Callable[..., Any], *args: Any) -> Any:
        breaker = self.breaker
        breaker.admit()
        try:
            result = operation(*args)
        except BaseException as exc:
            breaker.settle(exc)
            raise
        breaker.succeeded()
        return result

    async def _acall(self, operation: Callable[..., Any], *args: Any) -> Any:
        breaker = self.breaker
        breaker.admit()
        try:
            result = await operation(*args)
        except BaseException as exc:
            breaker.settle(exc)
            raise
        breaker.succeeded()
        return result

    def claim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        result: ClaimResult = self._call(self.inner.claim, key, fingerprint, lease_ms, ttl_ms)
        return result

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        return bool(self._call(self.inner.complete, key, token, status, body, ttl_ms))

    def release(self, key: str, token: int) -> bool:
        return bool(self._call(self.inner.release, key, token))

    def renew(self, key: str, token: int, lease_ms: int) -> bool:
        return bool(self._call(self.inner.renew, key, token, lease_ms))

    async def aclaim(self, key: str, fingerprint: str, lease_ms: int, ttl_ms: int) -> ClaimResult:
        result: ClaimResult = await self._acall(
            self.inner.aclaim, key, fingerprint, lease_ms, ttl_ms
        )
        return result

    async def acomplete(
        self, key: str, token: int, status: Status, body: bytes, ttl_ms: int
    ) -> bool:
        return bool(await self._acall(self.inner.acomplete, key, token, status, body, ttl_ms))

    async def arelease(self, key: str, token: int) -> bool:
        return bool(await self._acall(self.inner.arelease, key, token))

    async def arenew(self, key: str, token: int, lease_ms: int) -> bool:
        return bool(await self._acall(self.inner.arenew, key, token, lease_ms))
