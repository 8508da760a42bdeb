"""``IdempotencyMiddleware`` for WSGI apps (Flask, Django, any PEP 3333 app).

    app.wsgi_app = WSGIIdempotencyMiddleware(app.wsgi_app, idempotency=Idempotency(store))

The request body is read whole (up to ``max_body_bytes``) to fingerprint it, then handed to
the app again. A response with a ``Content-Length`` (or a list of parts) is complete when
the app returns: it is stored, then sent. Any other iterable is a stream: it is passed
through as the app yields it, marked ``Idempotency-Stored: false``, and the key released.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, cast

from .._engine import Release
from .._errors import IdempotencyError, LeaseLost
from .._idempotency import run_call_sync
from .._store import Store
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

__all__ = ["IdempotencyMiddleware", "WSGIIdempotencyMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _headers(environ: Environ) -> dict[str, str]:
    found = {
        name[5:].replace("_", "-").lower(): str(value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):  # CGI keeps these two without HTTP_
        if environ.get(name):
            found[name.replace("_", "-").lower()] = str(environ[name])
    return found


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a code Python does not name: PEP 3333 still wants a reason phrase
        return f"{status} Status {status}"


def _reply(start_response: StartResponse, reply: Reply) -> list[bytes]:
    headers = list(reply.headers)
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("content-length", str(len(reply.body))))
    start_response(_status_line(reply.status), headers)
    return [reply.body]


def _read_body(environ: Environ, limit: int) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        if int(length) > limit:
            raise BodyTooLarge
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = bytes(stream.read(limit + 1))
        if len(body) > limit:
            raise BodyTooLarge
        return body
    return b""  # PEP 3333: no length, no body


class _Streamed(Release):
    """The app answered with a stream: pass it through, unstored."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: Iterable[bytes]):
        super().__init__("streamed response")
        self.status, self.headers, self.body = status, headers, body


class _Run:
    """One run of the app, its response captured whole or recognized as a stream."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._status = ""
        self._headers: list[tuple[str, str]] = []
        self.response: StoredResponse | None = None

    def _start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: Any = None,  # noqa: ARG002 - PEP 3333's; nothing is sent yet, so no re-raise
    ) -> Callable[[bytes], None]:
        self._status, self._headers = status, list(headers)
        return self._refuse_write

    @staticmethod
    def _refuse_write(data: bytes) -> None:  # noqa: ARG004 - the legacy write() callable
        raise RuntimeError("idemsdk's WSGI middleware does not support write(); return the body")

    def __call__(self, app: WSGIApp, environ: Environ) -> StoredResponse:
        result = app(environ, self._start_response)
        has_length = any(name.lower() == "content-length" for name, _ in self._headers)
        if not has_length and not isinstance(result, (list, tuple)):
            raise _Streamed(self._status, self._headers, result)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(self._status.split(" ", 1)[0])
        self.response = StoredResponse(status, self._headers, body)
        return self._guard.keep(status, self._headers, body)


class WSGIIdempotencyMiddleware(Middleware[WSGIApp]):
    """The WSGI twin of :class:`idemsdk.http.IdempotencyMiddleware` (on a sync store)."""

    _store = Store
    _stores = "a sync store (RedisStore or MemoryStore)"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        method = environ.get("REQUEST_METHOD", "GET")
        headers = _headers(environ)
        if not guard.claims(method, headers):
            return self.app(environ, start_response)
        try:
            body = _read_body(environ, guard.max_body_bytes)
        except BodyTooLarge:
            return _reply(start_response, guard.too_large())
        environ["wsgi.input"] = io.BytesIO(body)  # the app reads the body we read
        request = HttpRequest(method, environ.get("PATH_INFO", "/") or "/", headers, environ)
        run = _Run(guard)
        try:
            identified = guard.identify(request, body)
            if isinstance(identified, Reply):
                return _reply(start_response, identified)
            response = run_call_sync(guard.idempotency, identified, run, self.app, environ)
        except _Streamed as streamed:
            start_response(streamed.status, [*streamed.headers, NOT_STORED])
            return streamed.body
        except Unstored as exc:
            # A WSGI response is complete or a _Streamed one, so an Unstored one is complete.
            return _reply(start_response, unstored(cast(StoredResponse, exc.response)))
        except IdempotencyError as exc:
            if isinstance(exc, LeaseLost) and run.response is not None:
                return _reply(start_response, unstored(run.response))
            return _reply(start_response, guard.refusal(exc))
        return _reply(start_response, guard.reply(identified, response, run.response))


#: The name the issue gives both middlewares; this module's is the WSGI one.
IdempotencyMiddleware = WSGIIdempotencyMiddleware
