"""Annotations with rules of their own.

Literal and Enum allow a fixed set of values; pydantic models and protobuf messages bring
their own serialization, which is used, and checked, rather than walked field by field.
"""

from __future__ import annotations

import enum
from typing import Any

import orjson

# protobuf ships no type stubs; the second code keeps this line quiet once stubs are installed.
from google.protobuf.message import (  # type: ignore[import-untyped, unused-ignore]
    DecodeError,
    EncodeError,
    Message,
)

from ._leaves import _b64, _unb64
from ._plain_json import _JSON_KINDS, _dump_json
from ._plan import JsonTree, _Bad, _describe, _mismatch, _NoneType, _Plan, _refused, _Unsupported

__all__ = ["_enum", "_is_pydantic_model", "_literal", "_protobuf", "_pydantic"]


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
