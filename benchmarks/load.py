"""A load test: worker processes calling one idempotent function, a share of them duplicates.

    python -m benchmarks.load [--url URL] [--processes N] [--calls N] [--duplicates 0.3]
                              [--cluster] [--replicated]

Every worker process calls a decorated function on ``RedisStore.from_url(URL)`` (a cluster
URL works the same way). Each call uses a fresh key or, with probability ``--duplicates``,
the key of an earlier call of any worker (which may still be running: duplicates wait for
it, ``on_in_progress="wait"``). The function's side effect is an ``HINCRBY`` on a counter
per key, outside idemsdk's records, so double executions are counted from Redis itself at
the end: any key run more than once. The figures: throughput over all workers, p50 and p99
latency per call, and the double executions, which must be zero.

Redis is ``--url``, else ``REDIS_URL``, else 127.0.0.1:6379 when it answers, else a
``redis-server`` started here on a free loopback port and stopped by its pid afterwards.
``--cluster`` runs the same load again on a cluster of 3 primaries and 3 replicas that it
starts on loopback (and stops by pid), without and with ``wait_replicas=1``.
``--replicated`` runs it on a primary with one replica that it starts, twice: as it is,
and with ``wait_replicas=1``, so the price of waiting for the replica is read from one run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import time
import uuid
from dataclasses import dataclass

from benchmarks.overhead import redis_server
from idemsdk import Idempotency, RedisStore
from idemsdk.testing import RedisClusterServer, RedisReplicatedServer


@dataclass(frozen=True, slots=True)
class Job:
    """One worker's share of the run."""

    url: str
    prefix: str
    worker: int
    workers: int
    calls: int
    duplicates: float
    seed: int
    wait_replicas: int = 0


def work(job: Job) -> list[float]:
    """Run one worker's calls; return each call's latency in seconds."""
    store = RedisStore.from_url(job.url)
    counter = store.client  # standalone or cluster, as the URL says
    runs_key = f"{job.prefix}:runs"
    idem = Idempotency(store, tenant="load", prefix=job.prefix, wait_replicas=job.wait_replicas)

    @idem.idempotent(scope="charge", on_in_progress="wait", wait_timeout=30)
    def charge(order_id: str) -> str:
        counter.hincrby(runs_key, order_id, 1)  # the side effect: counted outside idemsdk
        return f"charged {order_id}"

    draw = random.Random(job.seed)
    latencies = []
    for call in range(job.calls):
        if call and draw.random() < job.duplicates:  # a key some worker used (or will)
            order = f"{draw.randrange(job.workers)}-{draw.randrange(call)}"
        else:
            order = f"{job.worker}-{call}"
        began = time.perf_counter()
        assert charge(order) == f"charged {order}"
        latencies.append(time.perf_counter() - began)
    return latencies


@dataclass(frozen=True, slots=True)
class Result:
    """What one run measured."""

    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    executions: int
    double_executions: int

    def row(self, label: str) -> str:
        """The result as a Markdown table row."""
        rate = self.calls / self.seconds
        return (
            f"| {label} | {self.calls} | {rate:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} "
            f"| {self.executions} | {self.double_executions} |"
        )


def run(url: str, processes: int, calls: int, duplicates: float, wait_replicas: int = 0) -> Result:
    """All workers at once, from spawned processes; the counters read back and deleted."""
    prefix = f"load{uuid.uuid4().hex[:8]}"
    jobs = [
        Job(url, prefix, worker, processes, calls, duplicates, worker, wait_replicas)
        for worker in range(processes)
    ]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        began = time.perf_counter()
        latencies = [value for values in pool.map(work, jobs) for value in values]
        seconds = time.perf_counter() - began
    client = RedisStore.from_url(url).client
    try:
        runs = {key: int(value) for key, value in client.hgetall(f"{prefix}:runs").items()}
        keys = [f"{prefix}:runs", *(key for key in client.scan_iter(f"{prefix}:*"))]
        for key in keys:
            client.delete(key)
    finally:
        client.close()
    cuts = statistics.quantiles(latencies, n=100)
    return Result(
        calls=len(latencies),
        seconds=seconds,
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
        executions=len(runs),
        double_executions=sum(1 for count in runs.values() if count > 1),
    )


HEADER = [
    "| target | calls | calls/s | p50 ms | p99 ms | executions | double executions |",
    "|---|---:|---:|---:|---:|---:|---:|",
]


def main(argv: list[str] | None = None) -> None:
    """Run the load test and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="redis:// URL (or a cluster URL); default: see above")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--calls", type=int, default=2000, help="calls per process")
    parser.add_argument("--duplicates", type=float, default=0.3, help="share of duplicates")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="also on a 3+3 cluster started here, without and with wait_replicas=1",
    )
    parser.add_argument(
        "--replicated",
        action="store_true",
        help="also on a primary + replica started here, without and with wait_replicas=1",
    )
    args = parser.parse_args(argv)
    load = (args.processes, args.calls, args.duplicates)
    results = []
    with redis_server(args.url) as url:
        results.append(("standalone", run(url, *load)))
    if args.cluster:
        with RedisClusterServer() as cluster:
            results.append(("cluster, 3 primaries + 3 replicas", run(cluster.url, *load)))
            results.append(("cluster, wait_replicas=1", run(cluster.url, *load, 1)))
    if args.replicated:
        with RedisReplicatedServer(replicas=1) as servers:
            results.append(("primary + replica", run(servers.url, *load)))
            results.append(("primary + replica, wait_replicas=1", run(servers.url, *load, 1)))
    rows = [result.row(label) for label, result in results]
    doubles = sum(result.double_executions for _, result in results)
    print("\n".join([*HEADER, *rows]))
    if doubles:
        raise SystemExit(f"{doubles} keys ran more than once")


if __name__ == "__main__":
    main()
