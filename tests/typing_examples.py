"""Public-API usage that must type-check under ``mypy --strict`` (never executed).

Each ``type: ignore[code]`` marks a misuse that mypy must reject: with ``warn_unused_ignores``
(part of strict), an ignore that stops being needed fails the type check.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio

import idemsdk
from idemsdk import (
    AsyncRedisStore,
    Idempotency,
    IdempotentFunction,
    IdempotentSettings,
    MemoryStore,
    RedisStore,
    make_key,
)

idem = Idempotency(RedisStore(redis.Redis()), tenant="shop", ttl=timedelta(days=1), lease=30.0)
aidem = Idempotency(AsyncRedisStore(redis.asyncio.Redis()))
local = Idempotency(MemoryStore())
sentinel: RedisStore = RedisStore.from_sentinel(
    [("10.0.0.1", 26379)], "mymaster", sentinel_kwargs={"password": "s"}, db=2
)
asentinel: AsyncRedisStore = AsyncRedisStore.from_url("redis+sentinel://10.0.0.1/mymaster")
durable = Idempotency(sentinel, wait_replicas=1, wait_timeout=timedelta(milliseconds=500))
waiting: RedisStore = sentinel.with_wait(1, timeout=0.5)
awaiting: AsyncRedisStore = asentinel.with_wait(2, timeout=1.0)


@idem.idempotent
def charge(order_id: str, amount_cents: int = 0) -> dict[str, int]:
    return {"amount": amount_cents}


@idem.idempotent(key="order_id", cache_errors=(ValueError,), on_in_progress="wait")
def refund(order_id: str, amount_cents: int) -> bool:
    return True


@aidem.idempotent
async def notify(event_id: str) -> str:
    return event_id


@idemsdk.idempotent(scope="jobs.cleanup")
def cleanup(day: str) -> None:
    pass


class Billing:
    @local.idempotent
    def invoice(self, customer: str) -> int:
        return 1


result: dict[str, int] = charge("o-1", amount_cents=5)
flag: bool = refund("o-1", 10)
pending: Coroutine[Any, Any, str] = notify("e-1")
invoice_no: int = Billing().invoice("c-1")
settings: IdempotentSettings = charge.settings
key: str = charge.key_for("o-1", 5)
wrapped: IdempotentFunction[[str, int], dict[str, int]] = charge
raw_key: str = make_key({"a": 1}, tenant="t", scope="s", secret=bytes(32))
cleanup("2026-01-01")

charge(5)  # type: ignore[arg-type]
charge("o-1", amount_cents="5")  # type: ignore[arg-type]
bad: str = refund("o-1", 1)  # type: ignore[assignment]
Billing().invoice(1)  # type: ignore[arg-type]
idem.idempotent(on_in_progress="block")  # type: ignore[call-overload]
default: Idempotency = idemsdk.configure(MemoryStore(), tenant="shop", lease=timedelta(seconds=5))
idemsdk.configure(tenant=1)  # type: ignore[arg-type]
