"""Fixtures for the middleware tests: each app behind its middleware, on each store.

``site`` is one of four: the Starlette app behind the ASGI middleware or the Flask app
behind the WSGI middleware, each on a MemoryStore or a real Redis. Requests go through
httpx's in-process transports, so a test reads like a client's session either way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from idemsdk import AsyncRedisStore, Idempotency, MemoryStore, RedisStore
from idemsdk.http import IdempotencyMiddleware, WSGIIdempotencyMiddleware

from .apps import Service, flask_app, starlette_app


class Site:
    """One app behind its middleware: send requests, alone or at once."""

    def __init__(self, kind: str, service: Service, make: Callable[..., Any]) -> None:
        self.kind, self.service, self._make = kind, service, make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._clients: list[Any] = []
        self._closers: list[Callable[[], Any]] = []

    def mount(self, **options: Any) -> Site:
        """(Re)build the middleware with these options; the store stays the same."""
        app = self._make(**options)
        if self.kind == "asgi":
            if self._loop is None:  # one loop for the test: async Redis clients stay on it
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
                self._thread.start()
            transport: Any = httpx.ASGITransport(app=app)
            self._client = httpx.AsyncClient(transport=transport, base_url="http://test")
        else:
            self._client = httpx.Client(
                transport=httpx.WSGITransport(app=app), base_url="http://test"
            )
        self._clients.append(self._client)
        return self

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One request; the app's exceptions propagate, as httpx's transports do."""
        response: httpx.Response
        if self._loop is None:
            response = self._client.request(method, path, **options)
        else:
            coroutine = self._client.request(method, path, **options)
            response = asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)
        return response

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def at_once(self, requests: list[dict[str, Any]]) -> list[httpx.Response]:
        """Several POSTs sent concurrently."""
        with ThreadPoolExecutor(len(requests)) as pool:
            futures = [pool.submit(self.post, **request) for request in requests]
            return [future.result(30) for future in futures]

    def close(self) -> None:
        self.service.release.set()
        if self._loop is None:
            for close in [*(client.close for client in self._clients), *self._closers]:
                close()
            return
        loop, thread = self._loop, self._thread
        for close in [*(client.aclose for client in self._clients), *self._closers]:
            asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert thread is not None
        thread.join(10)
        loop.close()


def _store(kind: str, backend: str, request: pytest.FixtureRequest, site: Site) -> Any:
    if backend == "memory":
        return MemoryStore()
    url = request.getfixturevalue("redis_url")
    if kind == "asgi":
        async_client = redis.asyncio.Redis.from_url(url)
        site._closers.append(async_client.aclose)
        return AsyncRedisStore(async_client)
    client = redis.Redis.from_url(url)
    site._closers.append(client.close)
    return RedisStore(client)


@pytest.fixture(
    params=[
        pytest.param(("asgi", "memory"), id="asgi-memory"),
        pytest.param(("wsgi", "memory"), id="wsgi-memory"),
        pytest.param(("asgi", "redis"), id="asgi-redis", marks=pytest.mark.redis),
        pytest.param(("wsgi", "redis"), id="wsgi-redis", marks=pytest.mark.redis),
    ]
)
def site(request: pytest.FixtureRequest, prefix: str) -> Iterator[Site]:
    """An app behind its middleware (max_body_bytes=1024), keys under the test's prefix."""
    kind, backend = request.param
    service = Service()
    holder: dict[str, Any] = {}

    def make(**options: Any) -> Any:
        options.setdefault("max_body_bytes", 1024)
        tenant = options.pop("tenant", "shop")
        idem = Idempotency(holder["store"], tenant=tenant, prefix=prefix, lease=5)
        if kind == "asgi":
            return IdempotencyMiddleware(starlette_app(service), idem, **options)
        flask = flask_app(service)
        flask.wsgi_app = WSGIIdempotencyMiddleware(flask.wsgi_app, idem, **options)  # type: ignore[method-assign]
        return flask

    found = Site(kind, service, make)
    holder["store"] = _store(kind, backend, request, found)
    yield found.mount()
    found.close()
