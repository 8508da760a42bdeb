"""What is particular to each integration: default sleeps, wrapped transports, pickling."""

from __future__ import annotations

import asyncio
import pickle
import time

import httpx
import requests

from idemsdk.client import (
    AsyncIdempotencyTransport,
    IdempotencyAdapter,
    IdempotencyTransport,
    RetryPolicy,
)

from .server import Reply, ScriptedServer

WAIT = 0.05  # the Retry-After each first answer asks for
RETRY = RetryPolicy(attempts=2)


def test_the_httpx_transport_sleeps_with_time_sleep(server: ScriptedServer) -> None:
    server.script(Reply(409, {"Retry-After": str(WAIT)}))
    began = time.monotonic()
    with httpx.Client(transport=IdempotencyTransport(retry=RETRY)) as client:
        assert client.post(server.url).status_code == 200
    assert time.monotonic() - began >= WAIT
    assert len(server.seen) == 2


def test_the_async_transport_sleeps_with_anyio_under_asyncio(server: ScriptedServer) -> None:
    server.script(Reply(409, {"Retry-After": str(WAIT)}))

    async def scenario() -> int:
        transport = AsyncIdempotencyTransport(retry=RETRY)
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.post(server.url)).status_code

    began = time.monotonic()
    assert asyncio.run(scenario()) == 200
    assert time.monotonic() - began >= WAIT
    assert len(server.seen) == 2


def test_the_requests_adapter_sleeps_with_time_sleep(server: ScriptedServer) -> None:
    server.script(Reply(409, {"Retry-After": str(WAIT)}))
    began = time.monotonic()
    with requests.Session() as session:
        session.mount("http://", IdempotencyAdapter(retry=RETRY))
        assert session.post(server.url).status_code == 200
    assert time.monotonic() - began >= WAIT
    assert len(server.seen) == 2


def test_the_transports_wrap_any_transport_and_close_it() -> None:
    seen: list[httpx.Request] = []
    statuses = [503, 200]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0))

    class Inner(httpx.MockTransport):
        closed = False

        def close(self) -> None:
            self.closed = True

    inner = Inner(answer)
    sleeps: list[float] = []
    transport = IdempotencyTransport(inner, retry=RETRY, sleep=sleeps.append)
    with httpx.Client(transport=transport) as client:
        response = client.post("http://test/charges", json={"amount": 5})
    assert response.status_code == 200
    assert [request.headers["Idempotency-Key"] for request in seen] == [
        response.request.headers["Idempotency-Key"]
    ] * 2
    assert len(sleeps) == 1
    assert inner.closed


def test_a_pickled_session_keeps_the_adapters_settings(server: ScriptedServer) -> None:
    with requests.Session() as session:
        session.mount("http://", IdempotencyAdapter(methods=["PUT"], retry=RETRY))
        with pickle.loads(pickle.dumps(session)) as copy:
            server.script(Reply(503))
            assert copy.put(server.url).status_code == 200
            copy.post(server.url)
    assert [seen.header("Idempotency-Key") is not None for seen in server.seen] == [
        True,
        True,
        False,
    ]
