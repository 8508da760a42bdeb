"""Helpers for testing code that uses idemsdk: a throwaway Redis server and a clock you move.

::

    from idemsdk import Idempotency, MemoryStore, RedisStore
    from idemsdk.testing import FakeClock, RedisServer

    clock = FakeClock()
    idem = Idempotency(MemoryStore(clock=clock), lease=30)
    clock.advance(31)  # the lease ran out, no sleeping

    with RedisServer() as server:  # a private redis-server on a free loopback port
        idem = Idempotency(RedisStore.from_url(server.url))
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

__all__ = ["FakeClock", "RedisServer", "free_port"]


class FakeClock:
    """Seconds since the epoch, moved only by :meth:`advance`; pass it to ``MemoryStore``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process of our own on a free loopback port, stopped by its pid.

    Nothing is persisted; the working directory is temporary. Use it as a context manager,
    or call :meth:`stop`. Extra command-line options go in ``options``.
    """

    def __init__(self, *options: str, binary: str | None = None, timeout: float = 10) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed (Debian: apt install redis-server)"
            )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = Path(tempfile.mkdtemp(prefix="idemsdk-redis-"))
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                found,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
                "--daemonize",
                "no",
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while not _answers(client):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server on port {self.port} did not start")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Terminate the server (ours, by pid) and remove its directory; safe to repeat."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.ConnectionError:
        return False
    return True
