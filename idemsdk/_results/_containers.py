"""The closures that dump and load lists, tuples, sets and dicts, element by element.

Each adds the element's position to a _Bad that unwinds through it, so an error names the
path to the bad value (``result.items[2]``). The compiler builds them; they never compile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._plain_json import _ANY, _JSON_KINDS, _check_key, _explain_json, _json_ok
from ._plan import JsonTree, _Bad, _Dump, _key_segment, _late, _Load, _mismatch, _Plan, _refused

__all__ = ["_each", "_fixed_tuple", "_int_from_key", "_mapper", "_pure_container"]


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


def _int_from_key(text: Any) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _Bad("expected an int key, found a key that is not an int") from None
    if str(number) != text:  # "01", " 1", "1_0": not what dump writes
        raise _Bad("expected an int key, found a key that is not an int in canonical form")
    return number
