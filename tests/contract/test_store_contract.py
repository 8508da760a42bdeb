"""The store protocol, checked directly on every store: the same answers everywhere."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from idemsdk import AsyncStore, ClaimResult, Status, Store

from .harness import Harness

LEASE = 300
TTL = 60_000


class Ops:
    """The store's four operations, called synchronously whatever the store's mode."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def _call(self, name: str, *args: Any) -> Any:
        if self.h.mode == "sync":
            return getattr(cast(Store, self.h.store), name)(*args)
        return self.h.run(getattr(cast(AsyncStore, self.h.store), "a" + name)(*args))

    def claim(self, key: str, fp: str = "fp", lease: int = LEASE, ttl: int = TTL) -> ClaimResult:
        return cast(ClaimResult, self._call("claim", key, fp, lease, ttl))

    def complete(
        self,
        key: str,
        token: int,
        body: bytes = b"body",
        ttl: int = TTL,
        status: Status = Status.COMPLETED,
    ) -> bool:
        return cast(bool, self._call("complete", key, token, status, body, ttl))

    def release(self, key: str, token: int) -> bool:
        return cast(bool, self._call("release", key, token))

    def renew(self, key: str, token: int, lease: int = LEASE) -> bool:
        return cast(bool, self._call("renew", key, token, lease))


@pytest.fixture
def ops(harness: Harness) -> Ops:
    return Ops(harness)


@pytest.fixture
def key(harness: Harness) -> str:
    return f"{harness.prefix}:tenant:scope:digest"


def test_first_claim_acquires_with_a_lease(ops: Ops, key: str) -> None:
    claim = ops.claim(key)
    assert claim.acquired and not claim.takeover
    assert claim.token > 0
    assert 0 < claim.lease_deadline_ms - claim.now_ms <= LEASE


def test_second_claim_answers_the_in_progress_record(ops: Ops, key: str) -> None:
    first = ops.claim(key, "fp-a")
    second = ops.claim(key, "fp-a")
    assert not second.acquired
    assert (second.status, second.token, second.fingerprint) == (
        Status.IN_PROGRESS,
        first.token,
        "fp-a",
    )
    assert second.body is None
    assert 0 < second.lease_remaining_ms <= LEASE


def test_completed_record_is_answered_with_its_body(ops: Ops, key: str) -> None:
    token = ops.claim(key).token
    assert ops.complete(key, token, b"\x00binary\xff")
    again = ops.claim(key)
    assert not again.acquired
    assert (again.status, again.body) == (Status.COMPLETED, b"\x00binary\xff")


def test_failed_status_is_kept(ops: Ops, key: str) -> None:
    token = ops.claim(key).token
    assert ops.complete(key, token, b"err", status=Status.FAILED)
    assert ops.claim(key).status is Status.FAILED


def test_only_the_owner_token_completes_releases_or_renews(ops: Ops, key: str) -> None:
    token = ops.claim(key).token
    assert not ops.complete(key, token + 1)
    assert not ops.release(key, token + 1)
    assert not ops.renew(key, token + 1)
    assert ops.claim(key).status is Status.IN_PROGRESS


def test_complete_and_release_need_an_in_progress_record(ops: Ops, key: str) -> None:
    token = ops.claim(key).token
    assert ops.complete(key, token)
    assert not ops.complete(key, token, b"other")
    assert not ops.release(key, token)
    assert not ops.renew(key, token)
    assert ops.claim(key).body == b"body"
    assert not ops.complete(f"{key}-absent", token)


def test_the_same_completion_again_answers_stored_and_changes_nothing(ops: Ops, key: str) -> None:
    """What a completion resent after its reply was lost must find (see docs/stores.md)."""
    token = ops.claim(key).token
    assert ops.complete(key, token)
    assert ops.complete(key, token)
    assert ops.claim(key).body == b"body"
    assert not ops.complete(key, token + 1)


def test_release_deletes_so_the_next_claim_acquires_with_a_larger_token(ops: Ops, key: str) -> None:
    first = ops.claim(key)
    assert ops.release(key, first.token)
    second = ops.claim(key)
    assert second.acquired and not second.takeover
    assert second.token > first.token


def test_lapsed_lease_is_taken_over_with_a_larger_token(ops: Ops, key: str) -> None:
    first = ops.claim(key, lease=100)
    time.sleep(0.15)
    second = ops.claim(key)
    assert second.acquired and second.takeover
    assert second.token > first.token
    assert not ops.complete(key, first.token), "the old owner must be fenced off"
    assert ops.complete(key, second.token, b"new")
    assert ops.claim(key).body == b"new"


def test_lapsed_lease_is_not_taken_over_by_another_payload(ops: Ops, key: str) -> None:
    first = ops.claim(key, "fp-a", lease=100)
    time.sleep(0.15)
    other = ops.claim(key, "fp-b")
    assert not other.acquired
    assert (other.fingerprint, other.token) == ("fp-a", first.token)


def test_renew_keeps_the_lease_alive(ops: Ops, key: str) -> None:
    first = ops.claim(key, lease=200)
    for _ in range(3):
        time.sleep(0.1)
        assert ops.renew(key, first.token, 200)
    assert not ops.claim(key).acquired


def test_completed_record_expires_after_its_ttl(ops: Ops, key: str) -> None:
    token = ops.claim(key).token
    assert ops.complete(key, token, ttl=150)
    time.sleep(0.25)
    assert ops.claim(key).acquired


def test_in_progress_record_lives_at_least_its_lease(ops: Ops, key: str) -> None:
    first = ops.claim(key, lease=300, ttl=50)
    time.sleep(0.1)
    again = ops.claim(key)
    assert not again.acquired and again.token == first.token


def test_keys_are_independent(ops: Ops, key: str) -> None:
    assert ops.claim(key).acquired
    assert ops.claim(key + "-2").acquired
