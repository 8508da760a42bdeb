"""The same small order service twice: a Starlette (ASGI) app and a Flask (WSGI) app.

Each counts the runs of every handler, so a test can tell a replay from a second run, and
has one handler per behaviour the middleware must handle: a created order (with a cookie
and a hop-by-hop header that must not be replayed), a client error, a server error, an
exception, a streamed and an oversized response, and a slow handler held by an event.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

BIG = b"x" * 4096  # over the tests' max_body_bytes of 1024


class Service:
    """What both apps share: run counts, and the gate the slow handler waits on."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.started = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def ran(self, name: str) -> int:
        with self._lock:
            self.runs[name] += 1
            return self.runs[name]


def created(service: Service, body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    run = service.ran("orders")
    headers = {"x-run": str(run), "set-cookie": f"session=s{run}", "keep-alive": "timeout=5"}
    return {"order": run, "echo": body}, headers


def starlette_app(service: Service) -> Starlette:
    """The order service as an ASGI app."""

    async def orders(request: Request) -> Response:
        document, headers = created(service, await request.json())
        return JSONResponse(document, status_code=201, headers=headers)

    async def reject(request: Request) -> Response:
        return JSONResponse({"error": "bad", "run": service.ran("reject")}, status_code=400)

    async def fail(request: Request) -> Response:
        return JSONResponse({"run": service.ran("fail")}, status_code=503)

    async def boom(request: Request) -> Response:
        service.ran("boom")
        raise RuntimeError("boom")

    async def slow(request: Request) -> Response:
        run = service.ran("slow")
        service.started.set()
        await anyio.to_thread.run_sync(service.release.wait, 10)
        return JSONResponse({"slow": run}, status_code=201)

    async def stream(request: Request) -> Response:
        service.ran("stream")

        async def parts() -> AsyncIterator[bytes]:
            yield b"part one,"
            yield b"part two"

        return StreamingResponse(parts(), media_type="text/plain")

    async def big(request: Request) -> Response:
        service.ran("big")
        return Response(BIG, media_type="application/octet-stream")

    async def listing(request: Request) -> Response:
        return JSONResponse({"orders": service.runs["orders"]})

    return Starlette(
        routes=[
            Route("/orders", orders, methods=["POST", "PATCH"]),
            Route("/orders", listing, methods=["GET"]),
            Route("/reject", reject, methods=["POST"]),
            Route("/fail", fail, methods=["POST"]),
            Route("/boom", boom, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
            Route("/stream", stream, methods=["POST"]),
            Route("/big", big, methods=["POST"]),
        ]
    )


def flask_app(service: Service) -> flask.Flask:
    """The order service as a WSGI app."""
    app = flask.Flask("orders")

    @app.route("/orders", methods=["POST", "PATCH"])
    def orders() -> Any:
        document, headers = created(service, flask.request.get_json())
        return flask.jsonify(document), 201, headers

    @app.get("/orders")
    def listing() -> Any:
        return flask.jsonify(orders=service.runs["orders"])

    @app.post("/reject")
    def reject() -> Any:
        return flask.jsonify(error="bad", run=service.ran("reject")), 400

    @app.post("/fail")
    def fail() -> Any:
        return flask.jsonify(run=service.ran("fail")), 503

    @app.post("/boom")
    def boom() -> Any:
        service.ran("boom")
        raise RuntimeError("boom")

    @app.post("/slow")
    def slow() -> Any:
        run = service.ran("slow")
        service.started.set()
        service.release.wait(10)
        return flask.jsonify(slow=run), 201

    @app.post("/stream")
    def stream() -> Any:
        service.ran("stream")

        def parts() -> Iterator[bytes]:
            yield b"part one,"
            yield b"part two"

        return flask.Response(parts(), mimetype="text/plain")

    @app.post("/big")
    def big() -> Any:
        service.ran("big")
        return flask.Response(BIG, mimetype="application/octet-stream")

    return app
