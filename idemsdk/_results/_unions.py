"""Unions, Optional among them: each value, and each stored tree, goes to one member.

A value picks its member by its type and a tree by its kind (dict, list, str...), so members
that would be stored alike are refused when the function is decorated, not on a replay.
"""

from __future__ import annotations

from typing import Any

from ._leaves import _FLOAT, _INT, _NONE
from ._plain_json import _ANY
from ._plan import JsonTree, _late, _mismatch, _NoneType, _Plan, _refused, _Unsupported

__all__ = ["_union"]


def _union(annotation: object, members: list[_Plan]) -> _Plan:
    """The plan of ``annotation``, a union whose members' plans are ``members``."""
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
