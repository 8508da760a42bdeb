"""What only the Redis stores have: round-trip budget, script reloading, outages."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from idemsdk import (
    AsyncRedisStore,
    ConfigurationError,
    Idempotency,
    RecordCorrupted,
    RedisStore,
    RequestInProgress,
    StoreUnavailable,
)
from idemsdk.testing import RedisServer, free_port

from .conftest import unavailable

pytestmark = pytest.mark.redis

SENT: list[str] = []


class CountingConnection(redis.Connection):
    """Records the name of every command written to the socket: one entry, one round trip."""

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        SENT.append(str(args[0]).upper())
        super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]


class AsyncCountingConnection(redis.asyncio.Connection):
    """The asyncio twin of CountingConnection."""

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        SENT.append(str(args[0]).upper())
        await super().send_command(*args, **kwargs)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server, for tests that flush scripts or stop the server."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
        return
    with RedisServer(binary=binary) as server:
        yield server


def test_round_trip_budget_sync(redis_url: str, prefix: str) -> None:
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    idem = Idempotency(RedisStore(redis.Redis(connection_pool=pool)), prefix=prefix)
    gate, started = threading.Event(), threading.Event()

    @idem.idempotent
    def job(x: int) -> int:
        if x == 3:
            started.set()
            gate.wait(10)
        return x * 2

    job(0)  # connects and loads the scripts
    SENT.clear()
    assert job(1) == 2
    assert SENT == ["EVALSHA", "EVALSHA"], "first call: claim + complete"
    SENT.clear()
    assert job(1) == 2
    assert SENT == ["EVALSHA"], "duplicate of a completed call: claim only"

    runner = threading.Thread(target=job, args=(3,))
    runner.start()
    started.wait(10)
    SENT.clear()
    with pytest.raises(RequestInProgress):
        job(3)
    assert SENT == ["EVALSHA"], "duplicate of an in-progress call: claim only"
    gate.set()
    runner.join()


def test_round_trip_budget_async(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        pool = redis.asyncio.ConnectionPool.from_url(
            redis_url, connection_class=AsyncCountingConnection
        )
        client = redis.asyncio.Redis(connection_pool=pool)
        idem = Idempotency(AsyncRedisStore(client), prefix=prefix)

        @idem.idempotent
        async def job(x: int) -> int:
            return x * 2

        await job(0)
        SENT.clear()
        assert await job(1) == 2
        assert SENT == ["EVALSHA", "EVALSHA"]
        SENT.clear()
        assert await job(1) == 2
        assert SENT == ["EVALSHA"]
        await client.aclose()

    asyncio.run(scenario())


def test_scripts_are_reloaded_after_the_server_forgets_them(own_redis: RedisServer) -> None:
    pool = redis.ConnectionPool.from_url(own_redis.url, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    idem = Idempotency(RedisStore(client))
    job = idem.idempotent(lambda x: x + 1)
    assert job(1) == 2
    client.script_flush()
    SENT.clear()
    assert job(2) == 3
    # claim and complete each meet NOSCRIPT once and run by EVAL, which caches the script
    assert SENT == ["EVALSHA", "EVAL"] * 2
    SENT.clear()
    assert job(2) == 3
    assert SENT == ["EVALSHA"]


def test_unreachable_store_raises_and_never_runs_the_function() -> None:
    ran: list[int] = []
    idem = Idempotency(RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0"), tenant="t")
    job = idem.idempotent(scope="job")(lambda x: ran.append(x))
    with pytest.raises(StoreUnavailable) as info:
        job(1)
    assert ran == []
    assert (info.value.tenant, info.value.scope) == ("t", "job")
    assert info.value.digest is not None
    assert isinstance(info.value.__cause__, redis.ConnectionError)


def test_unreachable_async_store_raises_and_never_runs_the_function() -> None:
    ran: list[int] = []
    idem = Idempotency(AsyncRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0"))

    @idem.idempotent
    async def job(x: int) -> None:
        ran.append(x)

    with pytest.raises(StoreUnavailable):
        asyncio.run(job(1))
    assert ran == []


def test_execute_policy_runs_unprotected_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    idem = Idempotency(
        RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0"), on_store_error="execute"
    )
    ran: list[int] = []

    @idem.idempotent
    def job(x: int) -> int:
        ran.append(x)
        return x

    with caplog.at_level(logging.WARNING, logger="idemsdk"):
        assert job(5) == 5
    assert ran == [5]
    assert any("unprotected" in r.getMessage() for r in caplog.records)


def test_store_lost_after_the_call_says_the_function_ran(own_redis: RedisServer) -> None:
    idem = Idempotency(RedisStore.from_url(own_redis.url))

    @idem.idempotent
    def job(x: int) -> int:
        own_redis.stop()  # the server goes away while the function runs
        return x

    with pytest.raises(StoreUnavailable, match="ran but its result could not be stored"):
        job(1)


def test_a_foreign_value_under_the_key_is_reported_not_overwritten(
    redis_client: redis.Redis, prefix: str
) -> None:
    idem = Idempotency(RedisStore(redis_client), prefix=prefix)
    job = idem.idempotent(scope="job")(lambda x: x)
    key = job.key_for(1)
    redis_client.set(key, b"someone else's data", ex=60)
    with pytest.raises(RecordCorrupted):
        job(1)
    assert redis_client.get(key) == b"someone else's data"


@pytest.mark.parametrize("codec", ["json", "protobuf"])
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        pytest.param(lambda body: body[: len(body) // 2], "record is malformed", id="truncated"),
        pytest.param(
            lambda body: body.split(b"\n", 1)[0] + b"\n\x00garbage",
            "record is malformed",
            id="garbage",
        ),
        pytest.param(lambda body: b"xml/1\n<record/>", "unknown codec 'xml'", id="unknown-codec"),
        pytest.param(lambda body: b"", "no idemsdk record header", id="empty"),
    ],
)
def test_a_damaged_stored_record_is_record_corrupted_and_nothing_runs(
    redis_client: redis.Redis, prefix: str, codec: str, damage: Any, says: str
) -> None:
    runs: list[int] = []
    idem = Idempotency(RedisStore(redis_client), prefix=prefix, codec=codec)

    @idem.idempotent(scope="job")
    def job(x: int) -> dict[str, int]:
        runs.append(x)
        return {"charged": x}

    assert job(1) == {"charged": 1}
    key = job.key_for(1)
    body: Any = redis_client.hget(key, "body")  # bytes: the client does not decode
    assert body.startswith(f"{codec}/1\n".encode())
    redis_client.hset(key, "body", damage(body))
    with pytest.raises(RecordCorrupted) as info:
        job(1)
    # It names the key's digest and what was wrong, and returns no result.
    assert info.value.digest is not None and info.value.digest in key
    assert says in str(info.value)
    assert runs == [1], "a damaged record must not run the function again"


def test_clients_that_decode_responses_are_refused(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="decode_responses=False"):
        RedisStore(redis.Redis.from_url(redis_url, decode_responses=True))


def test_from_url_sets_safe_timeouts() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:6379/0")
    kwargs = store.client.get_connection_kwargs()
    assert kwargs["socket_connect_timeout"] == 2.0
    assert kwargs["socket_timeout"] == 5.0


def test_a_record_keeps_its_claim_and_completion_times(
    redis_client: redis.Redis, prefix: str
) -> None:
    job = Idempotency(RedisStore(redis_client), prefix=prefix).idempotent(lambda x: x)
    job(1)
    record = redis_client.hgetall(job.key_for(1))
    assert record[b"status"] == b"completed"
    assert b"lease" not in record
    assert 0 <= int(record[b"done"]) - int(record[b"created"]) < 5_000
