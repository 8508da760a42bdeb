"""Idempotent calls run through a failover, and what they find afterwards.

Two workloads run side by side through the same failover, each on a store of its own:
one whose claims and completions wait for a replica (``wait_replicas=1``), one that does
not. Worker threads call one function with fresh keys and with keys already answered;
every execution is counted per key. After the failover, every key whose call returned a
value is looked for on the new primary and called again: the answer either replays (the
record survived) or runs again (it was lost). :class:`Figures` says how many of each.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from idemsdk import Idempotency, RedisStore, RequestInProgress
from idemsdk.testing import RedisSentinelServer

#: Seconds a worker pauses between calls, so a run is a few hundred calls, not thousands.
PACE = 0.004
#: Seconds a worker pauses after a failed call (the store is down during the failover).
BACKOFF = 0.05
#: Share of calls that repeat a key already answered.
DUPLICATES = 0.3


@dataclass
class Figures:
    """What a run through a failover found; see the module docstring."""

    wait_replicas: int
    calls: int = 0
    returned: int = 0
    after_failover: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    #: Keys whose call returned a value: the ones a caller was told had run.
    answered: int = 0
    #: Answered keys whose completed record the new primary does not have.
    lost: int = 0
    #: Keys whose function ran more than once.
    ran_twice: int = 0
    #: Answered keys whose call after the failover replayed the first answer.
    replayed: int = 0
    #: Keys whose callers were given different answers.
    divergent: int = 0
    #: Answered keys completed on the new primary after the re-calls: all of them, when
    #: the store follows the new primary.
    on_new_primary: int = 0

    def __str__(self) -> str:
        errors = ", ".join(f"{name} {count}" for name, count in sorted(self.errors.items()))
        return (
            f"wait_replicas={self.wait_replicas}: {self.calls} calls, {self.returned} returned "
            f"({self.after_failover} after the failover), errors: {errors or 'none'}; "
            f"{self.answered} keys answered: {self.replayed} replayed after the failover, "
            f"{self.lost} lost, {self.ran_twice} ran twice, {self.divergent} divergent; "
            f"{self.on_new_primary} on the new primary after the re-calls"
        )


class Workload:
    """Idempotent calls on ``store`` from worker threads, counted per key."""

    def __init__(self, store: RedisStore, wait_replicas: int) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.figures = Figures(wait_replicas)
        idem = Idempotency(
            store,
            prefix=self.prefix,
            circuit_breaker=False,
            wait_replicas=wait_replicas,
            wait_timeout=0.25,
        )
        # Re-calls after the failover do not wait for replicas: with one replica, none is
        # left once it is promoted. They are there to find out what survived.
        check = Idempotency(store, prefix=self.prefix, circuit_breaker=False)
        self.call = idem.idempotent(key=lambda key: key, scope="failover", lease=1)(self._run)
        self.recall = check.idempotent(key=lambda key: key, scope="failover", lease=1)(self._run)
        self.runs: collections.Counter[str] = collections.Counter()
        self.answers: dict[str, set[str]] = {}
        self.failed_over = threading.Event()
        self._fresh = itertools.count()
        self._lock = threading.Lock()

    def _run(self, key: str) -> str:
        with self._lock:
            self.runs[key] += 1
            return f"{key}:run{self.runs[key]}"

    def _next_key(self, rng: random.Random) -> str:
        with self._lock:
            answered = list(self.answers)
        if answered and rng.random() < DUPLICATES:
            return rng.choice(answered)
        return f"k{next(self._fresh)}"

    def _work(self, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            key = self._next_key(rng)
            try:
                answer = self.call(key)
            except Exception as exc:  # every failure is counted, by type
                with self._lock:
                    self.figures.calls += 1
                    self.figures.errors[type(exc).__name__] += 1
                time.sleep(BACKOFF)
                continue
            with self._lock:
                self.figures.calls += 1
                self.figures.returned += 1
                self.figures.after_failover += self.failed_over.is_set()
                self.answers.setdefault(key, set()).add(answer)
            time.sleep(PACE)

    def workers(self, stop: threading.Event, threads: int) -> list[threading.Thread]:
        """Threads that call until ``stop`` is set."""
        return [
            threading.Thread(target=self._work, args=(stop, seed), daemon=True)
            for seed in range(threads)
        ]

    def check(self, primary_url: str) -> Figures:
        """Look for every answered key on the new primary (or the cluster, given its URL),
        call each again, look again."""
        figures = self.figures
        figures.answered = len(self.answers)
        figures.lost = figures.answered - self._completed_on(primary_url)
        figures.divergent = sum(len(answers) > 1 for answers in self.answers.values())
        for key, answers in self.answers.items():
            figures.replayed += self._recall(key) in answers and self.runs[key] == 1
        figures.ran_twice = sum(runs > 1 for runs in self.runs.values())
        figures.on_new_primary = self._completed_on(primary_url)
        return figures

    def _completed_on(self, url: str) -> int:
        """How many answered keys have a completed record on the server at ``url``."""
        client = RedisStore.from_url(url).client  # a cluster URL makes a cluster client
        try:
            return sum(
                client.hget(self.call.key_for(key), "status") == b"completed"
                for key in self.answers
            )
        finally:
            client.close()

    def _recall(self, key: str) -> str:
        # A record whose completion was lost is in progress until its lease (1 s) runs out.
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.recall(key)
            except RequestInProgress:  # noqa: PERF203 - a wait, not a hot loop
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextlib.contextmanager
def running(loads: list[Workload], threads: int = 4) -> Iterator[None]:
    """Every workload's worker threads calling until the block ends."""
    stop = threading.Event()
    workers = [worker for load in loads for worker in load.workers(stop, threads)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)


def through_failover(
    setup: RedisSentinelServer,
    failover: Callable[[], None],
    settle: Callable[[], None] = lambda: None,
) -> tuple[Figures, Figures]:
    """Figures without and with ``wait_replicas=1`` for calls made through ``failover``.

    Calls run half a second, then through ``failover`` until the sentinels name a new
    primary, then half a second more; ``settle`` runs once they stopped, before the check.
    """
    stores = [RedisStore.from_sentinel(setup.sentinels, setup.service) for _ in range(2)]
    loads = [Workload(stores[0], wait_replicas=0), Workload(stores[1], wait_replicas=1)]
    with running(loads):
        time.sleep(0.5)
        failover()
        setup.wait_failover(20)
        for load in loads:
            load.failed_over.set()
        time.sleep(0.5)
    settle()
    try:
        plain, waiting = (load.check(setup.primary.url) for load in loads)
    finally:
        for store in stores:
            store.client.close()
    return plain, waiting


def holds(waiting: Figures) -> None:
    """With wait_replicas=1, every answered key survived, ran once, and replays."""
    assert waiting.answered > 0
    assert (waiting.lost, waiting.ran_twice, waiting.divergent) == (0, 0, 0), waiting
    assert waiting.replayed == waiting.on_new_primary == waiting.answered


def accounted_for(plain: Figures) -> None:
    """Without waiting, every answered key replays or runs again, and calls go on."""
    assert plain.answered > 0
    assert plain.after_failover > 0, "calls go on after the failover"
    assert plain.on_new_primary == plain.answered, "re-calls reach the new primary"
    assert plain.replayed + plain.ran_twice >= plain.answered, plain
    assert plain.ran_twice <= plain.lost + plain.divergent, plain
