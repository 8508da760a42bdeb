"""A requests adapter that keys unsafe requests and retries them with the same key.

A thin driver, like the httpx transports: :class:`~idemsdk.client._outgoing.Guard` decides
the headers and the policy, :class:`~idemsdk.client._retry.RetryPolicy` each retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from ._extras import missing

try:
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout
except ImportError as exc:
    raise missing("requests", "IdempotencyAdapter") from exc

from ._outgoing import DEFAULT_METHODS, Guard
from ._retry import RetryPolicy, refused_certificate

__all__ = ["IdempotencyAdapter"]


class IdempotencyAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that adds ``Idempotency-Key`` to unsafe requests and retries safely.

    Mount it on a session (``session.mount("https://", IdempotencyAdapter())``). ``methods``
    get a key when they have none; ``retry`` (off by default) resends keyed requests and
    idempotent methods with the same headers; ``sleep`` waits between sends. The pool
    settings are ``HTTPAdapter``'s; its own urllib3 retries stay off (``max_retries=0``):
    retrying is this adapter's job, with one policy for both libraries.
    """

    # HTTPAdapter pickles (with its session) only the attributes listed here.
    __attrs__ = (*HTTPAdapter.__attrs__, "_guard", "_sleep")

    def __init__(
        self,
        *,
        methods: Iterable[str] = DEFAULT_METHODS,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
        pool_block: bool = False,
    ) -> None:
        self._guard = Guard(methods, retry)
        self._sleep = sleep
        super().__init__(pool_connections, pool_maxsize, 0, pool_block)

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """Send ``request``, as often as the policy allows; the session calls this."""
        # The stubs say bytes | str | None; a generator or a file (a streamed upload) can
        # be read once only, so it is sent once.
        body: object = request.body
        replayable = body is None or isinstance(body, (bytes, str))
        outgoing = self._guard.outgoing(request.method or "GET", request.headers, None, replayable)
        request.headers.update(outgoing.headers)
        policy = outgoing.policy
        attempt = 0
        while True:
            attempt += 1
            try:
                response = super().send(request, stream, timeout, verify, cert, proxies)
            except (RequestsConnectionError, Timeout) as exc:
                # Refused, reset, timed out, a TLS handshake cut short: worth another try. A
                # refused certificate will be refused again.
                delay = policy.after_error(attempt, not refused_certificate(exc))
                if delay is None:
                    raise
            else:
                retry_after = response.headers.get("Retry-After")
                delay = policy.after_response(attempt, response.status_code, retry_after)
                if delay is None:
                    return response
                response.close()  # gives the connection back before the wait
            self._sleep(delay)
