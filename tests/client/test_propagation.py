"""Requests made inside an idempotent call carry keys derived from its key, again on retry."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import requests

from idemsdk import ConfigurationError, Idempotency, MemoryStore, derive_key
from idemsdk._propagation import enter, leave
from idemsdk.client import (
    AsyncIdempotencyTransport,
    IdempotencyAdapter,
    IdempotencyTransport,
    new_key,
)

from .conftest import Connect
from .server import ScriptedServer

KEY = "idempotency-key"


def derived(parent: str, *labels: str | None) -> list[str]:
    """The keys a call with key ``parent`` derives for ``labels`` (None: the next counted)."""
    token = enter(parent)
    try:
        keys = [derive_key(label) for label in labels]
    finally:
        leave(token)
    assert all(key is not None for key in keys)
    return [key for key in keys if key is not None]


def sent_keys(server: ScriptedServer) -> list[str | None]:
    return [seen.header(KEY) for seen in server.seen]


def test_a_retried_call_sends_the_same_keys_in_the_same_order(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect()
    crashes = [RuntimeError("crashed after charging")]

    @Idempotency(MemoryStore()).idempotent
    def checkout(order: str) -> str:
        client.send("POST", f"{server.url}/charge")
        client.send("GET", f"{server.url}/stock")  # no key, so it takes no counted one
        client.send("PATCH", f"{server.url}/ship")
        if crashes:
            raise crashes.pop()  # the claim is released: the next call runs again
        return order

    with pytest.raises(RuntimeError):
        checkout("ord-1")
    assert checkout("ord-1") == "ord-1"
    assert checkout("ord-1") == "ord-1"  # replayed: no requests at all
    charge, ship = derived(checkout.key_for("ord-1"), None, None)
    assert sent_keys(server) == [charge, None, ship] * 2


def test_calls_with_other_keys_derive_other_keys(server: ScriptedServer, connect: Connect) -> None:
    client = connect()

    @Idempotency(MemoryStore()).idempotent
    def checkout(order: str) -> None:
        client.send("POST", server.url)

    checkout("ord-1")
    checkout("ord-2")
    assert sent_keys(server) == [
        *derived(checkout.key_for("ord-1"), None),
        *derived(checkout.key_for("ord-2"), None),
    ]


def test_outside_a_call_every_request_gets_a_new_random_key(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect()
    client.send("POST", server.url)
    client.send("POST", server.url)
    first, second = sent_keys(server)
    assert first != second
    assert first is not None and uuid.UUID(first).version == 4
    assert second is not None and uuid.UUID(second).version == 4


def test_an_httpx_label_gives_a_key_independent_of_the_order(server: ScriptedServer) -> None:
    runs = [["charge", None], [None, "charge"]]

    with httpx.Client(transport=IdempotencyTransport()) as client:

        @Idempotency(MemoryStore()).idempotent
        def checkout(order: str) -> None:
            for label in runs.pop(0):
                extensions = {} if label is None else {"idempotency_label": label}
                client.post(server.url, extensions=extensions)
            if runs:
                raise RuntimeError("crashed")

        with pytest.raises(RuntimeError):
            checkout("ord-1")
        checkout("ord-1")

    labelled, counted = derived(checkout.key_for("ord-1"), "charge", None)
    assert sent_keys(server) == [labelled, counted, counted, labelled]


def test_an_httpx_label_asks_for_a_key_whatever_the_method(server: ScriptedServer) -> None:
    with httpx.Client(transport=IdempotencyTransport()) as client:

        @Idempotency(MemoryStore()).idempotent
        def refresh(order: str) -> None:
            client.get(server.url, extensions={"idempotency_label": "refresh"})

        refresh("ord-1")
        client.get(server.url, extensions={"idempotency_label": "refresh"})  # outside: random
    inside, outside = sent_keys(server)
    assert inside == derived(refresh.key_for("ord-1"), "refresh")[0]
    assert outside is not None and uuid.UUID(outside).version == 4


def test_an_httpx_label_must_be_a_str(server: ScriptedServer) -> None:
    with (
        httpx.Client(transport=IdempotencyTransport()) as client,
        pytest.raises(ConfigurationError, match="idempotency_label"),
    ):
        client.post(server.url, extensions={"idempotency_label": 7})
    assert server.seen == []


def test_with_requests_a_label_is_the_documented_header(server: ScriptedServer) -> None:
    with requests.Session() as session:
        session.mount("http://", IdempotencyAdapter())

        @Idempotency(MemoryStore()).idempotent
        def checkout(order: str) -> None:
            session.post(server.url)
            session.post(server.url, headers={"Idempotency-Key": derive_key("charge") or new_key()})

        checkout("ord-1")
    assert sent_keys(server) == derived(checkout.key_for("ord-1"), None, "charge")


def test_async_calls_derive_keys_for_their_async_requests(server: ScriptedServer) -> None:
    crashes = [RuntimeError("crashed")]

    async def scenario() -> str:
        async with httpx.AsyncClient(transport=AsyncIdempotencyTransport()) as client:

            @Idempotency(MemoryStore()).idempotent
            async def checkout(order: str) -> str:
                await client.post(f"{server.url}/charge")
                await client.post(f"{server.url}/ship", extensions={"idempotency_label": "ship"})
                if crashes:
                    raise crashes.pop()
                return checkout.key_for(order)

            with pytest.raises(RuntimeError):
                await checkout("ord-1")
            return await checkout("ord-1")

    key = asyncio.run(scenario())
    assert sent_keys(server) == derived(key, None, "ship") * 2
