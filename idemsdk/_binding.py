"""From a call's arguments to its payload, key value and fingerprint value (pure code).

The payload is the function's arguments bound by name with defaults applied, so
``f(1, b=2)``, ``f(a=1, b=2)`` and ``f(1)`` (when ``b`` defaults to 2) are one payload.
``self`` and ``cls`` are left out: the instance is how the method is reached, not what it
is asked to do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._canonical import JsonValue, normalize
from ._errors import ConfigurationError, InvalidKey

__all__ = ["ArgBinder", "drop_paths", "resolve_path"]

_P = inspect.Parameter
_RECEIVERS = ("self", "cls")


class ArgBinder:
    """Binds positional and keyword arguments to parameter names, fast for plain signatures."""

    def __init__(self, func: Callable[..., Any]) -> None:
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        self._signature = sig
        self._receiver = (
            params[0].name
            if params
            and params[0].name in _RECEIVERS
            and params[0].kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
            else None
        )
        #: The names a payload can hold at its top level (``None``: any, via ``**kwargs``).
        self.names: frozenset[str] | None = frozenset(
            p.name for p in params if p.name != self._receiver and p.kind is not _P.VAR_KEYWORD
        )
        if any(p.kind is _P.VAR_KEYWORD for p in params):
            self.names = None
        # Most functions take plain parameters; binding those by zip avoids Signature.bind,
        # which costs several microseconds a call.
        self._plain = all(p.kind is _P.POSITIONAL_OR_KEYWORD for p in params)
        self._order = tuple(p.name for p in params)
        self._known = frozenset(self._order)
        self._defaults = {p.name: p.default for p in params if p.default is not _P.empty}

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The payload of one call; a call that does not fit the signature raises TypeError."""
        payload = self._bind_plain(args, kwargs) if self._plain else None
        if payload is None:
            payload = self._bind_general(args, kwargs)
        if self._receiver is not None:
            payload.pop(self._receiver, None)
        return payload

    def _bind_plain(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        order = self._order
        if len(args) > len(order):
            return None
        payload = dict(zip(order, args, strict=False))  # args may be fewer
        for name, value in kwargs.items():
            if name in payload or name not in self._known:
                return None  # let Signature.bind raise the exact TypeError
            payload[name] = value
        if len(payload) < len(order):
            for name in order:
                if name not in payload:
                    if name not in self._defaults:
                        return None
                    payload[name] = self._defaults[name]
        return payload

    def _bind_general(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        payload: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if self._signature.parameters[name].kind is _P.VAR_KEYWORD:
                payload.update(value)  # extra keywords are arguments like any other
            elif self._signature.parameters[name].kind is _P.VAR_POSITIONAL:
                payload[name] = list(value)
            else:
                payload[name] = value
        return payload

    def check_path(self, path: str, option: str) -> tuple[str, ...]:
        """Split a dotted path and check at decoration time that it starts at a parameter."""
        parts = tuple(path.split("."))
        if not path or any(not part for part in parts):
            raise ConfigurationError(f"{option}={path!r}: not a dotted path like 'order.id'")
        if self.names is not None and parts[0] not in self.names:
            known = ", ".join(sorted(self.names)) or "none"
            raise ConfigurationError(
                f"{option}={path!r}: {parts[0]!r} is not a parameter of the function "
                f"(parameters: {known})"
            )
        return parts


def resolve_path(payload: Mapping[str, Any], parts: Sequence[str]) -> Any:
    """The value at a dotted path: mapping keys, sequence indexes, then attributes."""
    value: Any = payload
    for depth, part in enumerate(parts):
        try:
            if isinstance(value, Mapping):
                value = value[part]
            elif isinstance(value, Sequence) and not isinstance(value, str) and part.isdigit():
                value = value[int(part)]
            else:
                value = getattr(value, part)
        except (KeyError, IndexError, AttributeError):  # noqa: PERF203 - only on bad paths
            where = ".".join(parts[:depth]) or "the arguments"
            raise InvalidKey(f"key path {'.'.join(parts)!r}: {where} has no {part!r}") from None
    if value is None:
        raise InvalidKey(f"key path {'.'.join(parts)!r} is None: every call would share one key")
    return value


def drop_paths(payload: Mapping[str, Any], paths: Sequence[tuple[str, ...]]) -> JsonValue:
    """The payload in JSON form without the excluded paths; ``*`` matches every item."""
    # Whole arguments go before the conversion: excluding one is how a caller leaves out a
    # value with no JSON form (a request, a session), so it is never converted. A nested
    # path is removed from the converted payload, so its value must have a JSON form.
    whole = {parts[0] for parts in paths if len(parts) == 1}
    kept = {} if "*" in whole else {k: v for k, v in payload.items() if k not in whole}
    data = normalize(kept)
    for parts in paths:
        if len(parts) > 1:
            _drop(data, parts)
    return data


def _drop(node: JsonValue, parts: tuple[str, ...]) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        children = list(node) if head == "*" else [head] if head in node else []
        if not rest:
            for name in children:
                del node[name]
            return
        for name in children:
            _drop(node[name], rest)
    elif isinstance(node, list):
        if head == "*":
            indexes = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indexes = range(int(head), int(head) + 1)
        else:
            return
        if not rest:
            for index in reversed(indexes):
                del node[index]
            return
        for index in indexes:
            _drop(node[index], rest)
