"""Canonical JSON (RFC 8785, JCS) for idempotency payloads: the bytes a key is hashed from.

Two paths produce the same bytes. The fast path lets orjson serialize with sorted keys and
then guards its output: orjson's float formatting, its ``null`` for NaN and its code-point key
order are the only ways it can differ from RFC 8785, and each leaves a cheap trace in the
output. Anything suspicious, and anything orjson refuses, goes to the slow path: a Python walk
that builds the exact JSON value (``normalize``), with floats pre-formatted as ECMAScript
numbers, and reports errors with the path of the offending value.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import TypeAlias, Union

import orjson

from idemsdk._errors import CanonicalizationError

__all__ = ["JsonValue", "canonicalize", "normalize"]

JsonValue: TypeAlias = Union[  # noqa: UP007 - a runtime alias with forward references
    dict[str, "JsonValue"], list["JsonValue"], str, int, float, bool, None
]
"""The plain JSON data model that ``normalize`` returns."""

# Integers beyond this lose their identity as IEEE-754 doubles, which is what JSON numbers are
# to every other implementation (RFC 8785 section 3.2.2.3 and I-JSON).
_MAX_SAFE_INT = 2**53 - 1
# orjson refuses a 255th nested container; the slow path uses orjson too, so it draws the line
# at the same place and the two paths accept exactly the same payloads.
_MAX_DEPTH = 254

_FAST_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    # Both orjson's datetime format and its dataclass field selection differ from ours, so
    # these types go through _default and the one mapping in _map_object.
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    # No OPT_PASSTHROUGH_SUBCLASS: orjson writes str/int/dict/list subclasses by their
    # C-level content, and the slow path reads them the same way (str.__str__, dict.items...).
)
_SORTED = orjson.OPT_SORT_KEYS
# Traces of a float token in orjson's output. Each pattern starts with one literal byte,
# which the regex engine finds with a tight loop; lookbehinds then require "<digit>e"
# before an exponent's sign. A number ends at ",", "]", "}" or the end of the output, so
# strings that merely end in digits ("10.50", "v1.2", a datetime's ".123456Z") are not
# taken for floats.
_DOT_DIGIT = re.compile(rb"\.[0-9]+(?:[,\]}e]|\Z)").search
_EXPONENT_PLUS = re.compile(rb"\+(?<=[0-9]e\+)[0-9]+(?:[,\]}]|\Z)").search
_EXPONENT_MINUS = re.compile(rb"-(?<=[0-9]e-)[0-9]+(?:[,\]}]|\Z)").search
_Fragment = orjson.Fragment
_dumps = orjson.dumps
_EncodeError = orjson.JSONEncodeError

# The path segment that stands for "some element of this set": sets have no positions.
_SET_ELEMENT = object()


class _Reject(Exception):
    """A value with no canonical form; collects path segments while the walk unwinds."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[object] = []  # innermost first


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of ``value`` (see docs/keys.md for the mapping)."""
    try:
        out = _dumps(value, default=_default, option=_FAST_OPTIONS)
    except _EncodeError:
        # Unknown type, non-str key, big int, lone surrogate, too deep, a value _default
        # refused: the slow path either maps it or names the exact path of the problem.
        pass
    else:
        # The guard is inlined: this runs on every decorated call, and a call costs ~5% here.
        # Costs on a 400-byte payload: `int in bytes` is memchr (~30 ns with the call); a
        # regex with a literal first byte, or find() of a longer needle, is a byte loop
        # (~200-350 ns); a regex that starts with a character class ~3 us; a Python loop
        # over find() ~150 ns per hit. Hence a presence test before each scan.
        #
        # (a) Finite floats. orjson writes each with "." and digits (1.0, 1.5e-7) or, for
        # one-digit mantissas, "e+"/"e-" after a digit (1e+30, 5e-324), and its digit rules
        # differ from ECMAScript's (1.0 vs 1, 1e+20 vs 100000000000000000000). The same
        # bytes inside a string ("1.5, 2.5") are false alarms that only cost the slow path.
        if not (
            (46 in out and _DOT_DIGIT(out) is not None)  # 46: "."
            or (43 in out and _EXPONENT_PLUS(out) is not None)  # 43: "+"
            or (45 in out and _EXPONENT_MINUS(out) is not None)  # 45: "-"
            # (b) orjson writes NaN and +-Infinity as null, like None. After (a) no finite
            # float is left, so any float in the value is one of those.
            or (out.rfind(b"null") >= 0 and _contains_float(value))
            # (c) orjson sorts keys by code point, RFC 8785 by UTF-16 code unit; the two
            # orders differ only when U+E000-U+FFFF meets U+10000 and above.
            or (not out.isascii() and _utf16_order_differs(out))
        ):
            return out
    try:
        return _encode_slow(value)
    except _Reject as exc:
        raise CanonicalizationError(exc.message, path=_format_path(exc.segments)) from None


def normalize(value: object) -> JsonValue:
    """Map ``value`` to plain JSON data (dict keys in input order); errors name the value's path."""
    try:
        return _walk(value, 0, False, False)
    except _Reject as exc:
        raise CanonicalizationError(exc.message, path=_format_path(exc.segments)) from None


# --- fast path -------------------------------------------------------------------------------


def _utf16_order_differs(out: bytes) -> bool:
    """Whether ``out`` holds both a character in U+E000-U+FFFF and one above U+FFFF."""
    # UTF-8 lead bytes 0xEE/0xEF start U+E000-U+FFFF, 0xF0-0xF4 start U+10000 and above. Only
    # between those two ranges do code-point order (orjson's) and UTF-16 order differ.
    return (0xEE in out or 0xEF in out) and (
        0xF0 in out or 0xF1 in out or 0xF2 in out or 0xF3 in out or 0xF4 in out
    )


def _contains_float(value: object) -> bool:
    """Whether orjson met a float anywhere in ``value`` (then, after guard (a), a NaN or inf)."""
    # For the common payload with None in it. Measured on a 430-byte order: ~2 us, against
    # ~7 us for the slow path. Leaves are tested where they are found rather than pushed.
    stack = [value]
    pop = stack.pop
    append = stack.append
    children: Iterable[object]
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            children = item.values()  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            children = item  # type: ignore[assignment]
        elif isinstance(item, float):
            return True
        elif item is None or isinstance(item, (str, int, set, frozenset)):
            continue  # sets were canonicalized, and so checked, on their own in _default
        elif isinstance(item, dict):
            children = dict.values(item)
        elif isinstance(item, (list, tuple)):
            children = _c_iter(item)
        else:
            # What orjson wrote in its place: an Enum's value, a dataclass's fields...
            try:
                children = (_map_object(item),)
            except _Reject:
                return True  # cannot happen after a successful dumps; be safe, not fast
        for child in children:
            kind = type(child)
            if kind is str or kind is int or child is None or kind is bool:
                continue
            if kind is float:
                return True
            append(child)
    return False


def _default(obj: object) -> object:
    """orjson's hook for types it does not write itself: the same mapping the slow path uses."""
    if isinstance(obj, (set, frozenset)):
        # Elements are ordered by their own canonical bytes, so mixed types sort
        # deterministically; a _Reject here sends the whole value to the slow path.
        return _Fragment(b"[" + b",".join(sorted([_encode(e) for e in obj])) + b"]")
    return _map_object(obj)


# --- slow path -------------------------------------------------------------------------------


def _encode(value: object) -> bytes:
    """Canonical bytes of ``value``; raises _Reject (with a relative path) if it has none."""
    try:
        return canonicalize(value)
    except CanonicalizationError:
        # Walk again to raise the _Reject, whose path the caller extends.
        return _encode_slow(value)


def _encode_slow(value: object) -> bytes:
    """Canonical bytes of ``value`` by the exact walk; raises _Reject."""
    tree = _walk(value, 0, True, False)
    out = _dumps(tree, option=_SORTED)
    if not out.isascii() and _utf16_order_differs(out):
        # Rare: keys may need UTF-16 order, which orjson cannot do. Walk again, placing keys
        # in that order ourselves, and keep insertion order when writing.
        out = _dumps(_walk(value, 0, True, True))
    return out


def _walk(value: object, depth: int, exact: bool, utf16: bool) -> JsonValue:
    """Map ``value`` to JSON data; ``exact`` writes floats as ECMAScript text (orjson Fragments).

    ``utf16`` puts dict keys in UTF-16 order (for writing without OPT_SORT_KEYS). Types are
    tested exactly first (the common case), subclasses after, in orjson's order, so that a
    str-valued Enum that is also a str maps to the same text on both paths.
    """
    kind = type(value)
    if kind is str:
        if not value.isascii():  # type: ignore[attr-defined]
            _check_text(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if kind is int:
        return _check_int(value)  # type: ignore[arg-type]
    if kind is float:
        return _float(value, exact)  # type: ignore[arg-type]
    if value is None or kind is bool:
        return value  # type: ignore[return-value]
    if kind is dict:
        return _walk_dict(value, depth, exact, utf16)  # type: ignore[arg-type]
    if kind is list or kind is tuple:
        return _walk_list(value, depth, exact, utf16)  # type: ignore[arg-type]
    # Subclasses are read by their C-level content, as orjson reads them, never through
    # methods they may override (__str__ of a str Enum is "Color.RED", not "red").
    if isinstance(value, str):
        text = str.__str__(value)
        if not text.isascii():
            _check_text(text)
        return text
    if isinstance(value, int):
        return _check_int(int.__int__(value))
    if isinstance(value, float):
        return _float(float.__float__(value), exact)
    if isinstance(value, dict):
        return _walk_dict(value, depth, exact, utf16)
    if isinstance(value, (list, tuple)):
        return _walk_list(value, depth, exact, utf16)
    if isinstance(value, (set, frozenset)):
        return _walk_set(value, exact)
    # A dataclass or model maps to a dict, which counts one level of depth, as in orjson.
    return _walk(_map_object(value), depth, exact, utf16)


def _walk_dict(
    value: dict[object, object], depth: int, exact: bool, utf16: bool
) -> dict[str, JsonValue]:
    """Walk a dict: keys mapped to str, values walked; collisions and bad keys rejected."""
    depth += 1
    if depth > _MAX_DEPTH:
        raise _Reject(_too_deep())
    out: dict[str, JsonValue] = {}
    name = None  # the key being walked, for the path; None while its key is mapped
    try:
        for key, item in dict.items(value):
            name = None
            name = key if type(key) is str and key.isascii() else _map_key(key)
            # Plain scalars inline: a call per leaf would double the cost of this path.
            kind = type(item)
            if kind is str:
                if not item.isascii():  # type: ignore[attr-defined]
                    _check_text(item)  # type: ignore[arg-type]
                out[name] = item  # type: ignore[assignment]
            elif kind is int:
                out[name] = _check_int(item)  # type: ignore[arg-type]
            elif kind is bool or item is None:
                out[name] = item  # type: ignore[assignment]
            else:
                out[name] = _walk(item, depth, exact, utf16)
    except _Reject as exc:
        if name is not None:
            exc.segments.append(name)
        raise
    if len(out) != len(value):
        raise _Reject(_collision(value))
    if utf16 and len(out) > 1:
        out = {name: out[name] for name in sorted(out, key=_utf16_order)}
    return out


def _walk_list(
    value: list[object] | tuple[object, ...], depth: int, exact: bool, utf16: bool
) -> list[JsonValue]:
    """Walk a list or tuple into a list; the failing index is the length walked so far."""
    depth += 1
    if depth > _MAX_DEPTH:
        raise _Reject(_too_deep())
    out: list[JsonValue] = []
    append = out.append
    try:
        # Subclasses are iterated at the C level, as orjson does, not via an overridden __iter__.
        outer = type(value)
        for item in value if outer is list or outer is tuple else _c_iter(value):
            kind = type(item)
            if kind is str:
                if not item.isascii():  # type: ignore[attr-defined]
                    _check_text(item)  # type: ignore[arg-type]
                append(item)  # type: ignore[arg-type]
            elif kind is int:
                append(_check_int(item))  # type: ignore[arg-type]
            else:
                append(_walk(item, depth, exact, utf16))
    except _Reject as exc:
        exc.segments.append(len(out))
        raise
    return out


def _c_iter(value: list[object] | tuple[object, ...]) -> Iterator[object]:
    return list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)


def _walk_set(value: set[object] | frozenset[object], exact: bool) -> list[JsonValue]:
    """Walk a set into a list ordered by each element's canonical bytes."""
    # Elements are encoded on their own, as the fast path does: depth starts afresh.
    try:
        pairs = [(_encode(item), item) for item in value]
    except _Reject as exc:
        exc.segments.append(_SET_ELEMENT)
        raise
    pairs.sort(key=_first)
    if exact:
        return [_Fragment(data) for data, _ in pairs]  # type: ignore[misc]
    return [_walk(item, 0, False, False) for _, item in pairs]


def _first(pair: tuple[bytes, object]) -> bytes:
    return pair[0]


def _utf16_order(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as sequences of UTF-16 code units.
    return name.encode("utf-16-be")


# --- scalars ---------------------------------------------------------------------------------


def _check_int(value: int) -> int:
    if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return value
    raise _Reject(f"int {_int_text(value)} is outside ±(2**53-1); pass it as a string")


def _int_text(value: int) -> str:
    # str() of a huge int is slow and can raise (sys.int_info.str_digits_check_threshold).
    if value.bit_length() <= 256:
        return str(value)
    return f"of {value.bit_length()} bits"


def _check_text(text: str, what: str = "str") -> None:
    """Reject lone surrogates: they have no UTF-8 form, so no canonical bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Reject(
            f"{what} contains a lone surrogate U+{ord(text[exc.start]):04X} at index {exc.start}"
        ) from None


def _float(value: float, exact: bool) -> JsonValue:
    if exact:
        return _Fragment(_format_number(value).encode())  # type: ignore[return-value]
    if math.isfinite(value):
        return value
    raise _Reject(f"float {value!r} has no JSON form")


def _format_number(value: float) -> str:
    """ECMAScript Number::toString of a finite float, as RFC 8785 section 3.2.2.3 requires."""
    if not math.isfinite(value):
        raise _Reject(f"float {value!r} has no JSON form")
    if value == 0:
        return "0"  # both zeros
    # Both repr and ECMAScript print the shortest digits that round-trip, choosing the
    # closest when several do; they differ only in layout. Where repr uses plain notation
    # (1e-4 <= |x| < 1e16) ECMAScript does too, minus repr's ".0" on integral values.
    text = float.__repr__(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    sign = ""
    if text[0] == "-":
        sign = "-"
        text = text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    # ECMA-262 names: the value is 0.<digits> x 10**point, digits without trailing zeros;
    # repr's exponent form has exactly one nonzero digit before its optional fraction.
    digits = (whole + fraction).rstrip("0")
    point = int(exponent) + 1
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    suffix = f"e+{power}" if power >= 0 else f"e-{-power}"
    if count == 1:
        return sign + digits + suffix
    return sign + digits[0] + "." + digits[1:] + suffix


# --- Python types beyond JSON ----------------------------------------------------------------


def _map_object(obj: object) -> object:
    """One step of the documented mapping for a non-JSON type; the caller maps the result."""
    if isinstance(obj, dt.datetime):
        return _datetime_text(obj)
    if isinstance(obj, dt.date):
        return dt.date.isoformat(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, decimal.Decimal):
        if not obj.is_finite():
            raise _Reject(f"Decimal {decimal.Decimal.__str__(obj)} has no JSON form")
        # No normalization: Decimal("1.10") and Decimal("1.1") are different payloads.
        # upper(): str() writes "e" instead of "E" when the thread's context says
        # capitals=0, and a key must not depend on a context setting.
        return decimal.Decimal.__str__(obj).upper()
    if isinstance(obj, uuid.UUID):
        return uuid.UUID.__str__(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = obj.tobytes() if isinstance(obj, memoryview) else bytes(obj)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    cls = type(obj)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(obj, type):
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}  # type: ignore[arg-type]
    if hasattr(cls, "model_dump") and (
        hasattr(cls, "__pydantic_fields__") or hasattr(cls, "model_fields")
    ):
        return obj.model_dump(mode="python")  # type: ignore[attr-defined]
    if isinstance(obj, float):
        return float.__float__(obj)
    if isinstance(obj, tuple):
        return list(tuple.__iter__(obj))
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, int) and not isinstance(obj, bool):
        return int.__int__(obj)
    raise _Reject(f"type {cls.__qualname__!r} has no canonical JSON form")


def _datetime_text(value: dt.datetime) -> str:
    """RFC 3339 in UTC with Z; naive datetimes are taken to be UTC already."""
    offset = value.utcoffset()
    if offset is not None:
        try:
            value = dt.datetime.replace(value - offset, tzinfo=None)
        except OverflowError:
            raise _Reject("datetime is out of range once converted to UTC") from None
    return dt.datetime.isoformat(value) + "Z"


def _map_key(key: object) -> str:
    """The JSON name of a non-str dict key; keys that have none are rejected."""
    if isinstance(key, str):
        name = str.__str__(key)
        if not name.isascii():
            _check_text(name, "dict key")
        return name
    if isinstance(key, enum.Enum):
        inner = key.value
        if isinstance(inner, str) or (isinstance(inner, int) and not isinstance(inner, bool)):
            return _map_key(inner)
        raise _Reject(
            f"dict key {type(key).__qualname__}.{key.name} has a {type(inner).__qualname__}"
            " value; only Enum keys with str or int values map to JSON names"
        )
    if isinstance(key, int) and not isinstance(key, bool):
        return str(_check_int(int.__int__(key)))
    if isinstance(key, uuid.UUID):
        return uuid.UUID.__str__(key)
    raise _Reject(
        f"dict key of type {type(key).__qualname__!r} has no JSON name;"
        " keys must be str, int, UUID, or an Enum with a str or int value"
    )


def _collision(value: dict[object, object]) -> str:
    """Describe the first two keys of ``value`` that map to the same JSON name."""
    seen: dict[str, object] = {}
    for key in value:
        name = _map_key(key)
        if name in seen:
            return f"dict keys {seen[name]!r} and {key!r} both map to the name {_json_text(name)}"
        seen[name] = key
    return "dict keys collide"  # unreachable: a shorter result means two names were equal


def _too_deep() -> str:
    return f"nested deeper than {_MAX_DEPTH} levels (or contains a reference cycle)"


# --- paths -----------------------------------------------------------------------------------


def _format_path(segments: list[object]) -> str:
    """Render innermost-first segments as ``order.items[2].price``; the root alone is ``$``."""
    if not segments:
        return "$"
    parts: list[str] = []
    for segment in reversed(segments):
        if segment is _SET_ELEMENT:
            parts.append("[*]")
        elif isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif isinstance(segment, str) and segment.isascii() and segment.isidentifier():
            parts.append(f".{segment}" if parts else segment)
        else:
            parts.append(f"[{_json_text(str(segment))}]")
    return "".join(parts)


def _json_text(text: str) -> str:
    """``text`` as a JSON string literal, for messages (lone surrogates escaped)."""
    try:
        return orjson.dumps(text).decode()
    except _EncodeError:
        return repr(text)
