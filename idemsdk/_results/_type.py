"""ResultType, the package's one public type, and reading a function's return annotation."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from idemsdk._errors import ConfigurationError, RecordCorrupted, SerializationError

from ._compiler import _Compiler
from ._plain_json import _ANY
from ._plan import JsonTree, _Bad, _describe, _late, _Plan, _Unsupported

__all__ = ["ResultType"]


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
