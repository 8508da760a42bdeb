"""The I/O around one call: claim, run, complete or release. Sync and async, nothing else.

Every decision is the engine's (``Call``); a driver only asks the store, sleeps, runs the
function and reports back. The two drivers are line-for-line twins, so keep them that way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ._engine import Call, Execute, Replay
from ._errors import (
    IdempotencyError,
    LeaseLost,
    NotReplicated,
    SerializationError,
    StoreUnavailable,
)
from ._heartbeat import task_renewer, thread_renewer
from ._propagation import enter, leave
from ._record import Status
from ._store import AsyncStore, Store
from ._telemetry import BYPASSED, LEASE_LOST, STORE_UNAVAILABLE, TAKEOVER, warn

__all__ = ["run_async", "run_sync"]

R = TypeVar("R")


def _now_ms() -> int:
    """The writer's clock, for the record's completion time."""
    return int(time.time() * 1000)


def _unprotected(call: Call, exc: StoreUnavailable, when: str) -> None:
    call.bypassed = True
    warn(
        call,
        BYPASSED,
        "idemsdk: store unavailable %s; on_store_error='execute' runs it unprotected: %s",
        when,
        exc,
    )


def _unavailable(call: Call, exc: StoreUnavailable) -> IdempotencyError:
    warn(call, STORE_UNAVAILABLE, "idemsdk: store unavailable; the call did not run: %s", exc)
    return call.annotate(exc)


def _unrecorded(call: Call, exc: StoreUnavailable) -> IdempotencyError:
    warn(call, STORE_UNAVAILABLE, "idemsdk: the call ran but its result was not stored: %s", exc)
    if isinstance(exc, NotReplicated):  # stored on the primary only: its message says so
        return call.annotate(exc)
    return call.annotate(
        StoreUnavailable(
            "the function ran but its result could not be stored; a retry after the lease "
            f"runs out will run it again: {exc.message}"
        )
    )


def _took_over(call: Call) -> None:
    warn(call, TAKEOVER, "idemsdk: took over a claim whose owner's lease ran out")


def _lease_lost(call: Call) -> LeaseLost:
    warn(call, LEASE_LOST, "idemsdk: the lease ran out and another caller took over")
    return call.lease_lost()


def _release_failed(call: Call, exc: IdempotencyError) -> None:
    warn(
        call,
        STORE_UNAVAILABLE,
        "idemsdk: could not release the claim; a retry waits for the lease to run out: %s",
        exc,
    )


def _run_sync(call: Call, func: Callable[..., R], args: Any, kwargs: Any) -> R:
    """Run the function with its key as the running call's, for the requests it makes."""
    token = enter(call.key)
    try:
        return func(*args, **kwargs)
    finally:
        leave(token)


async def _run_async(call: Call, func: Callable[..., Awaitable[R]], args: Any, kwargs: Any) -> R:
    """Await the function with its key as the running call's."""
    token = enter(call.key)
    try:
        return await func(*args, **kwargs)
    finally:
        leave(token)


def _settle_sync(call: Call, store: Store, token: int, exc: BaseException | None) -> bool:
    """After a failure: cache a listed error, else release the claim. False: lease lost.

    ``exc`` None releases unconditionally (a result the codec could not encode).
    """
    body = None if exc is None else call.error_body(exc, _now_ms())
    try:
        if body is None:
            store.release(call.key, token)
            return True
        return store.complete(call.key, token, Status.FAILED, body, call.policy.ttl_ms)
    except IdempotencyError as store_exc:
        _release_failed(call, store_exc)  # the error being raised matters more
        return True


async def _settle_async(
    call: Call, store: AsyncStore, token: int, exc: BaseException | None
) -> bool:
    """After a failure: cache a listed error, else release the claim. False: lease lost."""
    body = None if exc is None else call.error_body(exc, _now_ms())
    try:
        if body is None:
            await store.arelease(call.key, token)
            return True
        return await store.acomplete(call.key, token, Status.FAILED, body, call.policy.ttl_ms)
    except IdempotencyError as store_exc:
        _release_failed(call, store_exc)
        return True


def run_sync(
    call: Call,
    store: Store,
    func: Callable[..., R],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> R:
    """Run one idempotent call on a sync store."""
    policy = call.policy
    while True:
        try:
            claim = store.claim(call.key, call.fingerprint, policy.lease_ms, policy.ttl_ms)
        except StoreUnavailable as exc:
            if policy.on_store_error != "execute":
                raise _unavailable(call, exc) from exc.__cause__
            _unprotected(call, exc, "before the call")
            return _run_sync(call, func, args, kwargs)
        except IdempotencyError as exc:
            raise call.annotate(exc) from exc.__cause__
        step = call.on_claim(claim, time.monotonic())
        if isinstance(step, Execute):
            if step.takeover:
                _took_over(call)
            break
        if isinstance(step, Replay):
            return step.value  # type: ignore[no-any-return]
        time.sleep(step.delay)

    token = step.token
    lease = (
        thread_renewer(store).hold(call.key, token, policy.lease_ms) if policy.heartbeat else None
    )
    try:
        value = _run_sync(call, func, args, kwargs)
    except BaseException as exc:
        if lease:
            lease.end()
        if not _settle_sync(call, store, token, exc):
            raise _lease_lost(call) from exc
        raise
    if lease:
        lease.end()

    try:
        body = call.result_body(value, _now_ms())
    except SerializationError:
        _settle_sync(call, store, token, None)
        raise
    try:
        stored = store.complete(call.key, token, Status.COMPLETED, body, policy.ttl_ms)
    except StoreUnavailable as exc:
        if policy.on_store_error != "execute":
            raise _unrecorded(call, exc) from exc
        _unprotected(call, exc, "after the call")
        return value
    if not stored:
        raise _lease_lost(call)
    return value


async def run_async(
    call: Call,
    store: AsyncStore,
    func: Callable[..., Awaitable[R]],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> R:
    """Run one idempotent call on an async store."""
    policy = call.policy
    while True:
        try:
            claim = await store.aclaim(call.key, call.fingerprint, policy.lease_ms, policy.ttl_ms)
        except StoreUnavailable as exc:
            if policy.on_store_error != "execute":
                raise _unavailable(call, exc) from exc.__cause__
            _unprotected(call, exc, "before the call")
            return await _run_async(call, func, args, kwargs)
        except IdempotencyError as exc:
            raise call.annotate(exc) from exc.__cause__
        step = call.on_claim(claim, time.monotonic())
        if isinstance(step, Execute):
            if step.takeover:
                _took_over(call)
            break
        if isinstance(step, Replay):
            return step.value  # type: ignore[no-any-return]
        await asyncio.sleep(step.delay)

    token = step.token
    lease = task_renewer(store).hold(call.key, token, policy.lease_ms) if policy.heartbeat else None
    try:
        value = await _run_async(call, func, args, kwargs)
    except BaseException as exc:
        if lease:
            lease.end()
        if not await _settle_async(call, store, token, exc):
            raise _lease_lost(call) from exc
        raise
    if lease:
        lease.end()

    try:
        body = call.result_body(value, _now_ms())
    except SerializationError:
        await _settle_async(call, store, token, None)
        raise
    try:
        stored = await store.acomplete(call.key, token, Status.COMPLETED, body, policy.ttl_ms)
    except StoreUnavailable as exc:
        if policy.on_store_error != "execute":
            raise _unrecorded(call, exc) from exc
        _unprotected(call, exc, "after the call")
        return value
    if not stored:
        raise _lease_lost(call)
    return value
