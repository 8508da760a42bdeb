"""The compiler: one return annotation into one plan, at decoration time.

It reads the annotation's shape (generic, class, union...) and hands each kind of type to
the module that knows how it is stored; containers it builds here, from their items' plans.
Plans are kept by annotation, so a recursive type refers to its own plan.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from collections import abc
from typing import Any, Literal, TypeVar

import orjson

# protobuf ships no type stubs; the second code keeps this line quiet once stubs are installed.
from google.protobuf.message import Message  # type: ignore[import-untyped, unused-ignore]

from ._containers import _each, _fixed_tuple, _int_from_key, _mapper, _pure_container
from ._leaves import _LEAVES, _STR
from ._plan import (
    _UNION_ORIGINS,
    JsonTree,
    _Bad,
    _late,
    _mismatch,
    _Plan,
    _refused,
    _Unsupported,
)
from ._records import _record, _typeddict
from ._special import _enum, _is_pydantic_model, _literal, _protobuf, _pydantic
from ._unions import _union

__all__ = ["_Compiler"]

_TypeAliasType: Any = getattr(typing, "TypeAliasType", None)  # Python 3.12+


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
            return _union(annotation, [self.item(arg, "") for arg in args])
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
            return _record(annotation, cls, args, self.item, self._memo)
        if typing.is_typeddict(cls):
            return _typeddict(cls, self.item, self._memo)
        raise _Unsupported(
            cls,
            "is not a kind of type idemsdk can store and rebuild (JSON types, bytes, datetime,"
            " date, Decimal, UUID, Enum, dataclass, NamedTuple, TypedDict, pydantic model,"
            " protobuf message, and containers of those: see docs/results.md)",
        )

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


_BARE: dict[object, object] = {
    list: list[Any],
    tuple: tuple[Any, ...],
    set: set[Any],
    frozenset: frozenset[Any],
    dict: dict[str, Any],
}
