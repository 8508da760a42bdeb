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

How the package is laid out, in the order an annotation goes through it:

- ``_type``: ResultType, the one public type, and resolving a function's return annotation.
- ``_compiler``: reads the annotation's shape and builds its plan, containers included.
- ``_plan``: the plan (a dumper and a loader) and the errors its parts raise, with a path.
- ``_plain_json``: Any, or no annotation: plain JSON, checked as it is.
- ``_leaves``: JSON scalars, and the types stored as one string (bytes, datetime, Decimal...).
- ``_containers``: the closures that walk lists, tuples, sets and dicts.
- ``_records``: dataclasses, NamedTuples and TypedDicts.
- ``_unions``: unions, Optional among them.
- ``_special``: Literal, Enum, pydantic models and protobuf messages.

The modules share names that keep their leading underscore: all of them are internals of this
package, whose interface is this module's ``__all__``.
"""

from ._plan import JsonTree
from ._type import ResultType

__all__ = ["JsonTree", "ResultType"]
