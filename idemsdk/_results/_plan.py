"""What every plan is made of: the _Plan itself, and the errors its parts raise.

A plan's functions raise _Bad, and the compiler raises _Unsupported; both collect the path
they unwind through (``result.items[2]``), and both name types, never values, so that an error
never shows a result's personal data.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeAlias, Union

import orjson

from idemsdk._canonical import JsonValue

__all__ = [
    "_UNION_ORIGINS",
    "JsonTree",
    "_Bad",
    "_Dump",
    "_Load",
    "_NoneType",
    "_Plan",
    "_Unsupported",
    "_big_int",
    "_check_text",
    "_describe",
    "_fail",
    "_key_segment",
    "_late",
    "_mismatch",
    "_non_finite",
    "_refused",
    "_unready",
]

JsonTree: TypeAlias = JsonValue
"""The plain JSON data model: what ``ResultType.dump`` returns and ``ResultType.load`` takes."""

_Dump: TypeAlias = Callable[[Any], JsonTree]
_Load: TypeAlias = Callable[[Any], object]

_NoneType = type(None)
_UNION_ORIGINS: tuple[object, ...] = (Union, types.UnionType)


class _Bad(Exception):
    """A value or tree that does not fit its plan; collects path segments while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = []  # rendered (".items", "[2]"), innermost first

    def where(self) -> str:
        return "result" + "".join(reversed(self.segments))


class _Unsupported(Exception):
    """An annotation no plan can be compiled for; collects where it sits while unwinding."""

    def __init__(self, annotation: object, reason: str) -> None:
        super().__init__(reason)
        self.annotation = annotation
        self.reason = reason
        self.segments: list[str] = []


def _refused(value: object, expected: str) -> _Bad:
    return _Bad(f"type {type(value).__qualname__!r} cannot be stored; expected {expected}")


def _mismatch(tree: object, expected: str) -> _Bad:
    return _Bad(f"expected {expected}, found {type(tree).__qualname__}")


def _fail(error: _Bad) -> NoReturn:
    # Raising through a call keeps `raise` statements out of the loops' try blocks, whose
    # handlers add the path; and keeps those loops' bodies short.
    raise error


def _big_int() -> _Bad:
    return _Bad("int out of range: ints beyond 64 bits cannot be stored (use str or Decimal)")


def _non_finite(value: float) -> _Bad:
    return _Bad(f"float {value!r} cannot be stored: JSON has no NaN or infinity")


def _check_text(text: str) -> None:
    """Refuse a str orjson cannot write (a lone surrogate); called for non-ASCII text only."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise _Bad("str with a lone surrogate cannot be stored: JSON text is UTF-8") from None


def _key_segment(key: object) -> str:
    """A path segment for a dict key or list index, in _canonical's path style."""
    if isinstance(key, str):
        if key.isascii() and key.isidentifier():
            return "." + key
        try:
            return f"[{orjson.dumps(key).decode()}]"
        except orjson.JSONEncodeError:
            return f"[{key!r}]"
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    return f"[<{type(key).__qualname__}>]"


def _unready(value: Any) -> NoReturn:  # noqa: ARG001 - stands in for a dump or load
    raise AssertionError("a plan was used before it was compiled")  # pragma: no cover


class _Plan:
    """One annotation compiled: its dumper and loader, and what unions and sets need to know."""

    __slots__ = ("dump", "hashable", "kind_only", "kinds", "load", "name", "pure", "types")

    def __init__(
        self,
        name: str,
        dump: _Dump,
        load: _Load,
        *,
        kinds: frozenset[type],
        types: frozenset[type],
        pure: bool = False,
        hashable: bool = True,
        kind_only: bool = False,
    ) -> None:
        self.name = name
        self.dump = dump  # _unready while a recursive class is compiled; see _late
        self.load = load
        # The Python types of the trees it writes (dict, list, str...): a union picks the
        # member to load by the tree's type, so its members must not share one.
        self.kinds = kinds
        # The exact Python types it dumps: a union picks the member to dump by the value's type.
        self.types = types
        self.pure = pure  # the tree is the value itself: dump and load only look
        self.hashable = hashable  # its values can be set elements
        # load(tree) returns tree exactly when type(tree) is in kinds: JSON scalars and Any.
        self.kind_only = kind_only


def _late(plan: _Plan) -> tuple[_Dump, _Load]:
    """The plan's functions, or forwarders to them while its recursive class is compiled."""
    if plan.dump is not _unready:
        return plan.dump, plan.load

    def dump(value: Any) -> JsonTree:
        return plan.dump(value)

    def load(tree: Any) -> object:
        return plan.load(tree)

    return dump, load


def _describe(annotation: object) -> str:
    """A short readable name for an annotation, for messages."""
    if annotation is None or annotation is _NoneType:
        return "None"
    if annotation is Any:
        return "Any"
    if annotation is Ellipsis:
        return "..."
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in _UNION_ORIGINS:
        return " | ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin is not None:
        return f"{_describe(origin)}[{', '.join(_describe(arg) for arg in args) or '()'}]"
    if isinstance(annotation, type):
        return annotation.__qualname__
    if isinstance(annotation, list):
        return f"[{', '.join(_describe(arg) for arg in annotation)}]"
    return repr(annotation).replace("typing.", "")
