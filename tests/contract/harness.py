"""Run one contract test against every store, through the sync or the async decorator.

A test writes its function body once, as plain sync code (it may block on threading events
to hold a call in progress). The harness decorates it as a sync function, or as an async
function whose body runs in a worker thread (so blocking never stalls the event loop), and
calls it from the test's thread either way.

To add a store: give ``STORES`` a factory returning the store for a mode, then the whole
suite runs against it.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

from idemsdk import AsyncStore, Idempotency, Store

Mode = Literal["sync", "async"]


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Harness:
    """One store in one mode, plus the event loop an async mode needs."""

    def __init__(self, name: str, mode: Mode, store: Store | AsyncStore, prefix: str) -> None:
        self.name = name
        self.mode = mode
        self.store = store
        self.prefix = prefix
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="harness")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        if mode == "async":
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._thread.start()

    def __repr__(self) -> str:
        return f"<Harness {self.name}>"

    def idem(self, **options: Any) -> Idempotency:
        """An Idempotency on this harness's store, under the test's own key prefix."""
        options.setdefault("prefix", self.prefix)
        return Idempotency(self.store, **options)

    def decorate(
        self, idem: Idempotency, body: Callable[..., Any], **options: Any
    ) -> Callable[..., Any]:
        """Decorate ``body`` in this harness's mode; the result is called like ``body``."""
        if self.mode == "sync":
            return idem.idempotent(**options)(body)

        @functools.wraps(body)
        async def async_body(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(body, *args, **kwargs)

        decorated = idem.idempotent(**options)(async_body)

        @functools.wraps(body)
        def call(*args: Any, **kwargs: Any) -> Any:
            return self.run(decorated(*args, **kwargs))

        call.settings = decorated.settings  # type: ignore[attr-defined]
        call.key_for = decorated.key_for  # type: ignore[attr-defined]
        return call

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the harness loop and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def start(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Call ``func`` in another thread; the future holds its result or exception."""
        return self._pool.submit(func, *args, **kwargs)

    def close(self) -> None:
        """Stop threads and the loop; close an async client on its own loop."""
        self._pool.shutdown(wait=True)
        if self._loop is not None:
            self.run(_cancel_others())  # the idle heartbeat task, if any
            client = getattr(self.store, "client", None)
            if client is not None and hasattr(client, "aclose"):
                self.run(client.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(10)
            self._loop.close()
        elif hasattr(getattr(self.store, "client", None), "close"):
            self.store.client.close()  # type: ignore[union-attr]
