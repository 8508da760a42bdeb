"""The decorator's own contract: signatures, settings, scopes, configuration errors, defaults."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import types
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import fakeredis
import pytest

import idemsdk
import idemsdk.testing
from idemsdk import (
    AsyncRedisStore,
    CanonicalizationError,
    ConfigurationError,
    Idempotency,
    IdempotencyError,
    InvalidKey,
    MemoryStore,
    RedisStore,
)


def test_bare_and_configured_decorators_keep_the_signature_and_expose_settings() -> None:
    idem = Idempotency()

    def charge(order_id: str, amount: int = 0) -> int:
        return amount

    bare = idem.idempotent(charge)
    configured = idem.idempotent(key="order_id", ttl=60, lease=5, cache_errors=(KeyError,))(charge)
    for wrapped in (bare, configured):
        assert inspect.signature(wrapped) == inspect.signature(charge)
        assert wrapped.__wrapped__ is charge
        assert wrapped.__name__ == "charge"
    assert bare.settings.key is None and bare.settings.ttl is None
    assert configured.settings.key == "order_id"
    assert (configured.settings.ttl, configured.settings.lease) == (60.0, 5.0)
    from_timedelta = idem.idempotent(ttl=timedelta(minutes=2), lease=timedelta(seconds=1.5))
    assert from_timedelta(charge).settings.ttl == 120.0
    assert from_timedelta(charge).settings.lease == 1.5
    assert configured.settings.cache_errors == (KeyError,)


def test_async_functions_stay_coroutine_functions() -> None:
    @Idempotency().idempotent
    async def job(x: int) -> int:
        return x

    assert inspect.iscoroutinefunction(job)
    assert asyncio.run(job(3)) == 3


def test_default_scope_is_module_and_qualname_without_locals() -> None:
    idem = Idempotency()

    def outer() -> Any:
        def inner(x: int) -> int:
            return x

        return idem.idempotent(inner)

    assert (
        outer().settings.scope
        == f"{__name__}.test_default_scope_is_module_and_qualname_without_locals.outer.inner"
    )
    assert idem.idempotent(lambda x: x).settings.scope.endswith("_lambda_")


def test_async_function_on_a_sync_only_store_is_refused_at_decoration() -> None:
    idem = Idempotency(RedisStore(fakeredis.FakeRedis()))

    async def job() -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"async function.*AsyncRedisStore or MemoryStore"):
        idem.idempotent(job)


def test_sync_function_on_an_async_only_store_is_refused_at_decoration() -> None:
    idem = Idempotency(AsyncRedisStore(fakeredis.FakeAsyncRedis()))
    with pytest.raises(ConfigurationError, match="sync function"):
        idem.idempotent(lambda: None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "nope.id"}, "'nope' is not a parameter"),
        ({"exclude": ("order.x", "missing")}, "'missing' is not a parameter"),
        ({"exclude": "order.sent_at"}, "sequence of paths"),
        ({"key": "order..id"}, "not a dotted path"),
        ({"key": 42}, "dotted path or a callable"),
        ({"on_in_progress": "block"}, "on_in_progress"),
        ({"ttl": 0}, "ttl must be a positive duration"),
        ({"ttl": 5, "lease": 10}, "at least the lease"),
        ({"cache_errors": (ValueError, "x")}, "exception classes"),
        ({"scope": "a b"}, "scope"),
    ],
)
def test_bad_options_are_refused_at_decoration(options: dict[str, Any], message: str) -> None:
    def pay(order: dict[str, Any]) -> None:
        pass

    with pytest.raises((ConfigurationError, InvalidKey), match=message):
        Idempotency().idempotent(**options)(pay)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tenant": "a:b"}, "tenant"),
        ({"prefix": ""}, "prefix"),
        ({"codec": "xml"}, "unknown codec 'xml'"),
        ({"secret": b"short"}, "32 bytes"),
        ({"on_store_error": "ignore"}, "on_store_error"),
        ({"lease": -1}, "lease"),
        ({"store": object()}, "Store or AsyncStore"),
    ],
)
def test_bad_instance_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(IdempotencyError, match=message):
        Idempotency(**options)


def test_methods_leave_self_out_of_the_payload() -> None:
    runs: list[int] = []
    idem = Idempotency()

    class Billing:
        def __init__(self, name: str) -> None:
            self.name = name

        @idem.idempotent
        def charge(self, amount: int) -> int:
            runs.append(amount)
            return amount

    assert Billing("a").charge(5) == Billing("b").charge(5) == 5
    assert runs == [5]


def test_unhashable_payload_value_names_its_path_and_nothing_runs() -> None:
    runs: list[int] = []
    idem = Idempotency(tenant="acme")

    @idem.idempotent(scope="pay")
    def pay(order: dict[str, Any]) -> None:
        runs.append(1)

    with pytest.raises(CanonicalizationError) as info:
        pay({"items": [{"price": float("nan")}]})
    assert info.value.path == "order.items[0].price"
    assert (info.value.tenant, info.value.scope) == ("acme", "pay")
    assert isinstance(info.value, TypeError)
    assert runs == []


def test_key_paths_into_objects_and_missing_or_null_keys() -> None:
    @dataclass
    class Order:
        id: str | None
        amount: int

    runs: list[int] = []
    pay = Idempotency().idempotent(key="order.id")(lambda order: runs.append(order.amount))
    pay(Order("A", 1))
    pay(Order("A", 1))
    assert runs == [1]
    with pytest.raises(InvalidKey, match="is None"):
        pay(Order(None, 1))
    with pytest.raises(InvalidKey, match="has no 'id'"):
        pay({"amount": 1})


def test_wrong_arguments_raise_the_usual_type_error_before_any_claim() -> None:
    store = MemoryStore()
    job = Idempotency(store).idempotent(lambda a, b=1: a)
    with pytest.raises(TypeError):
        job(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        job(c=1)  # type: ignore[call-arg]
    assert len(store) == 0


def test_cancelled_async_call_releases_its_claim() -> None:
    runs: list[int] = []
    idem = Idempotency()

    @idem.idempotent
    async def job(x: int) -> int:
        runs.append(x)
        if len(runs) == 1:
            await asyncio.sleep(10)
        return x

    async def scenario() -> int:
        task = asyncio.create_task(job(1))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await job(1)

    assert asyncio.run(scenario()) == 1
    assert runs == [1, 1]


def test_module_level_decorator_uses_the_instance_configured_later() -> None:
    runs: list[int] = []

    @idemsdk.idempotent(scope="late")
    def job(x: int) -> int:
        runs.append(x)
        return x

    first_store, second_store = MemoryStore(), MemoryStore()
    try:
        idemsdk.configure(first_store, tenant="one")
        job(1)
        job(1)
        idemsdk.configure(second_store, tenant="two")
        job(1)
        assert runs == [1, 1]
        assert job.key_for(1).startswith("idem:two:late:")
        assert len(first_store) == len(second_store) == 1
    finally:
        idemsdk.configure()


def test_public_api_is_exactly_the_curated_names() -> None:
    required = {
        "Idempotency",
        "idempotent",
        "configure",
        "canonicalize",
        "make_key",
        "MemoryStore",
        "RedisStore",
        "AsyncRedisStore",
        "IdempotencyError",
        "RequestInProgress",
        "PayloadMismatch",
        "StoreUnavailable",
        "LeaseLost",
        "InvalidKey",
        "current_key",
    }
    assert required <= set(idemsdk.__all__)
    assert sorted(idemsdk.__all__) == idemsdk.__all__
    for name in idemsdk.__all__:
        assert getattr(idemsdk, name) is not None
    names = {n for n in dir(idemsdk) if not n.startswith("_")}
    modules = {n for n in names if isinstance(getattr(idemsdk, n), types.ModuleType)}
    # Public submodules, imported by these tests.
    assert modules <= {"client", "http", "testing", "v1"}
    assert names - modules == set(idemsdk.__all__) - {"__version__"}
    assert idemsdk.testing.__all__ == [
        "FakeClock",
        "RedisClusterServer",
        "RedisReplicatedServer",
        "RedisSentinelServer",
        "RedisServer",
        "free_port",
    ]
    for name in idemsdk.__all__:
        obj = getattr(idemsdk, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, IdempotencyError), name


def test_demo_shows_the_four_behaviours() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "idemsdk", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = result.stdout
    assert "first call runs" in out
    assert "RequestInProgress" in out
    assert "PayloadMismatch" in out
    assert "the function ran 2 times for 6 calls" in out
