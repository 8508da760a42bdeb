"""A primary with one replica of our own, and a way to make the replica fall behind."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import redis

from idemsdk.testing import RedisServer


class PrimaryWithReplica:
    """Two ``redis-server`` processes on loopback, the second replicating the first."""

    def __init__(self, timeout: float = 10) -> None:
        # Replicas sync at once rather than after the default 5 s diskless-sync pause.
        self.primary = RedisServer("--repl-diskless-sync-delay", "0")
        try:
            self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.primary.port))
            self._wait_in_sync(timeout)
        except BaseException:
            self.stop()
            raise
        self.url = self.primary.url

    def _wait_in_sync(self, timeout: float) -> None:
        # The replica says its link is up before the primary counts it for WAIT (that takes
        # its first acknowledgement): ready once a write on the primary is acknowledged.
        client = redis.Redis.from_url(self.primary.url)
        deadline = time.monotonic() + timeout
        try:
            client.set("replication-check", 1)
            while client.wait(1, 100) < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica never came in sync with its primary")
            client.delete("replication-check")
        finally:
            client.close()

    @contextmanager
    def replica_stopped(self) -> Iterator[None]:
        """Freeze the replica (SIGSTOP, our own process): it acknowledges nothing until after."""
        os.kill(self.replica.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            self.resume()

    def resume(self) -> None:
        """Let a frozen replica go on; safe to repeat."""
        os.kill(self.replica.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop both servers (ours, by pid)."""
        for server in (getattr(self, "replica", None), self.primary):
            if server is not None:
                if server.process.poll() is None:
                    os.kill(server.process.pid, signal.SIGCONT)  # a frozen one cannot exit
                server.stop()

    def __enter__(self) -> PrimaryWithReplica:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | Any) -> None:
        self.stop()
