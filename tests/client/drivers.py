"""The three client integrations behind one small interface, so one suite tests them all.

To test another integration, add a class with :class:`Driver`'s shape and its name to
``DRIVERS``: every test in test_contract.py then runs on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
import requests

from idemsdk.client import (
    AsyncIdempotencyTransport,
    IdempotencyAdapter,
    IdempotencyTransport,
    RetryPolicy,
)

__all__ = ["DRIVERS", "Driver", "make_driver"]

DEFAULT_METHODS = ("POST", "PATCH")
CHUNKS = (b"streamed ", b"body")


@dataclass(frozen=True)
class Answer:
    """The response a send ended with."""

    status: int
    body: bytes


class Driver(Protocol):
    """A client on one integration, which records the sleeps between retries."""

    sleeps: list[float]

    @property
    def failure(self) -> type[Exception]:
        """What a send that failed for good raises."""
        ...

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        streamed: bool = False,
        timeout: float = 5.0,
    ) -> Answer:
        """Send one request through the integration; ``streamed`` sends ``CHUNKS`` lazily."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _chunks() -> Iterator[bytes]:
    yield from CHUNKS


async def _async_chunks() -> AsyncIterator[bytes]:
    for chunk in CHUNKS:
        yield chunk


class HttpxDriver:
    """``httpx.Client`` on :class:`IdempotencyTransport`."""

    failure = httpx.TransportError

    def __init__(self, methods: Iterable[str], retry: RetryPolicy | None) -> None:
        self.sleeps: list[float] = []
        transport = IdempotencyTransport(methods=methods, retry=retry, sleep=self.sleeps.append)
        self._client = httpx.Client(transport=transport)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        streamed: bool = False,
        timeout: float = 5.0,
    ) -> Answer:
        content = _chunks() if streamed else body
        response = self._client.request(
            method, url, headers=headers, content=content, timeout=timeout
        )
        return Answer(response.status_code, response.content)

    def close(self) -> None:
        self._client.close()


class AsyncHttpxDriver:
    """``httpx.AsyncClient`` on :class:`AsyncIdempotencyTransport`, one event loop per send."""

    failure = httpx.TransportError

    def __init__(self, methods: Iterable[str], retry: RetryPolicy | None) -> None:
        self.sleeps: list[float] = []
        self._methods, self._retry = tuple(methods), retry

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        streamed: bool = False,
        timeout: float = 5.0,
    ) -> Answer:
        async def scenario() -> Answer:
            transport = AsyncIdempotencyTransport(
                methods=self._methods, retry=self._retry, sleep=self._sleep
            )
            async with httpx.AsyncClient(transport=transport) as client:
                content = _async_chunks() if streamed else body
                response = await client.request(
                    method, url, headers=headers, content=content, timeout=timeout
                )
                return Answer(response.status_code, response.content)

        return asyncio.run(scenario())

    def close(self) -> None:
        pass


class RequestsDriver:
    """``requests.Session`` with :class:`IdempotencyAdapter` mounted."""

    failure = requests.RequestException

    def __init__(self, methods: Iterable[str], retry: RetryPolicy | None) -> None:
        self.sleeps: list[float] = []
        self._session = requests.Session()
        adapter = IdempotencyAdapter(methods=methods, retry=retry, sleep=self.sleeps.append)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        streamed: bool = False,
        timeout: float = 5.0,
    ) -> Answer:
        data = _chunks() if streamed else body
        with self._session.request(
            method, url, headers=headers, data=data, timeout=timeout
        ) as response:
            return Answer(response.status_code, response.content)

    def close(self) -> None:
        self._session.close()


DRIVERS: dict[str, Callable[[Iterable[str], RetryPolicy | None], Driver]] = {
    "httpx": HttpxDriver,
    "httpx-async": AsyncHttpxDriver,
    "requests": RequestsDriver,
}


def make_driver(
    name: str, methods: Iterable[str] = DEFAULT_METHODS, retry: RetryPolicy | None = None
) -> Driver:
    """The driver called ``name`` with these settings."""
    return DRIVERS[name](methods, retry)
