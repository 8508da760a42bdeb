"""The engine's decisions, fed claim replies directly: no store, no clock, no threads."""

from __future__ import annotations

import pytest

from idemsdk import (
    ClaimResult,
    JsonCodec,
    PayloadMismatch,
    Record,
    RecordCorrupted,
    RequestInProgress,
    Status,
)
from idemsdk._engine import Call, Execute, Policy, Replay, Wait
from idemsdk._framing import encode_body
from idemsdk._results import ResultType

CODEC = JsonCodec()
FP = "f" * 64


def make_call(on_in_progress: str = "raise", wait_timeout: float = 1.0) -> Call:
    policy = Policy(
        ttl_ms=60_000,
        lease_ms=30_000,
        heartbeat=True,
        on_in_progress=on_in_progress,  # type: ignore[arg-type]
        wait_timeout=wait_timeout,
        cache_errors=(ValueError,),
        on_store_error="raise",
        codec=CODEC,
        result_type=ResultType.of(lambda: None),
        max_result_bytes=1 << 20,
    )
    return Call("k", "d" * 64, FP, "t", "s", policy)


def existing(
    status: Status, body: bytes | None = None, fp: str = FP, lease_left: int = 5000
) -> ClaimResult:
    return ClaimResult(
        False, 7, 1_000 + lease_left, 1_000, status=status, fingerprint=fp, body=body
    )


def test_acquired_claim_executes_with_its_token() -> None:
    step = make_call().on_claim(ClaimResult(True, 42, 2000, 1000, takeover=True), 100.0)
    assert step == Execute(42, takeover=True, claimed_at_ms=1000, lease_deadline_ms=2000)


def test_completed_record_replays_its_result() -> None:
    body = encode_body(CODEC, Record(Status.COMPLETED, FP, 7, result={"a": [1, 2]}), 1 << 20)
    assert make_call().on_claim(existing(Status.COMPLETED, body), 100.0) == Replay({"a": [1, 2]})


def test_a_body_of_another_payload_is_corrupted_not_replayed() -> None:
    body = encode_body(CODEC, Record(Status.COMPLETED, "e" * 64, 7, result="theirs"), 1 << 20)
    with pytest.raises(RecordCorrupted, match="does not match"):
        make_call().on_claim(existing(Status.COMPLETED, body), 100.0)


def test_other_fingerprint_is_a_mismatch_whatever_the_status() -> None:
    for status in Status:
        with pytest.raises(PayloadMismatch):
            make_call().on_claim(existing(status, b"", fp="other"), 100.0)


def test_in_progress_raises_with_a_retry_hint_capped_by_the_remaining_lease() -> None:
    with pytest.raises(RequestInProgress) as info:
        make_call().on_claim(existing(Status.IN_PROGRESS, lease_left=2500), 100.0)
    assert info.value.lease_remaining == 2.5
    assert info.value.retry_after == 1.0
    with pytest.raises(RequestInProgress) as info:
        make_call().on_claim(existing(Status.IN_PROGRESS, lease_left=300), 100.0)
    assert info.value.retry_after == info.value.lease_remaining == 0.3
    assert (info.value.tenant, info.value.scope, info.value.digest) == ("t", "s", "d" * 64)


def test_waiting_polls_with_growing_delays_bounded_by_lease_and_deadline() -> None:
    call = make_call("wait", wait_timeout=1.0)
    delays = []
    for now in (100.0, 100.1, 100.2, 100.3, 100.4, 100.5, 100.6):
        step = call.on_claim(existing(Status.IN_PROGRESS, lease_left=60_000), now)
        assert isinstance(step, Wait)
        delays.append(step.delay)
    # doubling from 10 ms; the last one cut short by the 1 s waiting deadline
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.4])
    step = call.on_claim(existing(Status.IN_PROGRESS, lease_left=50), 100.95)
    assert isinstance(step, Wait) and step.delay <= 0.051, "wake up when the lease ends"
    with pytest.raises(RequestInProgress):
        call.on_claim(existing(Status.IN_PROGRESS), 101.0)


def test_cached_error_body_is_written_only_for_listed_types() -> None:
    call = make_call()
    call.on_claim(ClaimResult(True, 7, 2000, 1000), 100.0)  # only an owner writes a record
    assert call.error_body(KeyError("x"), 0) is None
    body = call.error_body(ValueError("bad amount"), 0)
    assert body is not None
    with pytest.raises(ValueError, match="bad amount"):
        call.on_claim(existing(Status.FAILED, body), 100.0)


def test_cached_error_with_an_unusual_constructor_is_still_rebuilt() -> None:
    class Odd(ValueError):
        def __init__(self, code: int, detail: str) -> None:
            super().__init__(f"{code}: {detail}")

    call = make_call()
    call.on_claim(ClaimResult(True, 7, 2000, 1000), 100.0)  # only an owner writes a record
    body = call.error_body(Odd(402, "declined"), 0)
    assert body is not None
    with pytest.raises(Odd, match="402: declined"):
        call.on_claim(existing(Status.FAILED, body), 100.0)


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        b"garbage",
        b"json/1",
        b"nope/1\n{}",
        b"json/x\n{}",
        b"json/1\n{not json",
        b"json/1\n[1]",
    ],
)
def test_unreadable_bodies_are_record_corrupted(body: bytes | None) -> None:
    with pytest.raises(RecordCorrupted) as info:
        make_call().on_claim(existing(Status.COMPLETED, body), 100.0)
    assert info.value.digest == "d" * 64
