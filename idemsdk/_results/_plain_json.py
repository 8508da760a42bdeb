"""Any, or no annotation: plain JSON, checked as it is and never copied.

This is the path of every result whose function has no return annotation, so it is written
for speed (exact type tests, no per-element calls) and finds an error's path only once it
knows there is one.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ._plan import (
    JsonTree,
    _Bad,
    _big_int,
    _check_text,
    _key_segment,
    _non_finite,
    _NoneType,
    _Plan,
    _refused,
)

__all__ = [
    "_ANY",
    "_INT_MAX",
    "_INT_MIN",
    "_JSON_KINDS",
    "_check_key",
    "_dump_json",
    "_explain_json",
    "_json_ok",
]

# What orjson writes and reads back as the same int: its range is 64 bits.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
# Stops a reference cycle in plain JSON with a message rather than a RecursionError. Below
# orjson's 254 so that the envelope a codec wraps around the tree, and the typed levels above
# an Any position, still fit.
_MAX_DEPTH = 200
_JSON_KINDS: frozenset[type] = frozenset({dict, list, str, int, float, bool, _NoneType})
_JSON_EXPECTED = "a JSON value (dict, list, str, int, float, bool, None)"


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


_ANY = _Plan(
    "Any",
    _dump_json,
    _identity,
    kinds=_JSON_KINDS,
    types=_JSON_KINDS,
    pure=True,
    kind_only=True,
)
