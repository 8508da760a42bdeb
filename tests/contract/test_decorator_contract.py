"""Every behaviour of ``@idempotent``, on every store, through the sync and async decorator."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from idemsdk import (
    IdempotencyError,
    LeaseLost,
    PayloadMismatch,
    ReplayedErrorUnavailable,
    RequestInProgress,
    ResultTooLarge,
    SerializationError,
)

from .harness import Harness


class CardKind(enum.Enum):
    """An Enum inside a typed result."""

    DEBIT = "debit"
    CREDIT = "credit"


class Counter:
    """Counts the executions of a test function, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def hit(self, *args: Any) -> int:
        with self._lock:
            self.calls.append(args)
            return len(self.calls)

    @property
    def count(self) -> int:
        return len(self.calls)


def gated(counter: Counter) -> tuple[Callable[..., Any], threading.Event, threading.Event]:
    """A function that signals it started and blocks until released."""
    started, release = threading.Event(), threading.Event()

    def slow(order_id: str, amount: int = 1) -> dict[str, Any]:
        run = counter.hit(order_id)
        started.set()
        assert release.wait(20)
        return {"order": order_id, "amount": amount, "run": run}

    return slow, started, release


def test_first_call_runs_and_duplicates_replay_without_running(harness: Harness) -> None:
    counter = Counter()

    def charge(order_id: str, amount: int) -> dict[str, Any]:
        run = counter.hit(order_id)
        return {"order": order_id, "amount": amount, "run": run, "tags": ["a", "b"], "ok": True}

    f = harness.decorate(harness.idem(), charge)
    first = f("o-1", 100)
    assert first == {"order": "o-1", "amount": 100, "run": 1, "tags": ["a", "b"], "ok": True}
    assert f("o-1", 100) == first
    assert f("o-1", 100) == first
    assert counter.count == 1


def test_none_and_scalar_results_replay_equal(harness: Harness) -> None:
    counter = Counter()

    def job(kind: str) -> Any:
        counter.hit(kind)
        return {"none": None, "float": 2.5, "str": "é€😀", "list": [1, [2, {"x": None}]]}[kind]

    f = harness.decorate(harness.idem(), job)
    for kind in ("none", "float", "str", "list"):
        assert f(kind) == f(kind)
    assert counter.count == 4


def test_different_payloads_run_separately(harness: Harness) -> None:
    counter = Counter()
    f = harness.decorate(harness.idem(), lambda x: counter.hit(x))
    assert [f(1), f(2), f(1), f(2)] == [1, 2, 1, 2]
    assert counter.count == 2


def test_arguments_bind_by_name_with_defaults(harness: Harness) -> None:
    counter = Counter()

    def job(a: int, b: int = 2) -> int:
        return counter.hit(a, b)

    f = harness.decorate(harness.idem(), job)
    assert f(1, b=2) == f(a=1, b=2) == f(1) == f(1, 2) == 1
    assert counter.count == 1


def test_key_path_picks_identity_and_other_fields_must_match(harness: Harness) -> None:
    counter = Counter()

    def pay(order: dict[str, Any]) -> int:
        return counter.hit(order["id"])

    f = harness.decorate(harness.idem(), pay, key="order.id")
    assert f({"id": "A", "amount": 5}) == 1
    assert f({"amount": 5, "id": "A"}) == 1
    with pytest.raises(PayloadMismatch):
        f({"id": "A", "amount": 6})
    assert counter.count == 1


def test_exclude_drops_paths_from_the_fingerprint(harness: Harness) -> None:
    counter = Counter()

    def pay(order: dict[str, Any]) -> int:
        return counter.hit(order["id"])

    f = harness.decorate(harness.idem(), pay, key="order.id", exclude=("order.sent_at",))
    assert f({"id": "A", "amount": 5, "sent_at": "10:00"}) == 1
    assert f({"id": "A", "amount": 5, "sent_at": "10:05"}) == 1
    assert counter.count == 1


def test_an_excluded_argument_needs_no_json_form(harness: Harness) -> None:
    counter = Counter()

    def handle(event_id: str, connection: object) -> int:
        return counter.hit(event_id)

    # An object with no canonical JSON form: excluding its argument must keep it out of the
    # conversion, not only out of the hash.
    f = harness.decorate(harness.idem(), handle, key="event_id", exclude=("connection",))
    assert f("ev-1", object()) == 1
    assert f("ev-1", object()) == 1
    assert counter.count == 1


def test_key_callable_takes_the_function_arguments(harness: Harness) -> None:
    counter = Counter()

    def send(user: str, body: str) -> int:
        return counter.hit(user, body)

    f = harness.decorate(harness.idem(), send, key=lambda user, body: user, exclude=("body",))
    assert f("ann", "hello") == 1
    assert f("ann", "hello again") == 1
    assert f("bob", "hello") == 2


def test_payload_mismatch_runs_nothing_and_names_the_call(harness: Harness) -> None:
    counter = Counter()
    idem = harness.idem(tenant="acme")
    f = harness.decorate(idem, lambda order_id, amount: counter.hit(), key="order_id", scope="pay")
    f("o-1", 100)
    with pytest.raises(PayloadMismatch) as info:
        f("o-1", 999)
    assert counter.count == 1
    error = info.value
    assert (error.tenant, error.scope) == ("acme", "pay")
    assert error.digest is not None and len(error.digest) == 64
    assert "999" not in str(error)


def test_duplicate_of_a_running_call_raises_request_in_progress(harness: Harness) -> None:
    counter = Counter()
    slow, started, release = gated(counter)
    f = harness.decorate(harness.idem(lease=5), slow)
    first = harness.start(f, "o-1")
    assert started.wait(10)
    with pytest.raises(RequestInProgress) as info:
        f("o-1")
    assert 0 < info.value.retry_after <= 1
    assert info.value.retry_after <= info.value.lease_remaining <= 5
    release.set()
    assert first.result(10)["run"] == 1
    assert f("o-1")["run"] == 1
    assert counter.count == 1


def test_waiting_duplicate_gets_the_first_result(harness: Harness) -> None:
    counter = Counter()
    slow, started, release = gated(counter)
    f = harness.decorate(harness.idem(lease=5), slow, on_in_progress="wait", wait_timeout=10)
    first = harness.start(f, "o-1")
    assert started.wait(10)
    second = harness.start(f, "o-1")
    time.sleep(0.2)
    assert not second.done()
    release.set()
    assert first.result(10) == second.result(10)
    assert counter.count == 1


def test_waiting_is_bounded_by_wait_timeout(harness: Harness) -> None:
    counter = Counter()
    slow, started, release = gated(counter)
    f = harness.decorate(harness.idem(lease=5), slow, on_in_progress="wait", wait_timeout=0.3)
    first = harness.start(f, "o-1")
    assert started.wait(10)
    began = time.monotonic()
    with pytest.raises(RequestInProgress):
        f("o-1")
    assert 0.25 <= time.monotonic() - began < 3
    release.set()
    first.result(10)


def test_an_exception_releases_the_claim_so_a_retry_runs(harness: Harness) -> None:
    counter = Counter()

    def flaky(x: int) -> str:
        if counter.hit(x) == 1:
            raise ConnectionError("gateway timeout")
        return "ok"

    f = harness.decorate(harness.idem(), flaky)
    with pytest.raises(ConnectionError):
        f(1)
    assert f(1) == "ok"
    assert f(1) == "ok"
    assert counter.count == 2


class CardDeclined(ValueError):
    """A business error worth caching."""


def test_cached_errors_are_stored_and_reraised_without_running(harness: Harness) -> None:
    counter = Counter()

    def charge(card: str) -> str:
        counter.hit(card)
        raise CardDeclined(f"card {card} declined: insufficient funds")

    f = harness.decorate(harness.idem(), charge, cache_errors=(ValueError,))
    for _ in range(3):
        with pytest.raises(CardDeclined, match="card 4242 declined: insufficient funds"):
            f("4242")
    assert counter.count == 1


def test_cached_error_no_longer_allowed_is_reported_not_guessed(harness: Harness) -> None:
    counter = Counter()

    def charge(card: str) -> str:
        counter.hit(card)
        raise CardDeclined("declined")

    idem = harness.idem()
    with pytest.raises(CardDeclined):
        harness.decorate(idem, charge, scope="charge", cache_errors=(CardDeclined,))("4242")
    with pytest.raises(ReplayedErrorUnavailable, match="CardDeclined"):
        harness.decorate(idem, charge, scope="charge", cache_errors=(KeyError,))("4242")
    assert counter.count == 1


def test_unencodable_result_releases_the_claim(harness: Harness) -> None:
    counter = Counter()

    def job(x: int) -> object:
        counter.hit(x)
        return object() if counter.count == 1 else "fine"

    f = harness.decorate(harness.idem(), job)
    with pytest.raises(SerializationError):
        f(1)
    assert f(1) == "fine"
    assert counter.count == 2


def test_lapsed_lease_is_taken_over_and_the_stale_worker_gets_lease_lost(harness: Harness) -> None:
    counter = Counter()
    slow, started, release = gated(counter)
    f = harness.decorate(harness.idem(lease=0.3), slow, heartbeat=False)
    stale = harness.start(f, "o-1")
    assert started.wait(10)
    time.sleep(0.4)
    started.clear()
    takeover = harness.start(f, "o-1")
    # Released only once the takeover runs: a stale worker released sooner may complete
    # before the takeover claims (its token still owns the record), and that is no takeover.
    assert started.wait(10)
    release.set()
    taken_over = takeover.result(10)
    assert taken_over["run"] == 2
    with pytest.raises(LeaseLost):
        stale.result(10)
    assert f("o-1") == taken_over, "the new owner's result stays"
    assert counter.count == 2


def test_heartbeat_keeps_a_long_call_from_being_taken_over(harness: Harness) -> None:
    counter = Counter()
    slow, started, release = gated(counter)
    f = harness.decorate(harness.idem(lease=0.3), slow)
    first = harness.start(f, "o-1")
    assert started.wait(10)
    for _ in range(4):  # well past the lease, several renewals
        time.sleep(0.25)
        with pytest.raises(RequestInProgress):
            f("o-1")
    release.set()
    assert first.result(10)["run"] == 1
    assert counter.count == 1


def test_records_expire_after_their_ttl(harness: Harness) -> None:
    counter = Counter()
    f = harness.decorate(harness.idem(ttl=0.3, lease=0.3), lambda x: counter.hit(x))
    assert f(1) == 1
    assert f(1) == 1
    time.sleep(0.45)
    assert f(1) == 2


def test_tenants_never_share_records(harness: Harness) -> None:
    counter = Counter()

    def job(x: int) -> int:
        return counter.hit(x)

    a = harness.decorate(harness.idem(tenant="a"), job, scope="job")
    b = harness.decorate(harness.idem(tenant="b"), job, scope="job")
    assert (a(1), b(1), a(1), b(1)) == (1, 2, 1, 2)
    assert a.key_for(1) != b.key_for(1)  # type: ignore[attr-defined]


def test_secret_changes_keys_and_still_deduplicates(harness: Harness) -> None:
    counter = Counter()
    plain = harness.decorate(harness.idem(), lambda x: counter.hit(x), scope="s")
    keyed = harness.decorate(harness.idem(secret=bytes(32)), lambda x: counter.hit(x), scope="s")
    assert plain.key_for(1) != keyed.key_for(1)  # type: ignore[attr-defined]
    assert (keyed(1), keyed(1)) == (1, 1)


def test_key_for_matches_the_key_a_call_uses(harness: Harness) -> None:
    f = harness.decorate(harness.idem(tenant="t1"), lambda x: x, scope="orders.create")
    key = f.key_for(7)  # type: ignore[attr-defined]
    assert key.startswith(f"{harness.prefix}:t1:orders.create:")
    assert len(key.rsplit(":", 1)[1]) == 64


def test_errors_share_one_root(harness: Harness) -> None:
    f = harness.decorate(harness.idem(), lambda order_id, n: n, key="order_id")
    f("x", 1)
    with pytest.raises(IdempotencyError):
        f("x", 2)


@pytest.mark.parametrize(("writer", "reader"), [("json", "protobuf"), ("protobuf", "json")])
def test_a_record_written_with_one_codec_is_replayed_with_the_other(
    harness: Harness, writer: str, reader: str
) -> None:
    counter = Counter()

    def job(order_id: str) -> dict[str, Any]:
        return {"order": order_id, "run": counter.hit(order_id), "big": 2**60, "f": 0.1}

    def declined(card: str) -> None:
        counter.hit(card)
        raise CardDeclined(f"{card} declined")

    before = harness.decorate(harness.idem(codec=writer), job, scope="job")
    after = harness.decorate(harness.idem(codec=reader), job, scope="job")
    first = before("o-1")
    assert after("o-1") == first  # a rolling deploy that switched codec replays it
    options: dict[str, Any] = {"scope": "pay", "cache_errors": (CardDeclined,)}
    with pytest.raises(CardDeclined):
        harness.decorate(harness.idem(codec=writer), declined, **options)("4242")
    with pytest.raises(CardDeclined, match="4242 declined"):
        harness.decorate(harness.idem(codec=reader), declined, **options)("4242")
    assert counter.count == 2


@pytest.mark.parametrize("codec", ["json", "protobuf"])
def test_a_result_over_the_size_limit_leaves_no_record_and_a_retry_runs(
    harness: Harness, codec: str
) -> None:
    counter = Counter()

    def job(n: int) -> str:
        return "x" * n if counter.hit(n) == 1 else "small"

    f = harness.decorate(harness.idem(codec=codec, max_result_bytes=1000), job)
    with pytest.raises(ResultTooLarge):
        f(5000)
    assert f(5000) == "small"
    assert f(5000) == "small"
    assert counter.count == 2


@dataclass
class Charge:
    """A typed result: everything here must come back equal, not as strings."""

    id: uuid.UUID
    amount: decimal.Decimal
    at: dt.datetime
    receipt: bytes
    lines: list[tuple[str, int]]
    kind: CardKind


class Customer(pydantic.BaseModel):
    """A pydantic result."""

    email: str
    since: dt.date


@pytest.mark.parametrize("codec", ["json", "protobuf"])
def test_typed_results_replay_equal_to_what_the_first_call_returned(
    harness: Harness, codec: str
) -> None:
    counter = Counter()
    at = dt.datetime(2026, 11, 22, 18, 7, 1, 250, tzinfo=dt.timezone.utc)

    def charge(order_id: str) -> Charge:
        counter.hit(order_id)
        return Charge(
            uuid.UUID(int=counter.count),
            decimal.Decimal("19.90"),
            at,
            b"\x00\xff",
            [("sku-1", 2)],
            CardKind.DEBIT,
        )

    def customer(email: str) -> Customer:
        counter.hit(email)
        return Customer(email=email, since=dt.date(2020, 2, 29))

    def stamp(n: int) -> Timestamp:
        counter.hit(n)
        return Timestamp(seconds=n, nanos=5)

    idem = harness.idem(codec=codec)
    for body, arg in ((charge, "o-1"), (customer, "a@b.c"), (stamp, 7)):
        f = harness.decorate(idem, body)
        first = f(arg)
        again = f(arg)
        assert again == first
        assert type(again) is type(first)
    assert counter.count == 3


def test_a_result_that_does_not_fit_its_annotation_is_refused_and_released(
    harness: Harness,
) -> None:
    counter = Counter()

    def charge(order_id: str) -> Charge:
        counter.hit(order_id)
        return {"not": "a Charge"}  # type: ignore[return-value]

    f = harness.decorate(harness.idem(), charge)
    with pytest.raises(SerializationError, match="result"):
        f("o-1")
    with pytest.raises(SerializationError):
        f("o-1")
    assert counter.count == 2, "nothing was stored, so the retry ran"
