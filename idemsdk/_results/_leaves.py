"""Leaf types: None, bool, int, float and str as themselves, and the types stored as a string.

bytes, datetime, date, Decimal and UUID are each written as one JSON string in a fixed form
and read back from exactly that form; a datetime keeps its offset and its zone's name.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import functools
import re
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

from ._plain_json import _ANY, _INT_MAX, _INT_MIN
from ._plan import (
    JsonTree,
    _Bad,
    _big_int,
    _check_text,
    _Dump,
    _Load,
    _mismatch,
    _non_finite,
    _NoneType,
    _Plan,
    _refused,
)

__all__ = ["_FLOAT", "_INT", "_LEAVES", "_NONE", "_STR", "_b64", "_unb64"]


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


def _scalar(name: str, dump: _Dump, load: _Load | None, *kinds: type) -> _Plan:
    load = load or _exact_load(kinds[0], name)
    kind_set = frozenset(kinds)
    return _Plan(name, dump, load, kinds=kind_set, types=kind_set, pure=True, kind_only=True)


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
