"""Lease renewal for running calls: one shared renewer per store, never a thread per call.

A running call's lease is renewed every third of its length, so a long call keeps its
claim for as long as its process lives; when the process dies the renewals stop and the
lease runs out, and the next caller takes over. A renewal the store refuses means another
caller already took over: the call will find out when its completion is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from typing import Any, Protocol

from ._store import AsyncStore, Store

__all__ = ["Lease", "TaskRenewer", "ThreadRenewer", "task_renewer", "thread_renewer"]

log = logging.getLogger("idemsdk")

#: A renewer with nothing to renew lingers this long before its thread or task ends.
IDLE_SECONDS = 2.0
#: After a failed renewal (store unreachable), try again this soon rather than a third later.
RETRY_SECONDS = 0.5


class _Renewer(Protocol):
    def drop(self, lease: Lease) -> None: ...


class Lease:
    """A running call's claim, as the renewer tracks it."""

    __slots__ = ("_renewer", "due", "key", "lease_ms", "token")

    def __init__(self, renewer: _Renewer, key: str, token: int, lease_ms: int) -> None:
        self._renewer = renewer
        self.key = key
        self.token = token
        self.lease_ms = lease_ms
        self.due = time.monotonic() + lease_ms / 3000

    def end(self) -> None:
        """Stop renewing: the call finished."""
        self._renewer.drop(self)

    def next_due(self, renewed: bool) -> float:
        """When to renew next: a third of the lease, or soon after a failed attempt."""
        period = self.lease_ms / 3000
        return time.monotonic() + (period if renewed else min(period, RETRY_SECONDS))


class ThreadRenewer:
    """Renews the leases of a sync store from one daemon thread, started on demand."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._leases: set[Lease] = set()
        # hold/drop run on every call: they take the bare lock (C-level), not the Condition.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._next_wake = float("inf")

    def hold(self, key: str, token: int, lease_ms: int) -> Lease:
        """Start renewing a lease until :meth:`drop`."""
        lease = Lease(self, key, token, lease_ms)
        with self._lock:
            self._leases.add(lease)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="idemsdk-heartbeat", daemon=True
                )
                self._thread.start()
            elif lease.due < self._next_wake:
                self._wake.notify()
        return lease

    def drop(self, lease: Lease) -> None:
        """Stop renewing a lease (the call finished)."""
        with self._lock:
            self._leases.discard(lease)

    def _due(self) -> list[Lease] | None:
        """Wait until some lease is due; None when idle long enough to stop."""
        with self._wake:
            while True:
                now = time.monotonic()
                if not self._leases:
                    self._next_wake = now + IDLE_SECONDS
                    self._wake.wait(IDLE_SECONDS)
                    if not self._leases:
                        self._thread = None
                        return None
                    continue
                due = [lease for lease in self._leases if lease.due <= now]
                if due:
                    return due
                self._next_wake = min(lease.due for lease in self._leases)
                self._wake.wait(self._next_wake - now)

    def _run(self) -> None:
        try:
            while (due := self._due()) is not None:
                for lease in due:
                    lease.due = lease.next_due(self._renew(lease))
        finally:
            with self._lock:  # however it ended, the next hold() starts a new thread
                if self._thread is threading.current_thread():
                    self._thread = None

    def _renew(self, lease: Lease) -> bool:
        try:
            if not self._store.renew(lease.key, lease.token, lease.lease_ms):
                self.drop(lease)  # taken over: nothing left to keep alive
        except Exception:  # any error: a dead renewer would let every running call be taken over
            log.warning("idemsdk: lease renewal failed, retrying", exc_info=True)
            return False
        return True


class TaskRenewer:
    """Renews the leases of an async store from one task on one event loop."""

    def __init__(self, store: AsyncStore) -> None:
        self._store = store
        self._leases: set[Lease] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def hold(self, key: str, token: int, lease_ms: int) -> Lease:
        """Start renewing a lease until :meth:`drop`; call from the loop's thread."""
        lease = Lease(self, key, token, lease_ms)
        self._leases.add(lease)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="idemsdk-heartbeat"
            )
        else:
            self._wake.set()
        return lease

    def drop(self, lease: Lease) -> None:
        """Stop renewing a lease (the call finished)."""
        self._leases.discard(lease)

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            timeout = min((lease.due for lease in self._leases), default=now + IDLE_SECONDS) - now
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(timeout, 0))
            if not self._leases and time.monotonic() - now >= IDLE_SECONDS:
                return
            now = time.monotonic()
            due = [lease for lease in self._leases if lease.due <= now]
            results = await asyncio.gather(*(self._renew(lease) for lease in due))
            for lease, renewed in zip(due, results, strict=True):
                lease.due = lease.next_due(renewed)

    async def _renew(self, lease: Lease) -> bool:
        try:
            if not await self._store.arenew(lease.key, lease.token, lease.lease_ms):
                self.drop(lease)
        except Exception:  # see ThreadRenewer._renew
            log.warning("idemsdk: lease renewal failed, retrying", exc_info=True)
            return False
        return True


_thread_renewers: weakref.WeakKeyDictionary[Any, ThreadRenewer] = weakref.WeakKeyDictionary()
_task_renewers: weakref.WeakKeyDictionary[
    Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TaskRenewer]
] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child has none of its parent's threads, but would find the parent's renewers
    # marked as running: start afresh so its calls' leases are renewed by its own thread.
    global _thread_renewers, _task_renewers, _registry_lock
    _thread_renewers = weakref.WeakKeyDictionary()
    _task_renewers = weakref.WeakKeyDictionary()
    _registry_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_after_fork)


def thread_renewer(store: Store) -> ThreadRenewer:
    """The one thread renewer of ``store``."""
    renewer = _thread_renewers.get(store)
    if renewer is None:
        with _registry_lock:
            renewer = _thread_renewers.setdefault(store, ThreadRenewer(store))
    return renewer


def task_renewer(store: AsyncStore) -> TaskRenewer:
    """The task renewer of ``store`` on the running event loop."""
    loop = asyncio.get_running_loop()
    per_loop = _task_renewers.get(store)
    if per_loop is None:
        per_loop = _task_renewers.setdefault(store, weakref.WeakKeyDictionary())
    renewer = per_loop.get(loop)
    if renewer is None:
        renewer = per_loop.setdefault(loop, TaskRenewer(store))
    return renewer
