"""httpx transports that key unsafe requests and retry them with the same key.

Thin drivers: :class:`~idemsdk.client._outgoing.Guard` decides the headers and the policy,
:class:`~idemsdk.client._retry.RetryPolicy` decides each retry; these only send and sleep.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from ._extras import missing

try:
    import anyio
    import httpx
except ImportError as exc:  # anyio comes with httpx
    raise missing("httpx", "IdempotencyTransport and AsyncIdempotencyTransport") from exc

from idemsdk._errors import ConfigurationError

from ._outgoing import DEFAULT_METHODS, LABEL, Guard
from ._retry import RetryPolicy, refused_certificate

__all__ = ["AsyncIdempotencyTransport", "IdempotencyTransport"]

# Failures after which the request may not have been processed, or its answer was lost:
# resending with the same key is safe. A LocalProtocolError or UnsupportedProtocol is ours
# and would fail again; RemoteProtocolError includes a server that closed the connection
# without answering.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _transient(exc: httpx.TransportError) -> bool:
    return isinstance(exc, _TRANSIENT) and not refused_certificate(exc)


def _prepare(guard: Guard, request: httpx.Request) -> RetryPolicy:
    """Add the request's headers (once, before its first send) and return its policy."""
    label = request.extensions.get(LABEL)
    if label is not None and not isinstance(label, str):
        raise ConfigurationError(f"the {LABEL!r} extension must be a str, not {label!r}")
    # Only a body httpx holds in memory can be sent again: a streamed one (an iterator, a
    # file, multipart) is sent once rather than buffered behind the caller's back.
    replayable = isinstance(request.stream, httpx.ByteStream)
    outgoing = guard.outgoing(request.method, request.headers, label, replayable)
    request.headers.update(outgoing.headers)
    return outgoing.policy


class IdempotencyTransport(httpx.BaseTransport):
    """Wraps an httpx transport: adds ``Idempotency-Key`` to unsafe requests, retries safely.

    ``methods`` get a key when they have none; ``retry`` (off by default) resends keyed
    requests and idempotent methods with the same headers; ``sleep`` waits between sends.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        methods: Iterable[str] = DEFAULT_METHODS,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._guard = Guard(methods, retry)
        self._transport = httpx.HTTPTransport() if transport is None else transport
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the wrapped transport, as often as the policy allows."""
        policy = _prepare(self._guard, request)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._transport.handle_request(request)
            except httpx.TransportError as exc:
                delay = policy.after_error(attempt, _transient(exc))
                if delay is None:
                    raise
            else:
                retry_after = response.headers.get("Retry-After")
                delay = policy.after_response(attempt, response.status_code, retry_after)
                if delay is None:
                    return response
                response.close()  # gives the connection back before the wait
            self._sleep(delay)

    def close(self) -> None:
        """Close the wrapped transport (``httpx.Client`` does, when it closes)."""
        self._transport.close()


class AsyncIdempotencyTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`IdempotencyTransport`, for ``httpx.AsyncClient``.

    ``sleep`` defaults to ``anyio.sleep``, which works under asyncio and trio alike.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        methods: Iterable[str] = DEFAULT_METHODS,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ) -> None:
        self._guard = Guard(methods, retry)
        self._transport = httpx.AsyncHTTPTransport() if transport is None else transport
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the wrapped transport, as often as the policy allows."""
        policy = _prepare(self._guard, request)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._transport.handle_async_request(request)
            except httpx.TransportError as exc:
                delay = policy.after_error(attempt, _transient(exc))
                if delay is None:
                    raise
            else:
                retry_after = response.headers.get("Retry-After")
                delay = policy.after_response(attempt, response.status_code, retry_after)
                if delay is None:
                    return response
                await response.aclose()
            await self._sleep(delay)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._transport.aclose()
