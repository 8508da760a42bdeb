"""Results as JSON trees and back, decided by the function's return annotation.

A duplicate caller must get a value equal to the one the first caller got. JSON alone cannot
promise that (a tuple comes back a list, a datetime a string), so the return annotation,
resolved once when the function is decorated, is compiled into a plan: a pair of closures that
turn a value of that type into a JSON tree and rebuild it.

The type to rebuild comes only from the annotation, never from the stored data. A store that
someone else can write to can make a replay fail with RecordCorrupted; it cannot make idemsdk
import or construct a class the function's author did not name. Nothing here uses pickle.

Errors carry a path (``result.items[2]``) and type names, never the values themselves: results
hold the same personal data as payloads. docs/results.md is the user-facing mapping.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import inspect
import re
import types
import typing
import uuid
import zoneinfo
from collections import abc
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeAlias, TypeVar, Union

import orjson

# protobuf ships no type stubs; the second code keeps this line quiet once stubs are installed.
from google.protobuf.message import (  # type: ignore[import-untyped, unused-ignore]
    DecodeError,
    EncodeError,
    Message,
)

from idemsdk._canonical import JsonValue
from idemsdk._errors import ConfigurationError, RecordCorrupted, SerializationError

__all__ = ["JsonTree", "ResultType"]

JsonTree: TypeAlias = JsonValue
"""The plain JSON data model: what ``ResultType.dump`` returns and ``ResultType.load`` takes."""

_Dump: TypeAlias = Callable[[Any], JsonTree]
_Load: TypeAlias = Callable[[Any], object]

_NoneType = type(None)
# What orjson writes and reads back as the same int: its range is 64 bits.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
# Stops a reference cycle in plain JSON with a message rather than a RecursionError. Below
# orjson's 254 so that the envelope a codec wraps around the tree, and the typed levels above
# an Any position, still fit.
_MAX_DEPTH = 200
_JSON_KINDS: frozenset[type] = frozenset({dict, list, str, int, float, bool, _NoneType})
_JSON_EXPECTED = "a JSON value (dict, list, str, int, float, bool, None)"
_UNION_ORIGINS: tuple[object, ...] = (Union, types.UnionType)
_TypeAliasType: Any = getattr(typing, "TypeAliasType", None)  # Python 3.12+
_MISSING: Any = object()


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


# --- plans -----------------------------------------------------------------------------------


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


def _identity(tree: Any) -> object:
    return tree


def _dump_json(value: Any) -> JsonTree:
    """Any, or no annotation: exactly the JSON types, which replay as themselves."""
    kind = type(value)
    if kind is dict or kind is list:
        if not _json_ok(value, 0):
            _explain_json(value)
    elif kind is str:
        if not value.isascii():
            _check_text(value)
    elif kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise _big_int()
    elif kind is float:
        if value - value != 0.0:  # nan and inf; cheaper than calling math.isfinite
            raise _non_finite(value)
    elif value is not None and kind is not bool:
        # Exact types only: a tuple, an Enum member, an OrderedDict would come back as a
        # list, its value, a dict. Only an annotation can tell load to rebuild them.
        raise _refused(value, _JSON_EXPECTED)
    return value  # type: ignore[no-any-return]


def _json_ok(container: Any, depth: int) -> bool:
    """Whether every element of a dict or list is plain JSON that orjson writes back as is.

    The fast path of every result without an annotation, so it tracks no path and tests
    leaves inline rather than calling a function per element; _check_json finds the path
    when this says no.
    """
    if depth >= _MAX_DEPTH:
        return False
    items = container
    if type(container) is dict:
        for key in container:
            if type(key) is not str or not (key.isascii() or _text_ok(key)):
                return False
        items = container.values()
    for item in items:
        kind = type(item)
        if kind is str:
            if not (item.isascii() or _text_ok(item)):
                return False
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        elif kind is float:
            if item - item != 0.0:  # NaN and the infinities
                return False
        elif kind is dict or kind is list:
            if not _json_ok(item, depth + 1):
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def _check_json(container: Any, depth: int) -> None:
    """Raise for the first element of a dict or list that is not plain JSON, with its path."""
    if depth >= _MAX_DEPTH:
        raise _Bad(f"nested deeper than {_MAX_DEPTH} levels, or holds a reference cycle")
    is_dict = type(container) is dict
    key: object = None
    try:
        for key, item in container.items() if is_dict else enumerate(container):
            if is_dict:
                _check_key(key)
            if type(item) is dict or type(item) is list:
                _check_json(item, depth + 1)
            else:
                _dump_json(item)
    except _Bad as exc:
        exc.segments.append(_key_segment(key))
        raise


def _explain_json(container: Any) -> NoReturn:
    """The error, with its path, for a dict or list that _json_ok refused."""
    _check_json(container, 0)
    raise AssertionError("_json_ok refused what _check_json accepts")  # pragma: no cover


def _text_ok(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_key(key: object) -> None:
    if type(key) is not str:
        raise _Bad(
            f"dict key of type {type(key).__qualname__!r} cannot be stored;"
            " expected str (annotate the dict's key type to store other keys)"
        )
    if not key.isascii():
        _check_text(key)


# --- leaf types ------------------------------------------------------------------------------


def _dump_none(value: Any) -> JsonTree:
    if value is None:
        return None
    raise _refused(value, "None")


def _dump_bool(value: Any) -> JsonTree:
    if value is True or value is False:
        return value
    raise _refused(value, "bool")


def _dump_int(value: Any) -> JsonTree:
    if type(value) is int:  # not a bool: True would come back as 1
        if _INT_MIN <= value <= _INT_MAX:
            return value
        raise _big_int()
    raise _refused(value, "int")


def _dump_float(value: Any) -> JsonTree:
    kind = type(value)
    if kind is float:
        if value - value == 0.0:
            return value  # type: ignore[no-any-return]
        raise _non_finite(value)
    # An int is a float to type checkers. It is kept an int: JSON writes 1 and 1.0 apart,
    # so each comes back as it went in.
    if kind is int:
        return _dump_int(value)
    raise _refused(value, "float")


def _load_float(tree: Any) -> object:
    kind = type(tree)
    if kind is float or kind is int:
        return tree
    raise _mismatch(tree, "float")


def _dump_str(value: Any) -> JsonTree:
    if type(value) is str:
        if not value.isascii():
            _check_text(value)
        return value
    raise _refused(value, "str")


def _b64(raw: bytes) -> str:
    # The standard alphabet with padding (RFC 4648 section 4): the form that
    # b64decode(validate=True) checks strictly instead of skipping stray characters.
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _text_plan(
    cls: type, to_text: Callable[[Any], str], from_text: Callable[[str], object], form: str
) -> _Plan:
    """A type stored as a JSON string, for exactly ``cls`` (a datetime is not a date)."""
    name = cls.__name__

    def dump(value: Any) -> JsonTree:
        if type(value) is cls:
            return to_text(value)
        raise _refused(value, name)

    def load(tree: Any) -> object:
        if type(tree) is not str:
            raise _mismatch(tree, name)
        try:
            return from_text(tree)
        except (ValueError, ArithmeticError):  # binascii.Error, decimal.InvalidOperation too
            raise _Bad(f"expected {name}, found a str that is not {form}") from None

    return _Plan(name, dump, load, kinds=frozenset({str}), types=frozenset({cls}))


# A time zone name as the tz database spells them (America/Argentina/Buenos_Aires, Etc/GMT+5):
# nothing else from a stored result reaches zoneinfo, which would look it up as a file path.
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+-]{1,40}(?:/[A-Za-z0-9_+-]{1,40}){0,3}").fullmatch


def _datetime_text(value: dt.datetime) -> str:
    # isoformat keeps the microseconds and the offset (to its own microseconds), and
    # fromisoformat is its exact inverse; a naive datetime stays naive.
    text = dt.datetime.isoformat(value)
    zone = value.tzinfo
    # A ZoneInfo zone is also kept by name, in RFC 9557's suffix: with only its offset, a
    # replay would shift across DST differently, and compare unequal in a DST fold or gap.
    if type(zone) is zoneinfo.ZoneInfo and zone.key is not None and _ZONE_KEY(zone.key):
        return f"{text}[{zone.key}]"
    return text


def _datetime_from_text(text: str) -> dt.datetime:
    key = None
    if text.endswith("]"):
        text, _, key = text[:-1].partition("[")
    value = dt.datetime.fromisoformat(text)
    if len(text) > 32:  # long enough for an offset with seconds (rare): check it
        value = _exact_offset(text, value)
    if key is None:
        return value
    offset = value.utcoffset()
    if offset is None or not _ZONE_KEY(key):
        raise ValueError("not a zoned datetime")
    if key not in _zone_keys():  # this machine's tz database lacks it: keep instant and offset
        return value
    zone = zoneinfo.ZoneInfo(key)
    for fold in (0, 1):
        local = value.replace(tzinfo=zone, fold=fold)
        if local.utcoffset() == offset:
            return local
    return value  # the zone's rules changed since it was stored: again instant and offset


@functools.cache
def _zone_keys() -> frozenset[str]:
    # Looked up once per process (~30 ms). Only a key listed here reaches ZoneInfo: for any
    # other, zoneinfo would try to import a module of the tzdata package named after it.
    return frozenset(zoneinfo.available_timezones())


def _exact_offset(text: str, value: dt.datetime) -> dt.datetime:
    """Read a fractional offset again: fromisoformat reads "+00:00:00.000001" as UTC."""
    sign = max(text.rfind("+"), text.rfind("-"))
    if sign < 19 or "." not in text[sign:]:  # 19: the offset comes after YYYY-MM-DDTHH:MM:SS
        return value
    hours, minutes, seconds = text[sign + 1 :].split(":")
    whole, _, fraction = seconds.partition(".")
    offset = dt.timedelta(
        hours=int(hours), minutes=int(minutes), seconds=int(whole), microseconds=int(fraction)
    )
    return value.replace(tzinfo=dt.timezone(-offset if text[sign] == "-" else offset))


def _exact_load(kind: type, name: str) -> _Load:
    """A loader that takes a tree of exactly ``kind`` as it is (JSON parsers make no others)."""

    def load(tree: Any) -> object:
        if type(tree) is kind:
            return tree
        raise _mismatch(tree, name)

    return load


def _pure_container(kind: type, name: str, item: _Plan) -> _Plan:
    """A list or dict of pure items: the tree is the value itself, only checked both ways."""
    return _Plan(
        name,
        _checker(kind, name, item, loading=False),
        _checker(kind, name, item, loading=True),
        kinds=frozenset({kind}),
        types=frozenset({kind}),
        pure=True,
        hashable=False,
    )


def _scalar(name: str, dump: _Dump, load: _Load | None, *kinds: type) -> _Plan:
    load = load or _exact_load(kinds[0], name)
    kind_set = frozenset(kinds)
    return _Plan(name, dump, load, kinds=kind_set, types=kind_set, pure=True, kind_only=True)


_ANY = _Plan(
    "Any",
    _dump_json,
    _identity,
    kinds=_JSON_KINDS,
    types=_JSON_KINDS,
    pure=True,
    kind_only=True,
)
_NONE = _scalar("None", _dump_none, None, _NoneType)
_INT = _scalar("int", _dump_int, None, int)
_FLOAT = _scalar("float", _dump_float, _load_float, float, int)
_STR = _scalar("str", _dump_str, None, str)
_LEAVES: dict[object, _Plan] = {
    Any: _ANY,
    object: _ANY,
    None: _NONE,
    _NoneType: _NONE,
    bool: _scalar("bool", _dump_bool, None, bool),
    int: _INT,
    float: _FLOAT,
    str: _STR,
    bytes: _text_plan(bytes, _b64, _unb64, "base64"),
    dt.datetime: _text_plan(
        dt.datetime, _datetime_text, _datetime_from_text, "an ISO 8601 datetime"
    ),
    dt.date: _text_plan(dt.date, dt.date.isoformat, dt.date.fromisoformat, "an ISO 8601 date"),
    # str() is exact and keeps the exponent: Decimal("1.10") is written "1.10".
    decimal.Decimal: _text_plan(
        decimal.Decimal, decimal.Decimal.__str__, decimal.Decimal, "a decimal number"
    ),
    uuid.UUID: _text_plan(uuid.UUID, uuid.UUID.__str__, uuid.UUID, "a UUID"),
}


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


# --- the compiler ----------------------------------------------------------------------------


class _Compiler:
    """Turns one return annotation into a plan, once, at decoration time."""

    def __init__(self) -> None:
        # Plans by annotation, so that a recursive dataclass refers to its own plan.
        self._memo: dict[object, _Plan] = {}

    def plan(self, annotation: object) -> _Plan:
        try:
            found = _LEAVES.get(annotation) or self._memo.get(annotation)
        except TypeError:  # an unhashable annotation, e.g. Literal[[1]]; refused below
            found = None
        return found or self._compile(annotation)

    def item(self, annotation: object, segment: str) -> _Plan:
        """The plan of a part of a type, whose errors say which part."""
        try:
            return self.plan(annotation)
        except _Unsupported as exc:
            exc.segments.append(segment)
            raise

    def _compile(self, annotation: object) -> _Plan:
        supertype = getattr(annotation, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            return self.plan(supertype)
        if _TypeAliasType is not None and isinstance(annotation, _TypeAliasType):
            return self.plan(annotation.__value__)
        origin = typing.get_origin(annotation)
        if origin is not None:
            return self._generic(annotation, origin, typing.get_args(annotation))
        if isinstance(annotation, type):
            return self._class(annotation, annotation, ())
        if isinstance(annotation, TypeVar):
            raise _Unsupported(annotation, "is a type variable, which names no type to rebuild")
        if isinstance(annotation, (str, typing.ForwardRef)):
            raise _Unsupported(annotation, "is a forward reference that was not resolved")
        raise _Unsupported(annotation, "is not a type idemsdk can store and rebuild")

    def _generic(self, annotation: object, origin: object, args: tuple[Any, ...]) -> _Plan:
        if origin in _UNION_ORIGINS:
            return self._union(annotation, args)
        if origin is Literal:
            return _literal(annotation, args)
        if origin is typing.Annotated:
            return self.plan(args[0])
        if origin is list:
            return self._list(args[0])
        if origin is tuple:
            return self._tuple(args)
        if origin is set or origin is frozenset:
            return self._set(origin, args[0])
        if origin is dict:
            return self._dict(args[0], args[1])
        if isinstance(origin, type) and getattr(origin, "__parameters__", None):
            return self._class(annotation, origin, args)  # a generic class: Box[int]
        hint = ""
        if origin is abc.Callable:
            hint = ": it is code, not data"
        elif origin in (abc.Sequence, abc.Mapping, abc.Set, abc.Iterable, abc.Collection):
            hint = ": a replay returns one concrete type, so name it (list, not Sequence)"
        raise _Unsupported(annotation, "is not a type idemsdk can store and rebuild" + hint)

    # --- classes ---

    def _class(self, annotation: object, cls: type, args: tuple[Any, ...]) -> _Plan:
        if cls in _BARE:
            return self.plan(_BARE[cls])
        if issubclass(cls, Message):
            return _protobuf(cls)
        if _is_pydantic_model(cls):
            return _pydantic(cls)
        if issubclass(cls, enum.Enum):
            return _enum(cls)
        if dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields")):
            return self._record(annotation, cls, args)
        if typing.is_typeddict(cls):
            return self._typeddict(cls)
        raise _Unsupported(
            cls,
            "is not a kind of type idemsdk can store and rebuild (JSON types, bytes, datetime,"
            " date, Decimal, UUID, Enum, dataclass, NamedTuple, TypedDict, pydantic model,"
            " protobuf message, and containers of those: see docs/results.md)",
        )

    def _field_types(self, cls: type, args: tuple[Any, ...]) -> dict[str, Any]:
        try:
            hints = typing.get_type_hints(cls)
        except Exception as exc:  # noqa: BLE001 - NameError, TypeError, SyntaxError alike
            raise _Unsupported(cls, f"has field annotations that do not resolve ({exc})") from None
        # A parameterized generic (Box[int]): put the arguments in for the type variables.
        mapping = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
        if mapping:
            hints = {name: _substitute(hint, mapping) for name, hint in hints.items()}
        return hints

    def _record(self, annotation: object, cls: type, args: tuple[Any, ...]) -> _Plan:
        """A dataclass or NamedTuple: a JSON object of its fields, each by its declared type."""
        hints = self._field_types(cls, args)
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
        self._memo[annotation] = plan  # before its fields, which may refer back to it
        compiled = []
        for name, init in fields:
            field_plan = self.item(hints.get(name, Any), "." + name)  # untyped namedtuple: Any
            hashable = hashable and field_plan.hashable
            compiled.append((name, *_late(field_plan), init))
        plan.hashable = hashable
        plan.dump = _record_dumper(cls, plan.name, compiled)
        plan.load = _record_loader(cls, plan.name, compiled)
        return plan

    def _typeddict(self, cls: type) -> _Plan:
        """A TypedDict: a JSON object of its keys, each value by its declared type."""
        hints = self._field_types(cls, ())
        name = cls.__qualname__
        plan = _Plan(name, _unready, _unready, kinds=frozenset({dict}), types=frozenset({dict}))
        self._memo[cls] = plan  # before its values, which may refer back to it
        plans = {key: self.item(hint, _key_segment(key)) for key, hint in hints.items()}
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

    # --- containers ---

    def _list(self, item_annotation: object) -> _Plan:
        item = self.item(item_annotation, "[*]")
        name = f"list[{item.name}]"
        dump, load = _late(item)
        if item.pure:  # the tree is the list itself: look at the elements, copy nothing
            return _pure_container(list, name, item)
        return _Plan(
            name,
            _mapper(list, name, dump, loading=False),
            _mapper(list, name, load, loading=True),
            kinds=frozenset({list}),
            types=frozenset({list}),
            hashable=False,
        )

    def _tuple(self, args: tuple[Any, ...]) -> _Plan:
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]
            item = self.item(args[0], "[*]")
            name = f"tuple[{item.name}, ...]"
            dump, load = _late(item)
            return _Plan(
                name,
                _mapper(tuple, name, dump, loading=False),
                _mapper(list, name, load, loading=True, build=tuple),
                kinds=frozenset({list}),
                types=frozenset({tuple}),
                hashable=item.hashable,
            )
        if args == ((),):  # tuple[()] on Python 3.10
            args = ()
        items = [self.item(arg, f"[{index}]") for index, arg in enumerate(args)]
        name = f"tuple[{', '.join(item.name for item in items) or '()'}]"
        return _Plan(
            name,
            *_fixed_tuple(name, [_late(item) for item in items]),
            kinds=frozenset({list}),
            types=frozenset({tuple}),
            hashable=all(item.hashable for item in items),
        )

    def _set(self, origin: type[set[Any] | frozenset[Any]], item_annotation: object) -> _Plan:
        item = self.item(item_annotation, "[*]")
        if not item.hashable:
            raise _Unsupported(item_annotation, "cannot be a set element: it is not hashable")
        name = f"{origin.__name__}[{item.name}]"
        dump, load = _late(item)
        # Sorted, so that a set is always stored as the same bytes: strings and numbers by
        # value, other trees (objects, mixed kinds) by their JSON text.
        by_value = item.kinds <= {str} or item.kinds <= {int, float}
        sort_key = (
            None if by_value else functools.partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
        )

        def dump_set(value: Any) -> JsonTree:
            if type(value) is not origin:
                raise _refused(value, name)
            return sorted(_each(dump, value, "[*]"), key=sort_key)

        def load_set(tree: Any) -> object:
            if type(tree) is not list:
                raise _mismatch(tree, name)
            try:
                return origin(_each(load, tree, None))
            except TypeError:  # an unhashable element in an Any position: a tampered tree
                raise _Bad(f"expected {name}, found a list of unhashable elements") from None

        return _Plan(
            name,
            dump_set,
            load_set,
            kinds=frozenset({list}),
            types=frozenset({origin}),
            hashable=origin is frozenset,
        )

    def _dict(self, key_annotation: object, value_annotation: object) -> _Plan:
        key = self.item(key_annotation, "[<key>]")
        value = self.item(value_annotation, "[*]")
        name = f"dict[{key.name}, {value.name}]"
        value_dump, value_load = _late(value)
        if key is _STR and value.pure:  # the tree is the dict itself
            return _pure_container(dict, name, value)
        key_dump, key_load = _late(key)
        if key.kinds == {int}:
            # JSON names are strings: an int key (or an int Enum's) is written as decimal text.
            int_dump, int_load = key_dump, key_load
            key_dump = lambda k: str(int_dump(k))  # noqa: E731
            key_load = lambda text: int_load(_int_from_key(text))  # noqa: E731
        elif key.kinds != {str} or not key.hashable:
            raise _Unsupported(
                key_annotation,
                "cannot be a dict key: keys are stored as JSON strings, so a key's type must be"
                " one stored as a str (str, date, UUID, Decimal, a str Enum...) or an int",
            )
        return _Plan(
            name,
            _mapper(dict, name, value_dump, key_dump, loading=False),
            _mapper(dict, name, value_load, key_load, loading=True),
            kinds=frozenset({dict}),
            types=frozenset({dict}),
            hashable=False,
        )

    # --- unions ---

    def _union(self, annotation: object, args: tuple[Any, ...]) -> _Plan:
        members = [self.item(arg, "") for arg in args]
        if _ANY in members:  # Any | None is Any; Any | datetime cannot be told apart
            if all(member.pure for member in members):
                return _ANY
            raise _Unsupported(annotation, "mixes Any with types that are not plain JSON")
        if len(members) == 2 and _NONE in members:  # Optional[T], the common case
            other = members[0] if members[1] is _NONE else members[1]
            if _NoneType not in other.kinds:
                return _optional(other)
        by_type = _dispatch(annotation, members, "types")
        by_kind = _dispatch(annotation, members, "kinds")
        name = " | ".join(member.name for member in members)
        dumps = {kind: _late(member)[0] for kind, member in by_type.items()}
        loads = {kind: _late(member)[1] for kind, member in by_kind.items()}

        def dump(value: Any) -> JsonTree:
            function = dumps.get(type(value))
            if function is None:
                raise _refused(value, name)
            return function(value)

        def load(tree: Any) -> object:
            function = loads.get(type(tree))
            if function is None:
                raise _mismatch(tree, name)
            return function(tree)

        return _Plan(
            name,
            dump,
            load,
            kinds=frozenset(by_kind),
            types=frozenset(by_type),
            pure=all(member.pure for member in members),
            hashable=all(member.hashable for member in members),
            kind_only=all(member.kind_only for member in members),
        )


_BARE: dict[object, object] = {
    list: list[Any],
    tuple: tuple[Any, ...],
    set: set[Any],
    frozenset: frozenset[Any],
    dict: dict[str, Any],
}


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


def _dispatch(annotation: object, members: list[_Plan], attribute: str) -> dict[type, _Plan]:
    """Each type (or tree kind) to the one union member that takes it, or _Unsupported."""
    table: dict[type, _Plan] = {}
    for member in members:
        for kind in getattr(member, attribute):
            seen = table.setdefault(kind, member)
            if seen is member:
                continue
            # int | float: both keep an int as it is, so the int member takes ints.
            if kind is int and {seen, member} == {_INT, _FLOAT}:
                table[int] = _INT
                continue
            word = {dict: "an object", list: "an array", str: "a string", _NoneType: "null"}
            raise _Unsupported(
                annotation,
                f"cannot be told apart once stored: {seen.name} and {member.name} are both"
                f" stored as {word.get(kind, 'a JSON ' + kind.__name__)}",
            )
    return table


def _substitute(hint: Any, mapping: dict[Any, Any]) -> Any:
    if isinstance(hint, TypeVar):
        return mapping.get(hint, hint)
    parameters = getattr(hint, "__parameters__", ())
    if parameters:
        return hint[tuple(mapping.get(parameter, parameter) for parameter in parameters)]
    return hint


def _int_from_key(text: Any) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _Bad("expected an int key, found a key that is not an int") from None
    if str(number) != text:  # "01", " 1", "1_0": not what dump writes
        raise _Bad("expected an int key, found a key that is not an int in canonical form")
    return number


def _optional(inner: _Plan) -> _Plan:
    dump, load = _late(inner)

    def dump_optional(value: Any) -> JsonTree:
        return None if value is None else dump(value)

    def load_optional(tree: Any) -> object:
        return None if tree is None else load(tree)

    return _Plan(
        f"{inner.name} | None",
        dump_optional,
        load_optional,
        kinds=inner.kinds | {_NoneType},
        types=inner.types | {_NoneType},
        pure=inner.pure,
        hashable=inner.hashable,
        kind_only=inner.kind_only,
    )


def _literal(annotation: object, values: tuple[Any, ...]) -> _Plan:
    allowed: set[tuple[type, object]] = set()
    for value in values:
        if type(value) not in (str, int, bool, _NoneType):
            raise _Unsupported(annotation, "holds a value that is not a str, int, bool or None")
        allowed.add((type(value), value))  # with the type: Literal[1] does not allow True
    kinds = frozenset(kind for kind, _ in allowed)
    name = _describe(annotation)

    def dump(value: Any) -> JsonTree:
        if (type(value), value) in allowed:
            return value  # type: ignore[no-any-return]
        raise _Bad(f"value is not one of {name}") if type(value) in kinds else _refused(value, name)

    def load(tree: Any) -> object:
        if (type(tree), tree) in allowed:
            return tree
        raise (
            _Bad(f"expected {name}, found another value")
            if type(tree) in kinds
            else _mismatch(tree, name)
        )

    return _Plan(name, dump, load, kinds=kinds, types=kinds, pure=True)


def _enum(cls: type[enum.Enum]) -> _Plan:
    """An Enum member is stored as its value, which must be a JSON scalar."""
    name = cls.__qualname__
    kinds: set[type] = set()
    for member in cls.__members__.values():
        value = member._value_
        if type(value) not in (str, int, float, bool, _NoneType) or (
            type(value) is float and value - value != 0.0
        ):
            raise _Unsupported(
                cls, f"has member {member.name} whose value is not a str, int, float, bool or None"
            )
        kinds.add(type(value))

    def dump(value: Any) -> JsonTree:
        if type(value) is cls:
            return value._value_  # type: ignore[no-any-return]
        raise _refused(value, name)

    def load(tree: Any) -> object:
        if type(tree) not in kinds:  # Color(True) would find the member whose value is 1
            raise _mismatch(tree, name)
        try:
            return cls(tree)
        except ValueError:
            raise _Bad(
                f"expected {name}, found a {type(tree).__name__} that is none of its values"
            ) from None

    return _Plan(name, dump, load, kinds=frozenset(kinds), types=frozenset({cls}))


def _is_pydantic_model(cls: type) -> bool:
    # Duck-typed: pydantic is not a dependency. BaseModel itself names no fields to rebuild.
    return (
        hasattr(cls, "__pydantic_fields__")
        and hasattr(cls, "model_dump")
        and hasattr(cls, "model_validate_json")
        and cls.__module__ != "pydantic.main"
    )


def _pydantic(cls: Any) -> _Plan:
    name = cls.__qualname__
    # A RootModel's tree is its root value, of any kind; other models' are objects.
    kinds: frozenset[type] = (
        _JSON_KINDS if getattr(cls, "__pydantic_root_model__", False) else frozenset({dict})
    )

    def dump(value: Any) -> JsonTree:
        if type(value) is not cls:  # a subclass's extra fields would be dropped on replay
            raise _refused(value, name)
        try:
            tree = value.model_dump(mode="json")
        except (ValueError, TypeError) as exc:
            raise _Bad(f"{name}.model_dump(mode='json') failed ({type(exc).__name__})") from None
        # Checked, not trusted: pydantic leaves float('inf') as it is, which orjson writes null.
        return _dump_json(tree)

    def load(tree: Any) -> object:
        if type(tree) not in kinds:
            raise _mismatch(tree, name)
        try:
            # The JSON validator, not the Python one: model_dump(mode="json") wrote JSON, and a
            # strict model takes an ISO string for a datetime field only as JSON.
            return cls.model_validate_json(orjson.dumps(tree))
        except ValueError as exc:  # pydantic's ValidationError, whose text shows the input
            count = exc.error_count() if hasattr(exc, "error_count") else 1
            raise _Bad(f"expected {name}, found data it refuses ({count} errors)") from None

    hashable = cls.__hash__ is not None
    return _Plan(name, dump, load, kinds=kinds, types=frozenset({cls}), hashable=hashable)


def _protobuf(cls: Any) -> _Plan:
    if cls is Message or not hasattr(cls, "DESCRIPTOR"):
        raise _Unsupported(cls, "is not a concrete protobuf message class")
    name = cls.__qualname__

    def dump(value: Any) -> JsonTree:
        if type(value) is not cls:
            raise _refused(value, name)
        try:
            return _b64(value.SerializeToString(deterministic=True))
        except EncodeError:
            raise _Bad(f"{name} is missing required fields") from None

    def load(tree: Any) -> object:
        if type(tree) is not str:
            raise _mismatch(tree, name)
        try:
            return cls.FromString(_unb64(tree))
        except (ValueError, DecodeError):
            raise _Bad(f"expected {name}, found a str that is not one in base64") from None

    kinds = frozenset({str})
    return _Plan(name, dump, load, kinds=kinds, types=frozenset({cls}), hashable=False)


# --- container closures ----------------------------------------------------------------------


def _each(function: Callable[[Any], Any], items: Any, segment: str | None) -> list[Any]:
    """``[function(item) for item in items]`` whose errors name the item's position."""
    out: list[Any] = []
    append = out.append
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - the handler reads index
            append(function(item))
    except _Bad as exc:
        exc.segments.append(f"[{index}]" if segment is None else segment)
        raise
    return out


def _checker(container: Any, name: str, item: _Plan, *, loading: bool) -> Callable[[Any], Any]:
    """A list or str-keyed dict of pure elements: check each, return the container itself."""
    is_dict = container is dict
    check = _late(item)[1 if loading else 0]
    if item is _ANY and not loading:  # list[Any], dict[str, Any]: one plain JSON walk

        def dump_json(value: Any) -> Any:
            if type(value) is not container:
                raise _refused(value, name)
            if not _json_ok(value, 0):
                _explain_json(value)
            return value

        return dump_json

    # Loading elements that are only checked for their kind (list[int], dict[str, str | None]):
    # one pass of C code over the elements' types instead of a call per element.
    kinds = item.kinds if loading and item.kind_only else None
    # A JSON parser's keys are str already; a value's keys need looking at.
    check_keys = is_dict and not loading

    def run(value: Any) -> Any:
        if type(value) is not container:
            raise _mismatch(value, name) if loading else _refused(value, name)
        if kinds is not None and (
            kinds is _JSON_KINDS or set(map(type, value.values() if is_dict else value)) <= kinds
        ):
            return value
        key: object = None
        try:
            for key, element in value.items() if is_dict else enumerate(value):
                if check_keys and (type(key) is not str or not key.isascii()):
                    _check_key(key)
                check(element)
        except _Bad as exc:
            exc.segments.append(_key_segment(key))
            raise
        return value

    return run


def _mapper(
    container: Any,
    name: str,
    function: Callable[[Any], Any],
    key_function: Callable[[Any], Any] | None = None,
    *,
    loading: bool,
    build: Callable[[list[Any]], object] | None = None,
) -> Callable[[Any], Any]:
    """A list, tuple or dict whose elements change form: a new container, errors with paths."""
    if container is not dict:

        def run_sequence(value: Any) -> Any:
            if type(value) is not container:
                raise _mismatch(value, name) if loading else _refused(value, name)
            items = _each(function, value, None)
            return items if build is None else build(items)

        return run_sequence

    assert key_function is not None

    def run_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise _mismatch(value, name) if loading else _refused(value, name)
        out = {}
        key: object = None
        try:
            for key, item in value.items():
                out[key_function(key)] = function(item)
        except _Bad as exc:
            exc.segments.append(_key_segment(key))
            raise
        if loading and len(out) != len(value):
            raise _Bad(f"expected {name}, found two keys that are the same key")
        return out

    return run_dict


def _fixed_tuple(name: str, functions: list[tuple[_Dump, _Load]]) -> tuple[_Dump, _Load]:
    """tuple[A, B]: a JSON array of exactly that many elements, each by its own type."""
    size = len(functions)
    dumps = [dump for dump, _ in functions]
    loads = [load for _, load in functions]

    def dump(value: Any) -> JsonTree:
        if type(value) is not tuple:
            raise _refused(value, name)
        if len(value) != size:
            raise _Bad(f"tuple of {len(value)} elements cannot be stored; expected {name}")
        return _pairwise(dumps, value)

    def load(tree: Any) -> object:
        if type(tree) is not list:
            raise _mismatch(tree, name)
        if len(tree) != size:
            raise _Bad(f"expected {name}, found a list of {len(tree)} elements")
        return tuple(_pairwise(loads, tree))

    return dump, load


def _pairwise(functions: list[Callable[[Any], Any]], items: Any) -> list[Any]:
    out = []
    index = 0
    try:
        for index, (function, item) in enumerate(zip(functions, items, strict=True)):  # noqa: B007
            out.append(function(item))
    except _Bad as exc:
        exc.segments.append(f"[{index}]")
        raise
    return out


_Fields: TypeAlias = "list[tuple[str, _Dump, _Load, bool]]"


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


# --- the public type -------------------------------------------------------------------------


class ResultType:
    """How one function's results become a JSON tree and back, decided by its return annotation.

    ``dump`` turns a result into plain JSON data, which the codec then writes; ``load``
    rebuilds an equal value from that data once it has been through JSON. Build one per
    function, when it is decorated, with :meth:`of`: the annotation is resolved and compiled
    once, and each call only runs the compiled closures.

    ``is_plain_json`` is true when the function has no return annotation, or ``Any`` or
    ``object``. Then ``load(tree)`` returns ``tree`` itself for any tree a JSON parser
    produced, so a replay may skip it. ``dump`` may not be skipped: it is what refuses
    tuples, datetimes, Enum members, NaN and the like, which orjson would write as something
    that replays as another value.

    Nothing is copied that need not be: ``dump`` returns JSON-shaped parts of the value
    itself, and ``load`` returns parts of the tree. Serialize a dumped tree before the value
    goes back to its caller, and give each loaded value to one caller only. orjson accepts
    every tree ``dump`` returns, as long as its nesting stays within orjson's 254 levels.
    """

    __slots__ = ("_dump", "_load", "annotation", "is_plain_json", "name")

    def __init__(self, annotation: object, plan: _Plan) -> None:
        """Use :meth:`of` or :meth:`of_type`, which compile the plan."""
        self._dump, self._load = _late(plan)
        #: The resolved return annotation (``Any`` when there is none).
        self.annotation = annotation
        #: Whether ``load`` returns its tree unchanged (no annotation, ``Any`` or ``object``).
        self.is_plain_json = plan is _ANY
        #: The annotation as messages write it.
        self.name = plan.name

    @classmethod
    def of(cls, func: Callable[..., object]) -> ResultType:
        """The result type of ``func``, from its return annotation (the awaited type if async)."""
        owner = _qualified_name(func)
        try:
            annotation = _return_annotation(func)
        except Exception as exc:  # noqa: BLE001 - NameError, TypeError, SyntaxError alike
            raise ConfigurationError(
                f"cannot resolve the return annotation of {owner}: {type(exc).__name__}: {exc}"
            ) from None
        return cls.of_type(annotation, owner=owner)

    @classmethod
    def of_type(cls, annotation: object, *, owner: str = "a function") -> ResultType:
        """The result type for an already resolved annotation, e.g. ``list[Order]``."""
        try:
            plan = _Compiler().plan(annotation)
        except _Unsupported as exc:
            whole = _describe(annotation)
            offender = _describe(exc.annotation)
            at = "".join(reversed(exc.segments))
            where = f" at result{at}" if at else ""
            context = f" (return annotation: {whole})" if offender != whole else ""
            raise ConfigurationError(
                f"cannot store the results of {owner}: {offender}{where} {exc.reason}{context}"
            ) from None
        return cls(annotation, plan)

    def dump(self, value: object) -> JsonTree:
        """The result as plain JSON data; SerializationError names the path of a bad value."""
        try:
            return self._dump(value)
        except _Bad as exc:
            raise SerializationError(f"{exc.where()}: {exc.message}") from None
        except RecursionError:  # a reference cycle through dataclasses
            raise SerializationError(
                "result: nested too deeply, or holds a reference cycle"
            ) from None

    def load(self, tree: JsonTree) -> object:
        """Rebuild the result from a tree ``dump`` wrote; RecordCorrupted if it does not fit."""
        try:
            return self._load(tree)
        except _Bad as exc:
            raise RecordCorrupted(
                f"{exc.where()}: {exc.message}; the stored result does not fit the"
                f" return type {self.name}"
            ) from None
        except RecursionError:  # deeper than dump would have written
            raise RecordCorrupted(
                f"result: nested too deeply; the stored result does not fit the return type"
                f" {self.name}"
            ) from None

    def __repr__(self) -> str:
        return f"ResultType({self.name})"


def _qualified_name(func: object) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{module}.{name}" if module else name


def _return_annotation(func: object) -> object:
    """``func``'s return annotation, resolved; ``Any`` when it has none."""
    target: Any = func
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.isclass(target):
        return target  # calling a class returns an instance of it
    if not inspect.isroutine(target):  # a callable object: its __call__ says what it returns
        target = type(target).__call__ if callable(target) else None
    annotations = getattr(target, "__annotations__", None)
    if not annotations or "return" not in annotations:
        return Any
    # Only the return annotation is resolved: parameter annotations often name types imported
    # under TYPE_CHECKING, which cannot resolve here and do not matter to a result.
    shim = types.SimpleNamespace(__annotations__={"return": annotations["return"]})
    namespace = getattr(inspect.unwrap(target), "__globals__", {})
    return typing.get_type_hints(shim, globalns=namespace)["return"]
