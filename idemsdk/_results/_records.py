"""Dataclasses, NamedTuples and TypedDicts: JSON objects of their fields, each by its type.

A record is rebuilt through its class's own __init__, so its validation runs on a replay too.
Compiling one needs the compiler for its fields (which may be records again, or the record
itself): the compiler passes that in, as ``part`` and ``memo``, since it imports this module.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from ._plain_json import _ANY
from ._plan import (
    JsonTree,
    _Bad,
    _describe,
    _Dump,
    _fail,
    _key_segment,
    _late,
    _Load,
    _mismatch,
    _Plan,
    _refused,
    _unready,
    _Unsupported,
)

__all__ = ["_record", "_typeddict"]

# The compiler's ``item``: the plan of a part of a type, whose errors say which part.
_Part: TypeAlias = Callable[[object, str], _Plan]


def _record(
    annotation: object,
    cls: type,
    args: tuple[Any, ...],
    part: _Part,
    memo: dict[object, _Plan],
) -> _Plan:
    """A dataclass or NamedTuple: a JSON object of its fields, each by its declared type."""
    hints = _field_types(cls, args)
    if dataclasses.is_dataclass(cls):
        _check_rebuildable(cls, hints)
        fields = [(field.name, field.init) for field in dataclasses.fields(cls)]
        hashable = cls.__hash__ is not None
    else:
        fields = [(name, True) for name in cls._fields]  # type: ignore[attr-defined]
        hashable = True
    plan = _Plan(
        _describe(annotation),
        _unready,
        _unready,
        kinds=frozenset({dict}),
        types=frozenset({cls}),
    )
    memo[annotation] = plan  # before its fields, which may refer back to it
    compiled = []
    for name, init in fields:
        field_plan = part(hints.get(name, Any), "." + name)  # untyped namedtuple: Any
        hashable = hashable and field_plan.hashable
        compiled.append((name, *_late(field_plan), init))
    plan.hashable = hashable
    plan.dump = _record_dumper(cls, plan.name, compiled)
    plan.load = _record_loader(cls, plan.name, compiled)
    return plan


def _typeddict(cls: type, part: _Part, memo: dict[object, _Plan]) -> _Plan:
    """A TypedDict: a JSON object of its keys, each value by its declared type."""
    hints = _field_types(cls, ())
    name = cls.__qualname__
    plan = _Plan(name, _unready, _unready, kinds=frozenset({dict}), types=frozenset({dict}))
    memo[cls] = plan  # before its values, which may refer back to it
    plans = {key: part(hint, _key_segment(key)) for key, hint in hints.items()}
    required: frozenset[str] = cls.__required_keys__  # type: ignore[attr-defined]
    pure = all(plan.pure for plan in plans.values())
    dumps = {key: _late(plan)[0] for key, plan in plans.items()}
    loads = {key: _late(plan)[1] for key, plan in plans.items() if plan is not _ANY}

    def walk(value: Any, functions: dict[str, Any], loading: bool) -> Any:
        if type(value) is not dict:
            raise _mismatch(value, name) if loading else _refused(value, name)
        if not required <= value.keys():
            missing = min(required - value.keys())
            raise _Bad(f"{name} requires key {missing!r}, which is missing")
        out = value if pure else {}
        key = None
        try:
            for key, item in value.items():
                if key not in plans:
                    _fail(_Bad(f"key is not a field of {name}"))
                function = functions.get(key)
                done = item if function is None else function(item)
                if not pure:
                    out[key] = done
        except _Bad as exc:
            exc.segments.append(_key_segment(key))
            raise
        return out

    plan.dump = lambda value: walk(value, dumps, False)
    plan.load = lambda tree: walk(tree, loads, True)
    plan.pure = pure
    plan.hashable = False
    return plan


def _field_types(cls: type, args: tuple[Any, ...]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # noqa: BLE001 - NameError, TypeError, SyntaxError alike
        raise _Unsupported(cls, f"has field annotations that do not resolve ({exc})") from None
    # A parameterized generic (Box[int]): put the arguments in for the type variables.
    mapping = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
    if mapping:
        hints = {name: _substitute(hint, mapping) for name, hint in hints.items()}
    return hints


def _check_rebuildable(cls: type, hints: dict[str, Any]) -> None:
    """Refuse, at decoration time, a dataclass that cannot be built from its stored fields."""
    if not cls.__dataclass_params__.init:  # type: ignore[attr-defined]
        raise _Unsupported(cls, "is a dataclass without a generated __init__ to rebuild it with")
    for name, hint in hints.items():
        field = cls.__dataclass_fields__.get(name)  # type: ignore[attr-defined]
        if (
            isinstance(hint, dataclasses.InitVar)
            and field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        ):
            raise _Unsupported(cls, f"has InitVar {name!r} without a default; it is not stored")


def _substitute(hint: Any, mapping: dict[Any, Any]) -> Any:
    if isinstance(hint, TypeVar):
        return mapping.get(hint, hint)
    parameters = getattr(hint, "__parameters__", ())
    if parameters:
        return hint[tuple(mapping.get(parameter, parameter) for parameter in parameters)]
    return hint


_Fields: TypeAlias = "list[tuple[str, _Dump, _Load, bool]]"
_MISSING: Any = object()


def _record_dumper(cls: type, name: str, fields: _Fields) -> _Dump:
    """A dataclass or NamedTuple as a dict of its fields, each dumped by its declared type."""
    pairs = [(field, dump) for field, dump, _, _ in fields]

    def dump(value: Any) -> JsonTree:
        if type(value) is not cls:  # a subclass's extra fields would be dropped on replay
            raise _refused(value, name)
        out: dict[str, JsonTree] = {}
        field = ""
        try:
            for field, function in pairs:
                item = getattr(value, field, _MISSING)
                if item is _MISSING:  # a slots dataclass whose field was never set
                    _fail(_Bad("field is not set"))
                out[field] = function(item)
        except _Bad as exc:
            exc.segments.append("." + field)
            raise
        return out

    return dump


def _record_loader(cls: type, name: str, fields: _Fields) -> _Load:
    """Rebuild through the class's own __init__, so its __post_init__ and validation run."""
    by_init = [(field, load) for field, _, load, init in fields if init]
    # init=False fields get the stored value afterwards, whatever __post_init__ computed.
    afterwards = [(field, load) for field, _, load, init in fields if not init]
    names = frozenset(field for field, *_ in fields)

    def load(tree: Any) -> object:
        if type(tree) is not dict:
            raise _mismatch(tree, name)
        if tree.keys() != names:
            raise _other_fields(tree, name, names)
        kwargs = _fields_of(tree, by_init)
        try:
            built = cls(**kwargs)
        except (TypeError, ValueError) as exc:  # its own validation refused the stored fields
            raise _Bad(f"{name}(...) refused the stored fields ({type(exc).__name__})") from None
        if afterwards:
            for field, value in _fields_of(tree, afterwards).items():
                object.__setattr__(built, field, value)
        return built

    return load


def _fields_of(tree: dict[str, Any], loads: list[tuple[str, _Load]]) -> dict[str, object]:
    out: dict[str, object] = {}
    field = ""
    try:
        for field, function in loads:
            out[field] = function(tree[field])
    except _Bad as exc:
        exc.segments.append("." + field)
        raise
    return out


def _other_fields(tree: dict[str, Any], name: str, names: frozenset[str]) -> _Bad:
    missing = ", ".join(repr(key) for key in sorted(names - tree.keys()))
    extra = ", ".join(repr(key) for key in sorted(tree.keys() - names)[:3])
    detail = "; ".join(
        text for text in (missing and f"missing {missing}", extra and f"unexpected {extra}") if text
    )
    return _Bad(f"expected the fields of {name}, found other keys ({detail})")
