"""A primary with one replica of our own, and a way to make the replica fall behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from idemsdk.testing import RedisReplicatedServer, RedisServer


class PrimaryWithReplica(RedisReplicatedServer):
    """A primary and one replica in sync; the replica can be frozen (SIGSTOP, our process)."""

    def __init__(self) -> None:
        super().__init__(replicas=1)

    @property
    def replica(self) -> RedisServer:
        """The one replica."""
        return self.replicas[0]

    @contextmanager
    def replica_stopped(self) -> Iterator[None]:
        """Freeze the replica: it acknowledges nothing until the block ends."""
        os.kill(self.replica.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            self.resume()

    def resume(self) -> None:
        """Let a frozen replica go on; safe to repeat."""
        os.kill(self.replica.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop both servers (ours, by pid), letting a frozen replica go first so it can exit."""
        if self.servers[1:] and self.replica.process.poll() is None:
            self.resume()
        super().stop()
