"""``Idempotency`` and its ``idempotent`` decorator; the module-level default instance."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, get_args, overload

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from ._binding import ArgBinder, drop_paths, resolve_path
from ._breaker import CircuitBreaker, default_breaker
from ._canonical import canonicalize
from ._codecs import Codec, resolve_codec
from ._drivers import run_async, run_sync
from ._engine import Call, OnInProgress, OnStoreError, Policy
from ._errors import ConfigurationError, IdempotencyError
from ._keys import check_prefix, check_scope, check_secret, check_tenant, default_scope, digest
from ._memory import MemoryStore
from ._results import ResultType
from ._store import AsyncStore, ReplicatedStore, Store
from ._telemetry import Telemetry

__all__ = [
    "Idempotency",
    "IdempotentFunction",
    "IdempotentSettings",
    "configure",
    "idempotent",
]

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
S = TypeVar("S")

Seconds = float | timedelta
KeySpec = str | Callable[..., Any] | None


def _seconds(value: Seconds, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not seconds > 0:
        raise ConfigurationError(f"{name} must be a positive duration, not {value!r}")
    return seconds


def _choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ConfigurationError(f"{name} must be one of {allowed}, not {value!r}")


@dataclass(frozen=True, slots=True)
class IdempotentSettings:
    """The settings of one decorated function, as given (``None``: the instance's default)."""

    scope: str
    key: KeySpec
    exclude: tuple[str, ...]
    ttl: float | None
    lease: float | None
    heartbeat: bool
    on_in_progress: OnInProgress
    wait_timeout: float | None
    cache_errors: tuple[type[BaseException], ...]


class IdempotentFunction(Protocol[P, R_co]):
    """A function wrapped by :meth:`Idempotency.idempotent`: same signature, plus its settings."""

    @property
    def settings(self) -> IdempotentSettings:
        """The options it was decorated with."""
        ...

    @property
    def __wrapped__(self) -> Callable[P, R_co]:
        """The undecorated function."""
        ...

    @property
    def __name__(self) -> str:
        """The function's name."""
        ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Run the function once per key; replay its result for duplicates."""
        ...

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The store key a call with these arguments would use, without running anything."""
        ...

    # Descriptor overloads so that decorated methods bind ``self`` for type checkers too.
    @overload
    def __get__(
        self, instance: None, owner: type[Any] | None = None
    ) -> IdempotentFunction[P, R_co]: ...
    @overload
    def __get__(
        self: IdempotentFunction[Concatenate[S, P2], R],
        instance: S,
        owner: type[Any] | None = None,
    ) -> IdempotentFunction[P2, R]: ...


class _Decorates:
    """The ``idempotent`` decorator, written once for an instance and for the default one."""

    def _source(self) -> Callable[[], Idempotency]:
        """Where a decorated function finds its instance at each call."""
        raise NotImplementedError

    @overload
    def idempotent(self, func: Callable[P, R], /) -> IdempotentFunction[P, R]: ...
    @overload
    def idempotent(
        self,
        func: None = None,
        /,
        *,
        key: KeySpec = None,
        exclude: Sequence[str] = (),
        scope: str | None = None,
        ttl: Seconds | None = None,
        lease: Seconds | None = None,
        heartbeat: bool = True,
        on_in_progress: OnInProgress = "raise",
        wait_timeout: Seconds | None = None,
        cache_errors: Sequence[type[BaseException]] = (),
    ) -> Callable[[Callable[P, R]], IdempotentFunction[P, R]]: ...
    def idempotent(
        self,
        func: Callable[P, R] | None = None,
        /,
        *,
        key: KeySpec = None,
        exclude: Sequence[str] = (),
        scope: str | None = None,
        ttl: Seconds | None = None,
        lease: Seconds | None = None,
        heartbeat: bool = True,
        on_in_progress: OnInProgress = "raise",
        wait_timeout: Seconds | None = None,
        cache_errors: Sequence[type[BaseException]] = (),
    ) -> IdempotentFunction[P, R] | Callable[[Callable[P, R]], IdempotentFunction[P, R]]:
        """Decorate a sync or async function, bare or with options.

        ``key`` picks the identity (a dotted path into the arguments, like ``"order.id"``,
        or a callable taking the function's arguments); by default the whole payload is
        the key. ``exclude`` drops paths from the payload before hashing. ``scope``
        defaults to the function's ``module.qualname``.
        """
        options = {
            "key": key,
            "exclude": exclude,
            "scope": scope,
            "ttl": ttl,
            "lease": lease,
            "heartbeat": heartbeat,
            "on_in_progress": on_in_progress,
            "wait_timeout": wait_timeout,
            "cache_errors": cache_errors,
        }

        source = self._source()

        def decorate(fn: Callable[P, R]) -> IdempotentFunction[P, R]:
            return _decorate(source, fn, **options)

        return decorate if func is None else decorate(func)


class Idempotency(_Decorates):
    """Makes functions idempotent over one store, for one tenant, with shared defaults.

    ``ttl`` is how long a result is kept, ``lease`` how long a running call owns its key
    before another caller may take over (both seconds or ``timedelta``). ``secret`` (32
    bytes) keys the BLAKE3 hashes so keys cannot be brute-forced from guessable payloads.
    ``on_store_error`` is ``"raise"`` (the function does not run without protection) or
    ``"execute"`` (it runs unprotected, with a warning). Spans and metrics go to
    ``tracer_provider`` and ``meter_provider``, by default OpenTelemetry's global ones;
    ``telemetry=False`` switches them and the per-call DEBUG log off. ``circuit_breaker``
    makes calls fail fast while the store is down: by default one breaker per store, shared
    by the instances on it; pass a :class:`CircuitBreaker` to tune it, or False for none
    (a ``MemoryStore`` never has one: it cannot be down). ``wait_replicas`` makes every
    claim and completion wait until that many Redis replicas hold it, for at most
    ``wait_timeout`` (seconds or ``timedelta``; not the decorator's ``wait_timeout``, which is
    how long a duplicate waits for a running call): fewer raise :class:`NotReplicated`.
    """

    def __init__(
        self,
        store: Store | AsyncStore | None = None,
        tenant: str = "default",
        ttl: Seconds = 86400,
        lease: Seconds = 30,
        codec: str | Codec = "json",
        on_store_error: OnStoreError = "raise",
        secret: bytes | None = None,
        prefix: str = "idem",
        *,
        max_result_bytes: int = 1 << 20,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        telemetry: bool = True,
        circuit_breaker: CircuitBreaker | bool = True,
        wait_replicas: int = 0,
        wait_timeout: Seconds = 1.0,
    ) -> None:
        self.store: Store | AsyncStore = MemoryStore() if store is None else store
        if not isinstance(self.store, (Store, AsyncStore)):
            raise ConfigurationError(
                f"store must implement idemsdk's Store or AsyncStore protocol, "
                f"not {type(self.store).__name__}"
            )
        self.tenant = check_tenant(tenant)
        self.prefix = check_prefix(prefix)
        self.ttl = _seconds(ttl, "ttl")
        self.lease = _seconds(lease, "lease")
        self.codec = resolve_codec(codec)
        _choice(on_store_error, get_args(OnStoreError), "on_store_error")
        self.on_store_error: OnStoreError = on_store_error
        self.secret = check_secret(secret)
        if isinstance(max_result_bytes, bool) or not (
            isinstance(max_result_bytes, int) and max_result_bytes > 0
        ):
            raise ConfigurationError(
                f"max_result_bytes must be a positive int, not {max_result_bytes!r}"
            )
        self.max_result_bytes = max_result_bytes
        self.telemetry = Telemetry(tracer_provider, meter_provider, enabled=telemetry)
        self.circuit_breaker = _breaker_for(self.store, circuit_breaker)
        self.wait_replicas = _replicas(wait_replicas)
        self.wait_timeout = _seconds(wait_timeout, "wait_timeout")
        # What calls go through: the store, waiting for replicas if asked, behind its breaker
        # when it has one (the breaker is the store's, shared with instances that don't wait).
        store = _waiting(self.store, self.wait_replicas, self.wait_timeout)
        self._store: Any = (
            store if self.circuit_breaker is None else self.circuit_breaker.wrap(store)
        )

    def __repr__(self) -> str:
        return f"Idempotency(store={self.store!r}, tenant={self.tenant!r}, prefix={self.prefix!r})"

    def _source(self) -> Callable[[], Idempotency]:
        return lambda: self


def make_policy(idem: Idempotency, s: IdempotentSettings, result_type: ResultType) -> Policy:
    """The policy of calls with settings ``s`` through ``idem``: its defaults filled in."""
    ttl = idem.ttl if s.ttl is None else s.ttl
    lease = idem.lease if s.lease is None else s.lease
    if ttl < lease:
        raise ConfigurationError(f"ttl ({ttl}s) must be at least the lease ({lease}s)")
    return Policy(
        ttl_ms=max(round(ttl * 1000), 1),
        lease_ms=max(round(lease * 1000), 1),
        heartbeat=s.heartbeat,
        on_in_progress=s.on_in_progress,
        wait_timeout=lease if s.wait_timeout is None else s.wait_timeout,
        cache_errors=s.cache_errors,
        on_store_error=idem.on_store_error,
        codec=idem.codec,
        result_type=result_type,
        max_result_bytes=idem.max_result_bytes,
    )


def _breaker_for(store: object, setting: CircuitBreaker | bool) -> CircuitBreaker | None:
    if isinstance(setting, CircuitBreaker):
        return setting
    if setting is True:
        return None if isinstance(store, MemoryStore) else default_breaker(store)
    if setting is False:
        return None
    raise ConfigurationError(f"circuit_breaker must be a CircuitBreaker or a bool, not {setting!r}")


def _replicas(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"wait_replicas must be an int of 0 or more, not {value!r}")
    return value


def _waiting(store: Store | AsyncStore, replicas: int, timeout: float) -> Store | AsyncStore:
    """``store`` whose writes wait for ``replicas`` acknowledgements; itself for 0."""
    if replicas == 0:
        return store
    if not isinstance(store, ReplicatedStore):
        raise ConfigurationError(
            f"wait_replicas needs a store with replicas to wait for (RedisStore, "
            f"AsyncRedisStore); {type(store).__name__} has no with_wait()"
        )
    return store.with_wait(replicas, timeout)


class _Plan(Generic[P, R]):
    """Per decorated function: how a call's arguments become a key, and its policy."""

    def __init__(
        self,
        func: Callable[P, R],
        *,
        key: KeySpec = None,
        exclude: Sequence[str] = (),
        scope: str | None = None,
        ttl: Seconds | None = None,
        lease: Seconds | None = None,
        heartbeat: bool = True,
        on_in_progress: OnInProgress = "raise",
        wait_timeout: Seconds | None = None,
        cache_errors: Sequence[type[BaseException]] = (),
    ) -> None:
        self.is_async = inspect.iscoroutinefunction(func)
        self.binder = ArgBinder(func)
        self.result_type = ResultType.of(func)
        if isinstance(exclude, str):
            raise ConfigurationError("exclude takes a sequence of paths, e.g. ('order.sent_at',)")
        self.exclude = tuple(self.binder.check_path(path, "exclude") for path in exclude)
        self.key_path = self.binder.check_path(key, "key") if isinstance(key, str) else None
        self.key_func = key if callable(key) else None
        if key is not None and self.key_path is None and self.key_func is None:
            raise ConfigurationError(f"key must be a dotted path or a callable, not {key!r}")
        _choice(on_in_progress, get_args(OnInProgress), "on_in_progress")
        errors = tuple(cache_errors)
        if not all(isinstance(e, type) and issubclass(e, BaseException) for e in errors):
            raise ConfigurationError("cache_errors takes exception classes")
        self.settings = IdempotentSettings(
            scope=check_scope(scope) if scope is not None else default_scope(func),
            key=key,
            exclude=tuple(exclude),
            ttl=None if ttl is None else _seconds(ttl, "ttl"),
            lease=None if lease is None else _seconds(lease, "lease"),
            heartbeat=heartbeat,
            on_in_progress=on_in_progress,
            wait_timeout=None if wait_timeout is None else _seconds(wait_timeout, "wait_timeout"),
            cache_errors=errors,
        )
        self._policies: dict[int, tuple[Idempotency, Policy]] = {}
        self._lock = threading.Lock()

    def policy(self, idem: Idempotency) -> Policy:
        """The policy for calls through ``idem``, checked and built once per instance."""
        cached = self._policies.get(id(idem))
        if cached is not None and cached[0] is idem:
            return cached[1]
        wanted, kind, stores = (
            (AsyncStore, "an async", "AsyncRedisStore or MemoryStore")
            if self.is_async
            else (Store, "a sync", "RedisStore or MemoryStore")
        )
        if not isinstance(idem.store, wanted):
            raise ConfigurationError(
                f"{self.settings.scope} is {kind} function but {type(idem.store).__name__} "
                f"does not implement {wanted.__name__}; use {stores}"
            )
        policy = make_policy(idem, self.settings, self.result_type)
        with self._lock:
            self._policies[id(idem)] = (idem, policy)
        return policy

    def call(self, idem: Idempotency, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """Identify one call: its payload's fingerprint and its key."""
        cached = self._policies.get(id(idem))  # the policy() hit, inlined: every call takes it
        policy = cached[1] if cached is not None and cached[0] is idem else self.policy(idem)
        scope = self.settings.scope
        try:
            payload = self.binder.bind(args, kwargs)
            data: Any = drop_paths(payload, self.exclude) if self.exclude else payload
            fingerprint = digest(canonicalize(data), idem.secret)
            if self.key_path is not None:
                identity = digest(canonicalize(resolve_path(payload, self.key_path)), idem.secret)
            elif self.key_func is not None:
                identity = digest(canonicalize(self.key_func(*args, **kwargs)), idem.secret)
            else:
                identity = fingerprint
        except IdempotencyError as exc:
            exc.tenant, exc.scope = idem.tenant, scope
            raise
        key = f"{idem.prefix}:{idem.tenant}:{scope}:{identity}"
        return Call(key, identity, fingerprint, idem.tenant, scope, policy)


def _decorate(
    source: Callable[[], Idempotency], func: Callable[P, R], **options: Any
) -> IdempotentFunction[P, R]:
    """Wrap ``func``; ``source`` gives the instance to use at each call."""
    if not callable(func):
        raise ConfigurationError(f"idempotent decorates functions, not {type(func).__name__}")
    plan = _Plan(func, **options)
    plan.policy(source())  # refuse a sync/async mismatch at decoration time

    def key_for(*args: Any, **kwargs: Any) -> str:
        return plan.call(source(), args, kwargs).key

    if plan.is_async:
        afunc = cast(Callable[..., Awaitable[Any]], func)

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            idem = source()
            live = idem.telemetry.live()
            if live is None:
                call = plan.call(idem, args, kwargs)
                return await run_async(call, idem._store, afunc, args, kwargs)
            with live.observe(idem.tenant, plan.settings.scope) as seen:
                call = seen.bind(plan.call(idem, args, kwargs))
                return await run_async(call, live.store(idem._store), afunc, args, kwargs)

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            idem = source()
            live = idem.telemetry.live()
            if live is None:
                call = plan.call(idem, args, kwargs)
                return run_sync(call, idem._store, func, args, kwargs)
            with live.observe(idem.tenant, plan.settings.scope) as seen:
                call = seen.bind(plan.call(idem, args, kwargs))
                return run_sync(call, live.store(idem._store), func, args, kwargs)

        wrapper = sync_wrapper
    wrapper.settings = plan.settings
    wrapper.key_for = key_for
    return cast(IdempotentFunction[P, R], wrapper)


def run_call_sync(idem: Idempotency, call: Call, func: Callable[..., R], *args: Any) -> R:
    """Run an already identified call (the HTTP middleware's) through ``idem``, observed."""
    live = idem.telemetry.live()
    if live is None:
        return run_sync(call, idem._store, func, args, {})
    with live.observe(call.tenant, call.scope) as seen:
        return run_sync(seen.bind(call), live.store(idem._store), func, args, {})


async def run_call_async(
    idem: Idempotency, call: Call, func: Callable[..., Awaitable[R]], *args: Any
) -> R:
    """The async twin of :func:`run_call_sync`."""
    live = idem.telemetry.live()
    if live is None:
        return await run_async(call, idem._store, func, args, {})
    with live.observe(call.tenant, call.scope) as seen:
        return await run_async(seen.bind(call), live.store(idem._store), func, args, {})


# The module-level default: decorators resolve it at call time, so ``configure()`` at
# application start-up applies to functions decorated at import time.
_default: Idempotency | None = None
_default_lock = threading.Lock()


def _current() -> Idempotency:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Idempotency()
    return _default


def _replacing_default(make: Callable[P, Idempotency]) -> Callable[P, Idempotency]:
    """``configure``: build an instance with ``make``'s exact signature, make it the default."""

    def configure(*args: P.args, **kwargs: P.kwargs) -> Idempotency:
        global _default
        instance = make(*args, **kwargs)
        with _default_lock:
            _default = instance
        return instance

    configure.__signature__ = inspect.signature(make).replace(  # type: ignore[attr-defined]
        return_annotation="Idempotency"
    )
    configure.__doc__ = (
        "Replace the default instance used by module-level :func:`idempotent`; returns it.\n\n"
        "Takes the arguments of :class:`Idempotency`."
    )
    return configure


configure = _replacing_default(Idempotency)


class _Default(_Decorates):
    """The instance set by :func:`configure`, looked up at each call."""

    def _source(self) -> Callable[[], Idempotency]:
        return _current


#: ``Idempotency.idempotent`` on the default instance (a ``MemoryStore`` until
#: :func:`configure` sets another).
idempotent = _Default().idempotent
