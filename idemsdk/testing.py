"""Helpers for testing code that uses idemsdk: throwaway Redis servers and a clock you move.

::

    from idemsdk import Idempotency, MemoryStore, RedisStore
    from idemsdk.testing import FakeClock, RedisServer

    clock = FakeClock()
    idem = Idempotency(MemoryStore(clock=clock), lease=30)
    clock.advance(31)  # the lease ran out, no sleeping

    with RedisServer() as server:  # a private redis-server on a free loopback port
        idem = Idempotency(RedisStore.from_url(server.url))

    with RedisClusterServer() as cluster:  # 3 primaries, 3 replicas, all on loopback
        idem = Idempotency(RedisStore.from_url(cluster.url))  # redis+cluster://...
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

__all__ = ["FakeClock", "RedisClusterServer", "RedisServer", "free_port"]


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
    or call :meth:`stop`. Extra command-line options go in ``options``; ``port`` picks the
    port instead of a free one.
    """

    def __init__(
        self,
        *options: str,
        binary: str | None = None,
        timeout: float = 10,
        port: int | None = None,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed (Debian: apt install redis-server)"
            )
        self.port = port or free_port()
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


class RedisClusterServer:
    """A Redis Cluster of our own on loopback: ``primaries`` masters, each with ``replicas``.

    Every node is a :class:`RedisServer` (nothing persisted, stopped by its pid; extra
    command-line options go in ``options``); the cluster is formed with
    ``redis-cli --cluster create`` and ready once every node says ``cluster_state:ok`` and
    every replica is in sync. :attr:`url` is a ``redis+cluster://`` URL naming every node,
    for ``RedisStore.from_url``; :attr:`servers` are the nodes, primaries first. Needs
    ``redis-server`` and ``redis-cli`` 5.0 or newer.
    """

    def __init__(
        self,
        *options: str,
        primaries: int = 3,
        replicas: int = 1,
        binary: str | None = None,
        cli: str | None = None,
        timeout: float = 30,
    ) -> None:
        found_cli = cli or shutil.which("redis-cli")
        if found_cli is None:
            raise FileNotFoundError("redis-cli is not installed (Debian: apt install redis-tools)")
        self.servers: list[RedisServer] = []
        try:
            for _ in range(primaries * (1 + replicas)):
                self.servers.append(
                    RedisServer(
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        # Replicas sync at once rather than after the default 5 s pause.
                        *("--repl-diskless-sync-delay", "0"),
                        *options,
                        binary=binary,
                        timeout=timeout,
                        port=_free_cluster_port(),
                    )
                )
            self.addresses = [f"127.0.0.1:{server.port}" for server in self.servers]
            self.url = f"redis+cluster://{','.join(self.addresses)}/"
            self._create(found_cli, replicas, timeout)
            self._wait_ok(replicas * primaries, timeout)
        except BaseException:
            self.stop()
            raise

    def _create(self, cli: str, replicas: int, timeout: float) -> None:
        create = [cli, "--cluster", "create", *self.addresses, "--cluster-yes"]
        done = subprocess.run(  # noqa: S603 - our own binary and arguments
            [*create, "--cluster-replicas", str(replicas)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-500:]}")

    def _wait_ok(self, replicas: int, timeout: float) -> None:
        clients = [redis.Redis(port=server.port, socket_timeout=2) for server in self.servers]
        deadline = time.monotonic() + timeout
        try:
            while not (
                all(_cluster_ok(client, len(clients)) for client in clients)
                and sum(_replicating(client) for client in clients) == replicas
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster on {self.addresses} never became ok")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        """Terminate every node (ours, by pid) and remove their directories; safe to repeat."""
        for server in self.servers:
            server.stop()

    def __enter__(self) -> RedisClusterServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) exists and is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 <= 65535:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair (port, port + 10000) for a cluster node")


def _cluster_ok(client: redis.Redis, nodes: int) -> bool:
    """The node serves every slot and knows every other node."""
    info: dict[str, str] = client.cluster("INFO")  # redis-py parses it into a dict
    return (
        info.get("cluster_state") == "ok"
        and info.get("cluster_slots_ok") == "16384"
        and info.get("cluster_known_nodes") == str(nodes)
    )


def _replicating(client: redis.Redis) -> bool:
    """The node is a replica in sync with its primary (what gossip says of it may lag)."""
    info: dict[str, Any] = client.info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def _answers(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.ConnectionError:
        return False
    return True
