"""The load the restart tests run: threads or tasks calling one function while Redis restarts.

Each call names a key (``order-N``, fresh or a duplicate of an earlier one) and an attempt id
that is not part of the key, so the function's own log of attempts says which calls ran it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from idemsdk import RequestInProgress, StoreUnavailable
from idemsdk.testing import RedisServer

#: Before the stop, and down: seconds.
BEFORE, DOWNTIME = 0.5, 1.0
#: After the start, the load goes on until this many calls begun once it settled have
#: succeeded, or for AFTER_LIMIT seconds: a slow machine gets time rather than a failure.
#: BEFORE + DOWNTIME + AFTER_LIMIT stays under the tests' lease.
AFTER_CALLS, AFTER_LIMIT = 100, 3.0
#: Share of calls that repeat an earlier key.
DUPLICATES = 0.3
#: A client's pause after an error, so that failing calls do not spin on two cores.
BACKOFF = 0.01
#: The function's own duration, so that some calls are running when the server stops.
WORK = 0.002

OK, NOT_RUN, NOT_STORED, BUSY, UNEXPECTED = "ok", "not run", "ran, not stored", "busy", "?"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One call of the load: its key and attempt, when it ran, what it returned or raised."""

    name: str
    attempt: str
    started: float
    ended: float
    value: str | None = None
    error: Exception | None = None

    @property
    def kind(self) -> str:
        """What became of it: OK, NOT_RUN, NOT_STORED, BUSY, or UNEXPECTED."""
        if self.error is None:
            return OK
        if isinstance(self.error, StoreUnavailable):
            return NOT_STORED if "ran but its result" in self.error.message else NOT_RUN
        return BUSY if isinstance(self.error, RequestInProgress) else UNEXPECTED


@dataclass(frozen=True, slots=True)
class Outage:
    """``time.monotonic()`` marks: stop asked, process gone, start asked, answering again,
    and settled (answering, and the breaker's cool-down over: every call should succeed)."""

    stopping: float
    down: float
    starting: float
    up: float
    settled: float


class Ledger:
    """Every execution of every key (the function's own count) and every call's outcome."""

    def __init__(self) -> None:
        self.runs: dict[str, list[str]] = defaultdict(list)
        self.calls: list[Outcome] = []
        self.first_called: dict[str, float] = {}
        self._names: list[str] = []  # first_called's keys, to pick duplicates from
        self._lock = threading.Lock()

    def execute(self, name: str, attempt: str) -> str:
        """The idempotent function's body: count this execution, return what it made."""
        with self._lock:
            self.runs[name].append(attempt)
        return f"{name} by {attempt}"

    def pick(self, rng: random.Random) -> str:
        """A duplicate of an earlier key (DUPLICATES of the time) or a fresh one."""
        with self._lock:
            if self.first_called and rng.random() < DUPLICATES:
                return rng.choice(self._names)
            name = f"order-{len(self._names)}"
            self.first_called[name] = time.monotonic()
            self._names.append(name)
            return name

    def record(self, outcome: Outcome) -> None:
        """Keep a call's outcome."""
        with self._lock:
            self.calls.append(outcome)

    def ran(self, outcome: Outcome) -> bool:
        """Whether that call ran the function (rather than replaying, failing, or waiting)."""
        return outcome.attempt in self.runs[outcome.name]

    def of(self, kind: str) -> list[Outcome]:
        """The calls that ended so."""
        return [call for call in self.calls if call.kind == kind]

    def succeeded_since(self, moment: float) -> int:
        """How many calls begun after ``moment`` have succeeded so far."""
        with self._lock:
            return sum(call.started > moment and call.kind == OK for call in self.calls)


def attempt() -> str:
    """A new attempt id."""
    return uuid.uuid4().hex[:12]


def sync_load(
    charge: Callable[[str, str], str],
    ledger: Ledger,
    server: RedisServer,
    threads: int,
    settle: float,
) -> Outage:
    """Call ``charge`` from ``threads`` threads while the server stops and starts again.

    ``settle``: seconds after the start until every call should succeed.
    """
    done = threading.Event()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while not done.is_set():
            name, this = ledger.pick(rng), attempt()
            started = time.monotonic()
            try:
                value = charge(name, this)
            except Exception as exc:
                ledger.record(Outcome(name, this, started, time.monotonic(), error=exc))
                time.sleep(BACKOFF)
            else:
                ledger.record(Outcome(name, this, started, time.monotonic(), value=value))

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in pool:
        thread.start()
    try:
        time.sleep(BEFORE)
        stopping = time.monotonic()
        server.terminate()
        down = time.monotonic()
        time.sleep(DOWNTIME)
        starting = time.monotonic()
        server.start()
        up = time.monotonic()
        settled = up + settle
        while time.monotonic() < up + AFTER_LIMIT and ledger.succeeded_since(settled) < AFTER_CALLS:
            time.sleep(0.05)
    finally:
        done.set()
        for thread in pool:
            thread.join()
    return Outage(stopping, down, starting, up, settled)


async def async_load(
    charge: Callable[[str, str], Awaitable[str]],
    ledger: Ledger,
    server: RedisServer,
    tasks: int,
    settle: float,
) -> Outage:
    """The asyncio twin of :func:`sync_load`: ``tasks`` tasks on one loop."""
    done = asyncio.Event()

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        while not done.is_set():
            name, this = ledger.pick(rng), attempt()
            started = time.monotonic()
            try:
                value = await charge(name, this)
            except Exception as exc:
                ledger.record(Outcome(name, this, started, time.monotonic(), error=exc))
                await asyncio.sleep(BACKOFF)
            else:
                ledger.record(Outcome(name, this, started, time.monotonic(), value=value))

    running = [asyncio.create_task(worker(seed)) for seed in range(tasks)]
    try:
        await asyncio.sleep(BEFORE)
        stopping = time.monotonic()
        await asyncio.to_thread(server.terminate)  # it waits for the process: not on the loop
        down = time.monotonic()
        await asyncio.sleep(DOWNTIME)
        starting = time.monotonic()
        await asyncio.to_thread(server.start)
        up = time.monotonic()
        settled = up + settle
        while time.monotonic() < up + AFTER_LIMIT and ledger.succeeded_since(settled) < AFTER_CALLS:
            await asyncio.sleep(0.05)
    finally:
        done.set()
        await asyncio.gather(*running)
    return Outage(stopping, down, starting, up, settled)
