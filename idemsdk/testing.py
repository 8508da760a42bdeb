"""Helpers for testing code that uses idemsdk: throwaway Redis servers and a clock you move.

::

    from idemsdk import Idempotency, MemoryStore, RedisStore
    from idemsdk.testing import FakeClock, RedisServer

    clock = FakeClock()
    idem = Idempotency(MemoryStore(clock=clock), lease=30)
    clock.advance(31)  # the lease ran out, no sleeping

    with RedisServer() as server:  # a private redis-server on a free loopback port
        idem = Idempotency(RedisStore.from_url(server.url))

    with RedisServer(persistent=True) as server:  # AOF, fsync always: records outlive
        server.restart(downtime=1)  # a stop (SIGTERM) and a start on the same port

    with RedisReplicatedServer(replicas=1) as servers:  # a primary and its replica, in sync
        idem = Idempotency(RedisStore.from_url(servers.url), wait_replicas=1)

    with RedisClusterServer() as cluster:  # 3 primaries, 3 replicas, all on loopback
        idem = Idempotency(RedisStore.from_url(cluster.url))  # redis+cluster://...

    with RedisSentinelServer() as sentinel:  # a primary, a replica, 3 sentinels
        idem = Idempotency(RedisStore.from_url(sentinel.url))  # redis+sentinel://...
        sentinel.kill_primary()  # SIGKILL
        sentinel.wait_failover()  # until the sentinels name a new primary
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import redis

__all__ = [
    "FakeClock",
    "RedisClusterServer",
    "RedisReplicatedServer",
    "RedisSentinelServer",
    "RedisServer",
    "free_port",
]


S = TypeVar("S", bound="_Stopped")


class _Stopped:
    """The servers below as context managers: leaving the ``with`` block stops them."""

    def stop(self) -> None:
        """Stop every process this object started; safe to repeat."""
        raise NotImplementedError

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


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


class RedisServer(_Stopped):
    """A ``redis-server`` process of our own on a free loopback port, stopped by its pid.

    The working directory is temporary. Nothing is persisted unless ``persistent``: then
    every write is in an append-only file, fsynced before Redis replies, and a
    :meth:`restart` finds every record again. Use it as a context manager, or call
    :meth:`stop`. Extra command-line options go in ``options``, after ours (redis-server
    keeps the last value given); ``port`` picks the port instead of a free one.
    """

    def __init__(
        self,
        *options: str,
        binary: str | None = None,
        timeout: float = 10,
        port: int | None = None,
        persistent: bool = False,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed (Debian: apt install redis-server)"
            )
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = Path(tempfile.mkdtemp(prefix="idemsdk-redis-"))
        aof = ("yes", "--appendfsync", "always") if persistent else ("no",)
        self._command = [
            *(found, "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", *aof),
            *("--dir", str(self._dir), "--daemonize", "no"),
            *options,
        ]
        self._timeout = timeout
        self.process = self._spawn()
        self._wait_ready(timeout)

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own binary and arguments
            self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def terminate(self) -> None:
        """Stop the process (SIGTERM, by pid, so the AOF is flushed); keep the port and data."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the process (ours, by pid): no goodbye, as in a crash; :meth:`start` again."""
        self.process.kill()
        self.process.wait()

    def start(self) -> None:
        """After :meth:`terminate`: a new process on the same port and directory; waits for it."""
        if self.process.poll() is None:
            raise RuntimeError(f"redis-server on port {self.port} is still running")
        self.process = self._spawn()
        self._wait_ready(self._timeout)

    def restart(self, downtime: float = 0) -> None:
        """:meth:`terminate`, stay down ``downtime`` seconds, :meth:`start` again."""
        self.terminate()
        time.sleep(downtime)
        self.start()

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
        self.terminate()
        shutil.rmtree(self._dir, ignore_errors=True)


class RedisClusterServer(_Stopped):
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
            self._wait_ok(primaries, replicas, timeout)
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

    def _wait_ok(self, primaries: int, replicas: int, timeout: float) -> None:
        """Until every node serves every slot, every replica is in sync, and each primary's
        WAIT counts its replicas (they may say they are in sync a moment before)."""
        with _clients(self.servers) as clients:
            _until(
                lambda: (
                    all(_cluster_ok(client, len(clients)) for client in clients)
                    and sum(_replicating(client) for client in clients) == replicas * primaries
                    and all(
                        _cluster_acknowledged(client, replicas)
                        for client in clients
                        if client.info("replication")["role"] == "master"
                    )
                ),
                timeout,
                f"the cluster on {self.addresses} never became ok",
            )

    def replica_of(self, primary: RedisServer) -> RedisServer:
        """The (first) replica of ``primary``, as the primary says."""
        with _clients([primary]) as (client,):
            port = int(client.info("replication")["slave0"]["port"])
        return next(server for server in self.servers if server.port == port)

    def wait_failover(self, replica: RedisServer, timeout: float = 30) -> None:
        """Until ``replica`` has taken over from its crashed primary and every node still
        running says the cluster is ok (the crashed one is not waited for)."""
        running = [server for server in self.servers if server.process.poll() is None]
        with _clients(running) as clients:
            _until(
                lambda: (
                    _answers_as_primary(replica)
                    and all(
                        client.cluster("INFO").get("cluster_state") == "ok" for client in clients
                    )
                ),
                timeout,
                f"{replica.url} never took over from its primary",
            )

    def stop(self) -> None:
        """Terminate every node (ours, by pid) and remove their directories; safe to repeat."""
        for server in self.servers:
            server.stop()


@contextmanager
def _clients(servers: Iterable[RedisServer]) -> Iterator[list[redis.Redis]]:
    """A client on each of ``servers``, closed after the block."""
    clients = [redis.Redis(port=server.port, socket_timeout=2) for server in servers]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def _until(ready: Callable[[], bool], timeout: float, failure: str, interval: float = 0.05) -> None:
    """Poll ``ready`` until it is true; RuntimeError(``failure``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(interval)


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


class RedisReplicatedServer(_Stopped):
    """A primary and ``replicas`` replicas of it, each a :class:`RedisServer`, in sync.

    Ready once the primary counts every replica for ``WAIT``. :attr:`url` is the primary's;
    :attr:`servers` are every server, the primary first. Extra command-line options go in
    ``options``. Every process is ours, stopped by its pid.
    """

    def __init__(
        self,
        *options: str,
        replicas: int = 1,
        binary: str | None = None,
        timeout: float = 30,
    ) -> None:
        # Replicas sync at once rather than after the default 5 s pause.
        sync = ("--repl-diskless-sync-delay", "0")
        self.servers: list[RedisServer] = []
        try:
            self.primary = RedisServer(*sync, *options, binary=binary, timeout=timeout)
            self.servers.append(self.primary)
            primary = ("--replicaof", "127.0.0.1", str(self.primary.port))
            for _ in range(replicas):
                self.servers.append(
                    RedisServer(*sync, *primary, *options, binary=binary, timeout=timeout)
                )
            self.url = self.primary.url
            self._wait_in_sync(replicas, timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def replicas(self) -> list[RedisServer]:
        """The servers other than the primary."""
        return [server for server in self.servers if server is not self.primary]

    def _wait_in_sync(self, replicas: int, timeout: float) -> None:
        with _clients([self.primary]) as (client,):
            _until(
                lambda: _acknowledged(client, replicas),
                timeout,
                f"the replicas of {self.url} never came in sync",
                interval=0,  # each try waits up to 100 ms in WAIT
            )

    def stop(self) -> None:
        """Terminate every server (ours, by pid); safe to repeat."""
        for server in self.servers:
            server.stop()


class RedisSentinelServer(_Stopped):
    """A primary, ``replicas`` replicas and ``sentinels`` Sentinels watching them, on loopback.

    The servers are a :class:`RedisReplicatedServer` (extra command-line options go in
    ``options``); each sentinel is ``redis-server <config> --sentinel`` with a config file
    in a temporary directory, watching the primary as ``service`` with a majority quorum and a short
    ``down_after`` (seconds). Ready once every replica is in sync and every sentinel knows
    the primary, its replicas and the other sentinels. :attr:`url` is a ``redis+sentinel://``
    URL naming every sentinel and the service; :attr:`primary` is the current primary.
    Every process is ours, stopped by its pid.
    """

    def __init__(
        self,
        *options: str,
        replicas: int = 1,
        sentinels: int = 3,
        service: str = "idemsdk",
        down_after: float = 1.0,
        binary: str | None = None,
        timeout: float = 30,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed (Debian: apt install redis-server)"
            )
        self.service = service
        self._processes: list[subprocess.Popen[bytes]] = []
        self._dir = Path(tempfile.mkdtemp(prefix="idemsdk-sentinel-"))
        self._replicated: RedisReplicatedServer | None = None
        try:
            self._replicated = RedisReplicatedServer(
                *options, replicas=replicas, binary=found, timeout=timeout
            )
            self.servers = self._replicated.servers
            self.primary = self._replicated.primary
            self.sentinels = [("127.0.0.1", free_port()) for _ in range(sentinels)]
            self.url = (
                f"redis+sentinel://{','.join(f'{h}:{p}' for h, p in self.sentinels)}/{service}"
            )
            for _, port in self.sentinels:
                self._processes.append(self._start_sentinel(found, port, down_after, timeout))
            self._wait_ready(replicas, timeout)
        except BaseException:
            self.stop()
            raise

    def _start_sentinel(
        self, binary: str, port: int, down_after: float, timeout: float
    ) -> subprocess.Popen[bytes]:
        config = self._dir / f"sentinel-{port}.conf"  # a sentinel rewrites its own config
        quorum = len(self.sentinels) // 2 + 1
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {self._dir}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} {quorum}\n"
            f"sentinel down-after-milliseconds {self.service} {int(down_after * 1000)}\n"
            # Also how long before a failed failover is tried again (twice this).
            f"sentinel failover-timeout {self.service} {int(down_after * 3000)}\n"
        )
        process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [binary, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while not _answers(client):
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    process.wait()
                    raise RuntimeError(f"the sentinel on port {port} did not start")
                time.sleep(0.02)
        finally:
            client.close()
        return process

    def _wait_ready(self, replicas: int, timeout: float) -> None:
        sentinels = [redis.Redis(host, port, socket_timeout=2) for host, port in self.sentinels]
        deadline = time.monotonic() + timeout
        try:
            while not all(
                _watching(sentinel, self.service, replicas, len(sentinels))
                for sentinel in sentinels
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sentinels of {self.url} never became ready")
                time.sleep(0.05)
        finally:
            for sentinel in sentinels:
                sentinel.close()

    def kill_primary(self) -> None:
        """SIGKILL the current primary (ours, by pid): no goodbye, as in a crash."""
        self.primary.kill()

    def wait_failover(self, timeout: float = 30) -> RedisServer:
        """Wait until every sentinel names a new primary that answers as one; return it."""
        old = self.primary.port
        sentinels = [redis.Redis(host, port, socket_timeout=2) for host, port in self.sentinels]
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ports = {_primary_port(sentinel, self.service) for sentinel in sentinels}
                if len(ports) == 1 and old not in ports and None not in ports:
                    server = next(s for s in self.servers if s.port in ports)
                    if _answers_as_primary(server):
                        self.primary = server
                        return server
                time.sleep(0.05)
        finally:
            for sentinel in sentinels:
                sentinel.close()
        raise RuntimeError(f"no failover from port {old} within {timeout} s")

    def stop(self) -> None:
        """Terminate every sentinel and server (ours, by pid); safe to repeat."""
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._replicated is not None:
            self._replicated.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _acknowledged(primary: redis.Redis, replicas: int) -> bool:
    """Every replica acknowledged the primary's latest write, so WAIT counts it.

    A replica says its link is up before the primary counts it for WAIT; PUBLISH is a write
    that replicas receive, and it leaves no key behind.
    """
    primary.publish("__idemsdk__:ready", "")
    return int(primary.wait(replicas, 100)) >= replicas


def _cluster_acknowledged(primary: redis.Redis, replicas: int) -> bool:
    """:func:`_acknowledged` for a cluster primary: there PUBLISH goes over the cluster bus,
    not to the replicas, so write a key of one of its slots (gone 1 ms later)."""
    for n in range(1000):  # a primary that owns no slot is not ready either
        try:
            primary.set(f"__idemsdk__:ready:{n}", "", px=1)
        except redis.ResponseError:  # MOVED: a slot of another primary
            continue
        return int(primary.wait(replicas, 100)) >= replicas
    return False


def _watching(sentinel: redis.Redis, service: str, replicas: int, sentinels: int) -> bool:
    """The sentinel sees the primary up, with its replicas up and every other sentinel."""
    try:
        # redis-py parses the reply into a dict, though its annotation says otherwise.
        primary = cast("dict[str, Any]", sentinel.sentinel_master(service))
        seen = sentinel.sentinel_slaves(service)
    except redis.RedisError:
        return False
    return (
        primary["is_master"]
        and not (primary["is_sdown"] or primary["is_odown"])
        and primary["num-other-sentinels"] == sentinels - 1
        and sum(not (r["is_sdown"] or r["is_disconnected"]) for r in seen) == replicas
    )


def _primary_port(sentinel: redis.Redis, service: str) -> int | None:
    """The port a sentinel names as the primary of ``service``; None if it does not answer."""
    try:
        address = cast("tuple[str, int] | None", sentinel.sentinel_get_master_addr_by_name(service))
    except redis.RedisError:
        return None
    return int(address[1]) if address else None


def _answers_as_primary(server: RedisServer) -> bool:
    client = redis.Redis(port=server.port, socket_timeout=2)
    try:
        info: dict[str, Any] = client.info("replication")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return info.get("role") == "master"
