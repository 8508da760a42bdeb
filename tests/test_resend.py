"""A script that runs twice for one call: redis-py resends a command whose reply was lost.

The connection below lets the server run a script, then loses its reply (as a network
blip would) once: redis-py's retry sends the same command again on a new connection. The
call must still run once, get its own claim back, and count its own completion as stored.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from idemsdk import AsyncRedisStore, Idempotency, NotReplicated, RedisStore
from idemsdk._lua import CLAIM, COMPLETE, Script

from .replication import PrimaryWithReplica

pytestmark = pytest.mark.redis

#: The scripts whose next reply is lost, once each, and those lost so far.
to_lose: set[str] = set()
lost_replies: list[str] = []


def _script(args: tuple[Any, ...]) -> str | None:
    """The SHA1 of the script a command runs, if it is an EVALSHA."""
    return str(args[1]) if len(args) > 1 and str(args[0]).upper() == "EVALSHA" else None


def _lose(sha: str | None) -> bool:
    """Whether to lose this reply: the first that the server ran for a script in to_lose."""
    if sha in to_lose:
        to_lose.discard(sha)
        lost_replies.append(sha)
        return True
    return False


class LossyConnection(redis.Connection):
    """Loses the reply of a script named in to_lose once, after the server ran it."""

    _sent: str | None = None

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._sent = _script(args)
        super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = super().read_response(*args, **kwargs)  # an error reply raises here
        if _lose(self._sent):
            self.disconnect()  # type: ignore[no-untyped-call]
            raise redis.ConnectionError("the reply was lost (test)")
        return reply


class AsyncLossyConnection(redis.asyncio.Connection):
    """The asyncio twin of LossyConnection."""

    _sent: str | None = None

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._sent = _script(args)
        await super().send_command(*args, **kwargs)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = await super().read_response(*args, **kwargs)
        if _lose(self._sent):
            await self.disconnect()
            raise redis.ConnectionError("the reply was lost (test)")
        return reply


class WaitLossyConnection(redis.Connection):
    """Loses, once, WAIT's reply in a pipeline of a script named in to_lose and WAIT.

    The pipeline is then sent again whole on a new connection, as redis-py's retry does.
    """

    _sent: str | None = None
    _reads = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        packed = command if isinstance(command, bytes) else b"".join(bytes(c) for c in command)
        shas = [sha for sha in to_lose if sha.encode() in packed]
        self._sent = shas[0] if shas and b"\r\nWAIT\r\n" in packed else None
        self._reads = 0
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = super().read_response(*args, **kwargs)
        self._reads += 1
        if self._reads == 2 and _lose(self._sent):  # the script's reply came first
            self.disconnect()  # type: ignore[no-untyped-call]
            raise redis.ConnectionError("the reply was lost (test)")
        return reply


@pytest.fixture(autouse=True)
def _reset() -> None:
    to_lose.clear()
    lost_replies.clear()


# redis-py resends on a connection error, as it does by default (with backoff there).
def _sync_store(url: str) -> RedisStore:
    pool = redis.ConnectionPool.from_url(
        url, connection_class=LossyConnection, retry=Retry(NoBackoff(), 1)
    )
    return RedisStore(redis.Redis(connection_pool=pool))


def _async_store(url: str) -> AsyncRedisStore:
    pool = redis.asyncio.ConnectionPool.from_url(
        url, connection_class=AsyncLossyConnection, retry=AsyncRetry(NoBackoff(), 1)
    )
    return AsyncRedisStore(redis.asyncio.Redis(connection_pool=pool))


@pytest.mark.parametrize("script", [CLAIM, COMPLETE], ids=["claim", "complete"])
def test_a_script_resent_after_its_reply_was_lost_runs_the_call_once(
    redis_url: str, prefix: str, script: Script
) -> None:
    idem = Idempotency(_sync_store(redis_url), prefix=prefix)
    ran: list[int] = []

    @idem.idempotent
    def charge(n: int) -> int:
        ran.append(n)
        return n * 10

    assert charge(0) == 0  # loads the scripts: the lossy reply is an EVALSHA's
    to_lose.add(script.sha)
    # Before claim ids, a resent claim found its own record busy (RequestInProgress), and a
    # resent completion found it completed already (LeaseLost).
    assert charge(1) == 10
    assert lost_replies == [script.sha]
    assert charge(1) == 10  # a duplicate replays what was stored
    assert ran == [0, 1]


@pytest.mark.parametrize("script", [CLAIM, COMPLETE], ids=["claim", "complete"])
def test_an_async_script_resent_after_its_reply_was_lost_runs_the_call_once(
    redis_url: str, prefix: str, script: Script
) -> None:
    idem = Idempotency(_async_store(redis_url), prefix=prefix)
    ran: list[int] = []

    @idem.idempotent
    async def charge(n: int) -> int:
        ran.append(n)
        return n * 10

    async def calls() -> list[int]:
        loaded = await charge(0)  # loads the scripts: the lossy reply is an EVALSHA's
        to_lose.add(script.sha)
        return [loaded, await charge(1), await charge(1)]

    assert asyncio.run(calls()) == [0, 10, 10]
    assert lost_replies == [script.sha]
    assert ran == [0, 1]


def test_a_claim_id_recognises_only_its_own_claim(redis_client: redis.Redis, prefix: str) -> None:
    key = f"{prefix}:claim-id"

    def claim(claim_id: str) -> Any:
        return redis_client.eval(CLAIM.source, 1, key, "fp", 30000, 60000, claim_id)

    first, again, other = claim("id-1"), claim("id-1"), claim("id-2")
    assert first[0] == 1 and again[0] == 1 and first[1] == again[1]  # the same owner, token
    assert other[0] == 0  # anyone else finds the key busy


@pytest.mark.parametrize("script", [CLAIM, COMPLETE], ids=["claim", "complete"])
def test_a_write_resent_with_wait_is_acknowledged_only_once_the_replicas_have_it(
    replicated: PrimaryWithReplica, prefix: str, script: Script
) -> None:
    """The resent script finds its own write and writes again, or the WAIT sent after it, on
    a connection that wrote nothing, would count replicas that lack the first write.

    The Redis 7.0 the tests run counts from a connection's last command, write or not, so
    this passes there without that write; a server that counts from the last write (the
    write-tracking of newer versions) needs it. The next test checks the write itself.
    """
    pool = redis.ConnectionPool.from_url(
        replicated.url, connection_class=WaitLossyConnection, retry=Retry(NoBackoff(), 1)
    )
    store = RedisStore(redis.Redis(connection_pool=pool))
    idem = Idempotency(store, wait_replicas=1, wait_timeout=0.2, prefix=prefix)
    ran: list[int] = []

    @idem.idempotent
    def charge(n: int) -> int:
        ran.append(n)
        if n and script is COMPLETE:  # after the claim's acknowledgement
            replicated.replica.process.send_signal(signal.SIGSTOP)
        return n

    assert charge(0) == 0  # loads the scripts: the next pipelines run EVALSHA
    ran.clear()
    to_lose.add(script.sha)
    try:
        if script is CLAIM:
            with replicated.replica_stopped(), pytest.raises(NotReplicated, match="did not run"):
                charge(1)
        else:
            with pytest.raises(NotReplicated, match="the function ran"):
                charge(1)
    finally:
        replicated.resume()
        pool.disconnect()
    assert lost_replies == [script.sha]
    assert ran == ([] if script is CLAIM else [1])


def test_a_resent_write_script_writes_again_for_wait_to_count(
    replicated: PrimaryWithReplica, prefix: str
) -> None:
    """The scripts' second runs propagate a write (that changes nothing) to the replicas."""
    client = redis.Redis.from_url(replicated.url)
    key = f"{prefix}:resent"

    def offset() -> int:
        return int(client.info("replication")["master_repl_offset"])

    def propagates(script: Script, *args: object) -> bool:
        before = offset()
        client.eval(script.source, 1, key, *args)  # type: ignore[arg-type]
        return offset() > before

    try:
        assert propagates(CLAIM, "fp", 30000, 60000, "id-1")
        record = client.hgetall(key)
        assert propagates(CLAIM, "fp", 30000, 60000, "id-1")  # its own claim, again
        assert client.hgetall(key) == record
        assert not propagates(CLAIM, "fp", 30000, 60000, "id-2")  # busy: a read
        token = record[b"token"]
        assert propagates(COMPLETE, token, "completed", b"body", 60000)
        record = client.hgetall(key)
        assert propagates(COMPLETE, token, "completed", b"body", 60000)  # the same, again
        assert client.hgetall(key) == record
    finally:
        client.delete(key)
        client.close()
