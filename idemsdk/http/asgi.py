"""``IdempotencyMiddleware`` for ASGI apps (Starlette, FastAPI, any ASGI 3 app).

    app.add_middleware(IdempotencyMiddleware, idempotency=Idempotency(AsyncRedisStore(...)))

The request body is read whole (up to ``max_body_bytes``) to fingerprint it, then handed to
the app again. The app's response is held back until it is complete, then stored and sent;
a streamed response (a body sent in several parts) or one over the limit is passed through
as it comes, marked ``Idempotency-Stored: false``, and its claim released.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from .._errors import IdempotencyError, LeaseLost
from .._idempotency import run_call_async
from .._store import AsyncStore
from ._core import (
    NOT_STORED,
    BodyTooLarge,
    Guard,
    HttpRequest,
    Middleware,
    Reply,
    StoredResponse,
    Unstored,
    unstored,
)

__all__ = ["IdempotencyMiddleware"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def _encoded(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [*reply.headers]
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("content-length", str(len(reply.body))))
    await send(
        {"type": "http.response.start", "status": reply.status, "headers": _encoded(headers)}
    )
    await send({"type": "http.response.body", "body": reply.body})


async def _read_body(receive: Receive, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left
            break
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise BodyTooLarge
        parts.append(part)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


class _Run:
    """One run of the app: its request body replayed, its response captured or passed on."""

    def __init__(self, guard: Guard, body: bytes, receive: Receive, send: Send) -> None:
        self._guard, self._body, self._receive, self._send = guard, body, receive, send
        self._delivered = False
        self._start: Message | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self.passed_through = False  # the response went out as the app sent it
        self.response: StoredResponse | None = None  # a complete response, once there is one

    async def receive(self) -> Message:
        if not self._delivered:
            self._delivered = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        return await self._receive()  # after the body: the client's disconnect, when it comes

    async def send(self, message: Message) -> None:
        if self.passed_through:
            await self._send(message)
        elif message["type"] == "http.response.start":
            self._start = message
        elif message["type"] == "http.response.body":
            part = message.get("body", b"")
            self._parts.append(part)
            self._size += len(part)
            if message.get("more_body", False) or self._size > self._guard.max_body_bytes:
                await self._pass_through(message.get("more_body", False))

    async def _pass_through(self, more_body: bool) -> None:
        # A stream, or too large to store: what was held back goes out now, marked.
        assert self._start is not None, "ASGI: a response body before its start"
        self.passed_through = True
        start = dict(self._start)
        start["headers"] = [*start.get("headers", []), *_encoded([NOT_STORED])]
        await self._send(start)
        await self._send(
            {"type": "http.response.body", "body": b"".join(self._parts), "more_body": more_body}
        )

    async def __call__(self, app: ASGIApp, scope: MutableMapping[str, Any]) -> StoredResponse:
        await app(scope, self.receive, self.send)
        if self.passed_through or self._start is None:
            raise Unstored(None)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self._start.get("headers", [])
        ]
        body = b"".join(self._parts)
        self.response = StoredResponse(self._start["status"], headers, body)
        return self._guard.keep(self._start["status"], headers, body)


class IdempotencyMiddleware(Middleware[ASGIApp]):
    """Claims each guarded request's ``Idempotency-Key`` and replays the stored response.

    Takes the app, the :class:`~idemsdk.Idempotency` to run requests through (on an async
    store), and the options of :class:`idemsdk.http._core.Middleware`.
    """

    _store = AsyncStore
    _stores = "an async store (AsyncRedisStore or MemoryStore)"

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        guard = self.guard
        headers = _headers(scope.get("headers", [])) if scope["type"] == "http" else {}
        if scope["type"] != "http" or not guard.claims(scope["method"], headers):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive, guard.max_body_bytes)
        except BodyTooLarge:
            await _send_reply(send, guard.too_large())
            return
        request = HttpRequest(scope["method"], scope.get("path", "/"), headers, scope)
        run = _Run(guard, body, receive, send)
        try:
            identified = guard.identify(request, body)
            if isinstance(identified, Reply):  # a missing or malformed key
                await _send_reply(send, identified)
                return
            response = await run_call_async(guard.idempotency, identified, run, self.app, scope)
        except Unstored as exc:
            if exc.response is not None:
                await _send_reply(send, unstored(exc.response))
            return  # else it went out as the app sent it
        except IdempotencyError as exc:
            if isinstance(exc, LeaseLost) and run.response is not None:
                # It ran, but another request took over: what it made is sent, not stored.
                await _send_reply(send, unstored(run.response))
                return
            await _send_reply(send, guard.refusal(exc))
            return
        await _send_reply(send, guard.reply(identified, response, run.response))
