"""WAIT after a write: its settings, and the round trips of a write that waits, as pure steps.

``WAIT n ms`` counts the replicas that have the last write of the connection it is sent on,
so it must follow the script on that very connection, in the same round trip. A standalone
client's pipeline does that. On Redis Cluster the script and WAIT go to the key's primary
as one pipeline on one of its connections; a MOVED or ASK reply to the script sends both
on, to the node the reply names. The drivers in ``_redis`` send what :func:`waiting_write`
yields and send its replies back, so the sync and async stores share every decision.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis
import redis.asyncio
from redis.exceptions import AskError, ClusterError, MovedError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._errors import ConfigurationError, NotReplicated
from ._lua import Script

__all__ = [
    "CLAIM_SHORT",
    "LEARN",
    "MAX_HOPS",
    "RESULT_SHORT",
    "UNREACHABLE",
    "Flow",
    "Learn",
    "Send",
    "Wait",
    "waiting_write",
]

#: What a write that too few replicas acknowledged means for the call, as ``short`` says it.
CLAIM_SHORT = "claim; the claim was released and the function did not run"
RESULT_SHORT = (
    "result; the function ran and its result is on the primary, but a failover before the "
    "replicas catch up may lose it, and a retry would then run the function again"
)

#: Errors that say a node could not be reached: the cluster client should look again.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)

#: Redirections (MOVED, ASK) one write follows before giving up: a slot moves once at a time.
MAX_HOPS = 5

_CLUSTERS = (redis.RedisCluster, redis.asyncio.RedisCluster)


def _read_timeout(client: Any) -> float | None:
    """The client's socket (read) timeout, wherever its kind of client keeps it."""
    if isinstance(client, _CLUSTERS):
        settings = client.get_connection_kwargs()
    else:
        settings = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    timeout = settings.get("socket_timeout")
    return None if timeout is None else float(timeout)


@dataclass(frozen=True, slots=True)
class Wait:
    """WAIT's arguments, sent after every claim and completion; pure checks of its reply."""

    replicas: int
    timeout_ms: int

    @classmethod
    def of(cls, client: Any, replicas: int, timeout: float) -> Wait:
        """Checked arguments for ``client``; ConfigurationError for settings that cannot work."""
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ConfigurationError(f"wait_replicas must be a positive int, not {replicas!r}")
        if not timeout > 0:
            raise ConfigurationError(
                f"wait_timeout must be a positive number of seconds, not {timeout!r}"
            )
        read_timeout = _read_timeout(client)
        if read_timeout is not None and read_timeout <= timeout:
            # The client would give up on the reply before WAIT gives its answer.
            raise ConfigurationError(
                f"wait_timeout ({timeout} s) must be shorter than the client's socket_timeout "
                f"({read_timeout} s)"
            )
        return cls(replicas, max(round(timeout * 1000), 1))  # WAIT 0 would block forever

    def short(self, acknowledged: Any, write: str) -> NotReplicated | None:
        """The error when fewer replicas than asked acknowledged ``write``, else None."""
        count = int(acknowledged)
        if count >= self.replicas:
            return None
        return NotReplicated(
            f"{count} of {self.replicas} replicas acknowledged the {write} within "
            f"{self.timeout_ms} ms",
            acknowledged=count,
            wanted=self.replicas,
        )


@dataclass(frozen=True, slots=True)
class Send:
    """One round trip: these commands, pipelined on one connection to one node.

    ``target`` is the node's (host, port), or None for the key's primary as the client's
    slot map has it (a standalone client has one node, and ignores it).
    """

    target: tuple[str, int] | None
    commands: tuple[tuple[Any, ...], ...]


class Learn:
    """A step: let the cluster client look the key up itself (a read through its own
    routing, with its own retries), so that it follows MOVED, finds the primary that took
    over from one that is gone, and updates its slot map. Answered with whether the read
    succeeded."""


LEARN: Final = Learn()

Flow = Generator[Send | Learn, Any, tuple[Any, Any]]


def waiting_write(
    wait: Wait, script: Script, key: str, args: Sequence[Any], *, cluster: bool
) -> Flow:
    """The script and WAIT: yields the round trips; returns (script reply, WAIT's count).

    A driver answers a :class:`Send` with the replies (errors among them, as redis-py's
    ``raise_on_error=False`` gives them), or throws in the error that kept it from sending.
    Raises the first error no redirection resolves; ``cluster`` says whether to follow them.

    On a cluster, a node that cannot be reached is looked for again (:class:`Learn`) and,
    once the client found the key's primary, the write is sent there: both scripts know
    their own second run, and a claim or result the old primary took with it is not there.
    """
    target: tuple[str, int] | None = None
    asking = load = False
    for _ in range(MAX_HOPS):
        run = ("EVAL", script.source) if load else ("EVALSHA", script.sha)
        commands = ((("ASKING",),) if asking else ()) + (
            (*run, 1, key, *args),
            ("WAIT", wait.replicas, wait.timeout_ms),
        )
        try:
            replies = yield Send(target, commands)
        except UNREACHABLE:
            if not (cluster and (yield LEARN)):  # a failover may have moved the primary
                raise
            target, asking = None, False
            continue
        reply, acknowledged = replies[-2:]
        if isinstance(reply, NoScriptError) and not load:
            # This node forgot the script (a restart, a failover, a slot that moved here):
            # EVAL runs it and leaves it cached, on the same node and connection.
            load = True
        elif isinstance(reply, MovedError) and cluster:  # before AskError: a subclass of it
            yield LEARN  # the slot map is out of date: the client fixes it, then route again
            target, asking = None, False
        elif isinstance(reply, AskError) and cluster:
            # The slot is half-way: this key is on the node it is moving to, for this command.
            target, asking = (reply.host, int(reply.port)), True
        else:
            failed = next((r for r in replies if isinstance(r, Exception)), None)
            if failed is None:
                return reply, acknowledged
            if not (cluster and isinstance(failed, UNREACHABLE) and (yield LEARN)):
                raise failed
            target, asking = None, False
    raise ClusterError(f"{MAX_HOPS} redirections without reaching the key's primary")
