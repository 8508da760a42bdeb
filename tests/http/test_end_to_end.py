"""Both ends for real: idemsdk's httpx client against the example services on real servers.

The Starlette and FastAPI examples run on uvicorn, the Flask example on werkzeug, each on a free
loopback port, both on a real Redis. In front of each, a wrapper processes the first order
completely (the handler runs, the middleware stores the response) and then answers too late:
the client times out, retries with the same key, and must get the original response while
the order is created once. Then a chain: service A, inside its guarded handler, calls
service B; A fails after B answered, the client retries A, and B's handler still ran once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.serving import make_server

from idemsdk import AsyncRedisStore, Idempotency, RedisStore
from idemsdk.client import IdempotencyTransport, RetryPolicy
from idemsdk.http import IdempotencyMiddleware, WSGIIdempotencyMiddleware
from idemsdk.testing import free_port

pytestmark = pytest.mark.redis

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
LATE = 1.5  # seconds the first answer is held back: well past the client's timeout
TIMEOUT = 0.5


def example(name: str) -> ModuleType:
    """A module of docs/examples, loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FirstAnswerLate:
    """Counts POSTs; the first one is processed in full, then answered after ``LATE`` s."""

    def __init__(self) -> None:
        self.posts = 0
        self._lock = threading.Lock()

    def first(self) -> bool:
        with self._lock:
            self.posts += 1
            return self.posts == 1

    def asgi(self, app: Any) -> Any:
        async def late(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] == "POST" and self.first():

                async def swallow(message: Any) -> None:
                    return None

                await app(scope, receive, swallow)  # processed: run, stored
                await asyncio.sleep(LATE)  # the client has given up by now
                return
            await app(scope, receive, send)

        return late

    def wsgi(self, app: Any) -> Any:
        def late(environ: Any, start_response: Any) -> Any:
            if environ["REQUEST_METHOD"] == "POST" and self.first():
                b"".join(app(environ, lambda *args: None))  # processed: run, stored
                time.sleep(LATE)
                # Too late to matter: the client has given up. A 500, so that it could
                # never pass for the order's answer.
                start_response("500 Internal Server Error", [("content-length", "0")])
                return [b""]
            return app(environ, start_response)

        return late


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def retrying_client(base_url: str) -> httpx.Client:
    transport = IdempotencyTransport(retry=RetryPolicy(attempts=4, backoff=0.05))
    return httpx.Client(transport=transport, base_url=base_url, timeout=TIMEOUT)


@pytest.fixture(params=["starlette", "fastapi", "flask"])
def service(
    request: pytest.FixtureRequest, redis_url: str, prefix: str
) -> Iterator[tuple[str, FirstAnswerLate]]:
    """An example service behind its middleware on a real server, its first answer late."""
    late = FirstAnswerLate()
    if request.param != "flask":
        idem = Idempotency(AsyncRedisStore.from_url(redis_url), tenant="shop", prefix=prefix)
        with serve_asgi(late.asgi(example(f"{request.param}_app").build(idem))) as url:
            yield url, late
    else:
        idem = Idempotency(RedisStore.from_url(redis_url), tenant="shop", prefix=prefix)
        app = example("flask_app").build(idem)
        app.wsgi_app = late.wsgi(app.wsgi_app)
        with serve_wsgi(app) as url:
            yield url, late


def test_a_lost_response_is_retried_with_the_same_key_and_replayed(
    service: tuple[str, FirstAnswerLate],
) -> None:
    url, late = service
    with retrying_client(url) as client:
        response = client.post("/orders", json={"sku": "SKU-1", "qty": 2})
        assert response.status_code == 201, response.text
        assert response.json() == {"id": 1, "sku": "SKU-1", "qty": 2}
        assert response.headers["idempotent-replayed"] == "true"  # the stored original
        assert late.posts == 2  # the lost attempt and its retry
        assert client.get("/orders").json() == {"orders": 1}  # created once


def test_without_the_client_s_key_the_retry_would_have_run_twice(
    service: tuple[str, FirstAnswerLate],
) -> None:
    """The control: the same lost response, retried by hand with a new key each time."""
    url, _ = service
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/orders", json={"sku": "SKU-1"}, headers={"Idempotency-Key": "a"})
        client.post("/orders", json={"sku": "SKU-1"}, headers={"Idempotency-Key": "b"})
        assert client.get("/orders").json() == {"orders": 2}


@contextmanager
def chain(redis_url: str, prefix: str) -> Iterator[tuple[str, dict[str, int]]]:
    """Service B (Starlette) creates payments; service A (Flask) takes orders and pays
    through B inside its guarded handler, then fails once after B answered."""
    runs = {"a": 0, "b": 0}

    async def pay(request: Request) -> JSONResponse:
        runs["b"] += 1
        return JSONResponse({"payment": runs["b"], **await request.json()}, status_code=201)

    b_app = Starlette(routes=[Route("/payments", pay, methods=["POST"])])
    b_idem = Idempotency(AsyncRedisStore.from_url(redis_url), tenant="payments", prefix=prefix)
    b_app.add_middleware(IdempotencyMiddleware, idempotency=b_idem, required=True)
    a_app = flask.Flask("orders")
    a_idem = Idempotency(RedisStore.from_url(redis_url), tenant="orders", prefix=prefix)
    a_app.wsgi_app = WSGIIdempotencyMiddleware(a_app.wsgi_app, a_idem)  # type: ignore[method-assign]
    with (
        serve_asgi(b_app) as b_url,
        httpx.Client(transport=IdempotencyTransport(), base_url=b_url, timeout=5) as to_b,
    ):

        @a_app.post("/orders")
        def order() -> Any:
            runs["a"] += 1
            payment = to_b.post("/payments", json={"amount": 1999}).json()
            if runs["a"] == 1:
                raise RuntimeError("A crashed after B answered")  # a 500: A's key released
            return flask.jsonify(order=runs["a"], payment=payment), 201

        with serve_wsgi(a_app) as a_url:
            yield a_url, runs


def test_a_retried_handler_s_downstream_call_runs_once_downstream(
    redis_url: str, prefix: str
) -> None:
    transport = IdempotencyTransport(retry=RetryPolicy(attempts=3, backoff=0.05))
    with (
        chain(redis_url, prefix) as (a_url, runs),
        httpx.Client(transport=transport, base_url=a_url, timeout=5) as client,
    ):
        response = client.post("/orders", json={"sku": "SKU-1"})
    assert response.status_code == 201, response.text
    # A ran twice (its first run failed), and its second call to B carried the same derived
    # key as the first: B replayed its payment instead of charging again.
    assert runs == {"a": 2, "b": 1}
    assert response.json()["payment"] == {"payment": 1, "amount": 1999}
