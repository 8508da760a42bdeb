"""The idempotency protocol as pure decisions; the drivers in ``_drivers`` do the I/O.

For one call: a claim reply becomes a step (execute, replay, or wait and claim again) or an
error; a result or an exception becomes what to store. Nothing here touches a store, a
clock or a thread, so every rule is written once for sync and async callers alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ._codecs import Codec
from ._errors import (
    IdempotencyError,
    LeaseLost,
    PayloadMismatch,
    RecordCorrupted,
    ReplayedErrorUnavailable,
    RequestInProgress,
)
from ._framing import decode_body, encode_body
from ._record import ClaimResult, Record, Status
from ._results import ResultType

__all__ = ["Call", "Execute", "Policy", "Release", "Replay", "Wait"]

OnInProgress = Literal["raise", "wait"]
OnStoreError = Literal["raise", "execute"]

# Polling while another caller runs: start fast (most duplicates are close retries of short
# calls), back off to a bounded interval so waiters don't hammer the store.
_FIRST_POLL = 0.01
_MAX_POLL = 0.5
# The hint a busy duplicate gets: the owner's remaining lease is only an upper bound.
_MAX_RETRY_AFTER = 1.0


class Release(Exception):
    """Raised by a run to end it with nothing stored and no error: the claim is released.

    The HTTP middleware raises it for responses it passes on without storing (a 5xx, a
    stream); the run happened, so telemetry reports it executed, and not as a failure.
    """


@dataclass(slots=True)
class Execute:
    """Run the function: this caller owns the key under ``token``."""

    token: int
    takeover: bool
    #: From the claim, for the record: when it was claimed and until when the lease runs.
    claimed_at_ms: int = 0
    lease_deadline_ms: int = 0


@dataclass(slots=True)
class Replay:
    """Return the stored result without running the function."""

    value: Any


@dataclass(slots=True)
class Wait:
    """Another caller is running it: sleep ``delay`` seconds, then claim again."""

    delay: float


Step = Execute | Replay | Wait


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything that decides a call's fate besides its key, resolved once per function."""

    ttl_ms: int
    lease_ms: int
    heartbeat: bool
    on_in_progress: OnInProgress
    #: Seconds a waiting duplicate waits before it raises RequestInProgress.
    wait_timeout: float
    cache_errors: tuple[type[BaseException], ...]
    on_store_error: OnStoreError
    codec: Codec
    #: How the function's results become JSON trees and back (its return annotation).
    result_type: ResultType
    max_result_bytes: int


class Call:
    """One invocation's identity and the decisions about it."""

    __slots__ = (
        "_owner",
        "_polls",
        "_wait_until",
        "bypassed",
        "digest",
        "fingerprint",
        "key",
        "origin",
        "policy",
        "replayed",
        "scope",
        "setnx",
        "tenant",
        "trace_ids",
    )

    def __init__(
        self, key: str, digest: str, fingerprint: str, tenant: str, scope: str, policy: Policy
    ) -> None:
        self.key = key
        self.digest = digest
        self.fingerprint = fingerprint
        self.tenant = tenant
        self.scope = scope
        self.policy = policy
        self._wait_until: float | None = None  # set when waiting starts
        self._polls = 0
        self._owner: Execute | None = None  # the claim this call won, once it has
        # What telemetry reports; the drivers and this class fill it in as the call goes.
        self.setnx: int | None = None  # the last claim: 1 took ownership, 0 the key existed
        self.replayed = False  # a stored outcome (result or cached error) was given back
        self.bypassed = False  # the store was down and on_store_error="execute" ran it
        self.origin: tuple[str, str] = ("", "")  # trace and span id of the replayed execution
        # This call's trace and span id, when traced: the record it stores names them.
        self.trace_ids: tuple[int, int] | None = None

    def annotate(self, exc: IdempotencyError) -> IdempotencyError:
        """Fill in this call's tenant, scope and digest on an error raised below the engine."""
        exc.tenant = exc.tenant or self.tenant
        exc.scope = exc.scope or self.scope
        exc.digest = exc.digest or self.digest
        return exc

    def _context(self) -> dict[str, str]:
        return {"tenant": self.tenant, "scope": self.scope, "digest": self.digest}

    def on_claim(self, claim: ClaimResult, now: float) -> Step:
        """Decide what a claim reply means; raises for mismatches, cached errors, busy keys."""
        self.setnx = 1 if claim.acquired else 0
        if claim.acquired:
            self._owner = Execute(
                claim.token, claim.takeover, claim.now_ms, claim.lease_deadline_ms
            )
            return self._owner
        if claim.fingerprint != self.fingerprint:
            raise PayloadMismatch(
                "this key was first used with another payload; nothing ran", **self._context()
            )
        if claim.status is not Status.IN_PROGRESS:
            try:
                record = decode_body(claim.body)
                if record.fingerprint != self.fingerprint or record.status is not claim.status:
                    # A body that is not this key's (swapped, replayed from elsewhere): its
                    # result would be a wrong answer, so it is no answer.
                    raise RecordCorrupted("the record body does not match its key's record")
                self.replayed, self.origin = True, (record.trace_id, record.span_id)
                if record.status is Status.COMPLETED:
                    return Replay(self.policy.result_type.load(record.result))
            except IdempotencyError as exc:
                raise self.annotate(exc) from exc.__cause__
            raise self._cached_error(record)
        retry_after = max(claim.lease_remaining_ms / 1000, 0.001)
        if self.policy.on_in_progress == "wait" and self._wait_until is None:
            self._wait_until = now + self.policy.wait_timeout
        if self._wait_until is not None and now < self._wait_until:
            # Poll again no later than the owner's lease ends, so a crashed owner is taken
            # over promptly; never sleep past the waiting deadline.
            delay = min(_FIRST_POLL * 2**self._polls, _MAX_POLL, retry_after + 0.001)
            self._polls += 1
            return Wait(min(delay, self._wait_until - now))
        raise RequestInProgress(
            "the first call with this key is still running",
            retry_after=min(retry_after, _MAX_RETRY_AFTER),
            lease_remaining=retry_after,
            **self._context(),
        )

    @property
    def executed(self) -> bool:
        """Whether this call won its claim, and so ran (or is running) the function."""
        return self._owner is not None

    @property
    def took_over(self) -> bool:
        """Whether this call won its claim from an owner whose lease had run out."""
        return self._owner is not None and self._owner.takeover

    def _record(self, status: Status, now_ms: int) -> Record:
        owner = self._owner
        assert owner is not None, "only a call that won its claim writes a record"
        trace_id, span_id = (
            ("", "")
            if self.trace_ids is None
            else (f"{self.trace_ids[0]:032x}", f"{self.trace_ids[1]:016x}")
        )
        return Record(
            status,
            self.fingerprint,
            owner.token,
            owner.claimed_at_ms,
            now_ms,
            owner.lease_deadline_ms,
            None,
            "",
            "",
            trace_id,
            span_id,
        )

    def result_body(self, value: Any, now_ms: int) -> bytes:
        """What to store for a result; SerializationError when it cannot be stored."""
        record = self._record(Status.COMPLETED, now_ms)
        try:
            record.result = self.policy.result_type.dump(value)
            return encode_body(self.policy.codec, record, self.policy.max_result_bytes)
        except IdempotencyError as exc:
            raise self.annotate(exc) from exc.__cause__

    def error_body(self, exc: BaseException, now_ms: int) -> bytes | None:
        """What to store for an exception listed in ``cache_errors``; None to release instead."""
        if not isinstance(exc, self.policy.cache_errors):
            return None
        kind = type(exc)
        record = self._record(Status.FAILED, now_ms)
        record.error_type = f"{kind.__module__}.{kind.__qualname__}"
        record.error_message = str(exc)
        return encode_body(self.policy.codec, record, self.policy.max_result_bytes)

    def lease_lost(self) -> LeaseLost:
        """The error for a call whose token no longer owns its record."""
        return LeaseLost(
            "this call's lease ran out and another caller took over; its result was not stored",
            **self._context(),
        )

    def _cached_error(self, record: Record) -> BaseException:
        # The type is looked up among the types the function allows (and their loaded
        # subclasses), never imported by a name read from the store.
        wanted = record.error_type
        message = record.error_message
        for kind in _with_subclasses(self.policy.cache_errors):
            if f"{kind.__module__}.{kind.__qualname__}" == wanted:
                try:
                    return kind(message)
                except Exception:  # noqa: BLE001 - constructors with other signatures
                    error = kind.__new__(kind)
                    error.args = (message,)
                    return error
        return ReplayedErrorUnavailable(
            f"the first call raised {wanted}: {message!r}, which is not in cache_errors",
            **self._context(),
        )


def _with_subclasses(kinds: tuple[type[BaseException], ...]) -> Iterator[type[BaseException]]:
    seen: set[type[BaseException]] = set()
    stack = list(kinds)
    while stack:
        kind = stack.pop()
        if kind not in seen:
            seen.add(kind)
            yield kind
            stack.extend(kind.__subclasses__())
