"""ResultType: a replay equals what the first call returned, and builds only annotated types.

Every round trip goes through real JSON bytes (orjson, as the store does), and replays are
compared by ``assert_same``: equal *and* of the same types all the way down, so a tuple
that came back a list, or an int that came back a float, fails even where ``==`` holds.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import importlib
import math
import sys
import uuid
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import (
    Annotated,
    Any,
    Generic,
    Literal,
    NamedTuple,
    NewType,
    Optional,
    TypedDict,
    TypeVar,
    Union,
)

import orjson
import pydantic
import pytest

# protobuf ships no type stubs; the second code keeps these quiet once stubs are installed.
from google.protobuf import (  # type: ignore[import-untyped, unused-ignore]
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.message import Message  # type: ignore[import-untyped, unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from idemsdk._errors import ConfigurationError, RecordCorrupted, SerializationError
from idemsdk._results import JsonTree, ResultType

T = TypeVar("T")

# --- types under test ------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm(enum.Flag):
    READ = 1
    WRITE = 2
    EXEC = 4


class Mixed(enum.Enum):
    ONE = 1
    HALF = 0.5
    NAME = "name"
    NOTHING = None


@dataclasses.dataclass(frozen=True)
class Line:
    sku: str
    qty: int
    price: decimal.Decimal


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    lines: list[Line]
    created: dt.datetime
    due: dt.date | None
    color: Color
    tags: frozenset[str]
    meta: dict[str, Any]
    total: decimal.Decimal = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.total = sum((line.price * line.qty for line in self.lines), decimal.Decimal(0))


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node]


@dataclasses.dataclass
class Box(Generic[T]):
    item: T


class Point(NamedTuple):
    x: int
    y: float
    label: str = ""


class Parcel(TypedDict):
    weight: float
    to: str


class Category(TypedDict, total=False):
    name: str
    children: list[Category]


class Invoice(pydantic.BaseModel):
    number: str
    amount: decimal.Decimal
    issued: dt.datetime
    lines: list[tuple[str, int]]


class StrictInvoice(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True)

    issued: dt.datetime
    key: uuid.UUID


UserId = NewType("UserId", int)


SPIED: list[int] = []


@dataclasses.dataclass
class Spy:
    """Records every construction: it must never be built from a tree stored for another type."""

    amount: int

    def __post_init__(self) -> None:
        SPIED.append(self.amount)


@dataclasses.dataclass
class Refund:
    amount: int


# --- helpers ---------------------------------------------------------------------------------


def replay(result_type: ResultType, value: object) -> object:
    """What a duplicate caller gets: the value dumped, written as JSON, read back and loaded."""
    return result_type.load(orjson.loads(orjson.dumps(result_type.dump(value))))


def assert_same(replayed: object, original: object) -> None:
    """Equal, and of the same types all the way down (``==`` alone lets 1 == 1.0 == True)."""
    assert type(replayed) is type(original), (type(replayed), type(original))
    if isinstance(original, (list, tuple)):
        assert isinstance(replayed, (list, tuple))
        assert len(replayed) == len(original)
        for left, right in zip(replayed, original, strict=True):
            assert_same(left, right)
    elif isinstance(original, dict):
        assert isinstance(replayed, dict)
        assert replayed.keys() == original.keys()
        assert {type(key) for key in replayed} == {type(key) for key in original}
        for key, item in original.items():
            assert_same(replayed[key], item)
    elif isinstance(original, (set, frozenset)):
        assert isinstance(replayed, (set, frozenset))
        assert replayed == original
        assert {type(item) for item in replayed} == {type(item) for item in original}
    elif isinstance(original, dt.datetime):
        assert isinstance(replayed, dt.datetime)
        assert replayed == original
        assert replayed.utcoffset() == original.utcoffset()
        assert replayed.replace(tzinfo=None) == original.replace(tzinfo=None)
    elif dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            assert_same(getattr(replayed, field.name), getattr(original, field.name))
    else:
        assert replayed == original


def check_round_trip(annotation: object, value: object) -> None:
    assert_same(replay(ResultType.of_type(annotation), value), value)


# --- strategies ------------------------------------------------------------------------------

texts = st.text(max_size=12) | st.sampled_from(["", "é", "\u2028", "\U0001f600", "\x00", '"\\'])
ints = st.integers(-(2**63), 2**64 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
json_values: st.SearchStrategy[JsonTree] = st.recursive(
    st.none() | st.booleans() | ints | floats | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
# Offsets strictly inside +-24 h, down to the microsecond: datetime allows all of them.
offsets = st.timedeltas(
    min_value=-dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
    max_value=dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
).map(dt.timezone)
zones = st.sampled_from(
    ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
).map(zoneinfo.ZoneInfo)
datetimes = st.datetimes(timezones=st.none() | offsets | zones, allow_imaginary=True).flatmap(
    lambda value: st.sampled_from([value, value.replace(fold=1)])
)
# Decimals with every kind of exponent and trailing zeros, built from their parts.
decimals = st.builds(
    lambda sign, digits, exponent: decimal.Decimal((sign, tuple(digits), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=30),
    st.integers(-40, 40),
) | st.sampled_from([decimal.Decimal("Infinity"), decimal.Decimal("-Infinity")])
# Finite prices: Order.__post_init__ adds them up, and inf - inf is an invalid operation.
lines = st.builds(Line, texts, ints, decimals.filter(lambda price: price.is_finite()))
orders = st.builds(
    Order,
    id=st.uuids(),
    lines=st.lists(lines, max_size=3),
    created=datetimes,
    due=st.none() | st.dates(),
    color=st.sampled_from(Color),
    tags=st.frozensets(texts, max_size=3),
    meta=st.dictionaries(texts, json_values, max_size=3),
)


def minute_offset(minutes: int) -> dt.tzinfo:
    return dt.timezone(dt.timedelta(minutes=minutes))


invoices = st.builds(
    Invoice,
    number=texts,
    amount=st.decimals(allow_nan=False, allow_infinity=False),
    # Whole-minute offsets: pydantic's own JSON form drops an offset's seconds.
    issued=st.datetimes(timezones=st.none() | st.integers(-1439, 1439).map(minute_offset)),
    lines=st.lists(st.tuples(texts, st.integers(-(2**53), 2**53)), max_size=3),
)
timestamps = st.builds(
    timestamp_pb2.Timestamp,
    seconds=st.integers(-62135596800, 253402300799),
    nanos=st.integers(0, 999_999_999),
)


# --- round trips -----------------------------------------------------------------------------


@given(json_values)
def test_a_json_value_replays_as_itself_without_an_annotation(value: JsonTree) -> None:
    result_type = ResultType.of_type(Any)
    assert result_type.is_plain_json
    assert_same(replay(result_type, value), value)


@given(json_values)
def test_a_json_value_replays_as_itself_under_object_and_dict_and_list_annotations(
    value: JsonTree,
) -> None:
    check_round_trip(object, value)
    check_round_trip(list[Any], [value])
    check_round_trip(dict[str, Any], {"value": value})
    check_round_trip(Optional[list[Any]], [value])  # noqa: UP045 - Optional is what is tested


@given(st.binary(max_size=64))
def test_bytes_of_any_value_replay_exactly(value: bytes) -> None:
    check_round_trip(bytes, value)


@given(datetimes)
def test_a_datetime_replays_with_its_offset_microseconds_and_zone(value: dt.datetime) -> None:
    replayed = replay(ResultType.of_type(dt.datetime), value)
    assert_same(replayed, value)
    assert isinstance(replayed, dt.datetime)
    assert (replayed.tzinfo is None) == (value.tzinfo is None)
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo):  # the zone itself, not just its offset
        assert replayed.tzinfo is value.tzinfo


def test_an_offset_under_a_second_survives_the_round_trip() -> None:
    # fromisoformat (CPython 3.10 to 3.12 at least) reads "+00:00:00.000001" as UTC.
    for offset in (dt.timedelta(microseconds=1), -dt.timedelta(microseconds=999999)):
        check_round_trip(dt.datetime, dt.datetime(2024, 1, 1, 0, 0, 0, 7, dt.timezone(offset)))


@given(st.dates())
def test_a_date_replays_as_a_date(value: dt.date) -> None:
    check_round_trip(dt.date, value)


@given(decimals)
def test_a_decimal_replays_exactly_with_its_exponent(value: decimal.Decimal) -> None:
    replayed = replay(ResultType.of_type(decimal.Decimal), value)
    assert_same(replayed, value)
    assert str(replayed) == str(value)  # Decimal("1.10") stays "1.10", not "1.1"


def test_decimal_nan_replays_as_nan() -> None:
    for text in ("NaN", "-NaN", "sNaN", "NaN123"):
        replayed = replay(ResultType.of_type(decimal.Decimal), decimal.Decimal(text))
        assert str(replayed) == text


@given(st.uuids())
def test_a_uuid_replays_as_a_uuid(value: uuid.UUID) -> None:
    check_round_trip(uuid.UUID, value)


@given(
    st.sampled_from(Color),
    st.sampled_from(Level),
    st.sampled_from(Mixed),
    st.sets(st.sampled_from(Perm)),
)
def test_enum_members_replay_as_the_same_members(
    color: Color, level: Level, mixed: Mixed, flags: set[Perm]
) -> None:
    check_round_trip(Color, color)
    check_round_trip(Level, level)
    check_round_trip(Mixed, mixed)
    combined = functools.reduce(lambda left, right: left | right, flags, Perm(0))
    assert replay(ResultType.of_type(Perm), combined) is combined


@settings(max_examples=60)
@given(orders)
def test_a_nested_dataclass_replays_field_by_field(order: Order) -> None:
    check_round_trip(Order, order)
    check_round_trip(list[Order], [order, order])


def test_a_recursive_dataclass_replays() -> None:
    tree = Node("root", [Node("a", []), Node("b", [Node("c", [])])])
    check_round_trip(Node, tree)


@given(st.integers(-(2**63), 2**63), texts)
def test_a_parameterized_generic_dataclass_replays_by_its_arguments(number: int, text: str) -> None:
    check_round_trip(Box[int], Box(number))
    check_round_trip(Box[list[str]], Box([text]))
    check_round_trip(Box[Box[Color]], Box(Box(Color.GREEN)))


@given(st.builds(Point, ints, floats, texts))
def test_a_namedtuple_replays_as_the_namedtuple(point: Point) -> None:
    check_round_trip(Point, point)
    check_round_trip(tuple[Point, ...], (point, point))


@given(st.builds(dict, weight=floats, to=texts))
def test_a_typeddict_replays_as_a_dict(parcel: Parcel) -> None:
    check_round_trip(Parcel, parcel)
    check_round_trip(Category, {"name": "a", "children": [{"children": []}, {"name": "b"}]})


@settings(max_examples=60)
@given(invoices)
def test_a_pydantic_model_replays_as_the_model(invoice: Invoice) -> None:
    check_round_trip(Invoice, invoice)
    check_round_trip(dict[int, Invoice], {1: invoice})


def test_a_strict_pydantic_model_replays_through_pydantic_json_validation() -> None:
    invoice = StrictInvoice(
        issued=dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc), key=uuid.uuid4()
    )
    check_round_trip(StrictInvoice, invoice)


@given(timestamps)
def test_a_protobuf_message_replays_as_the_message(timestamp: Any) -> None:
    check_round_trip(timestamp_pb2.Timestamp, timestamp)
    check_round_trip(list[wrappers_pb2.StringValue], [wrappers_pb2.StringValue(value="x")])


def test_a_protobuf_struct_replays_with_its_nested_values() -> None:
    document = struct_pb2.Struct()
    document.update({"a": [1, "two", None, {"b": True}]})
    check_round_trip(struct_pb2.Struct, document)


@given(
    st.lists(ints, max_size=5),
    st.lists(texts, max_size=5),
    st.sets(ints, max_size=5),
    st.frozensets(st.uuids(), max_size=3),
    st.dictionaries(ints, st.none() | st.binary(max_size=8), max_size=4),
    st.dictionaries(st.uuids(), st.dates(), max_size=3),
)
def test_containers_replay_as_the_annotated_containers(
    numbers: list[int],
    words: list[str],
    number_set: set[int],
    ids: frozenset[uuid.UUID],
    by_int: dict[int, bytes | None],
    by_uuid: dict[uuid.UUID, dt.date],
) -> None:
    check_round_trip(list[int], numbers)
    check_round_trip(tuple[int, ...], tuple(numbers))
    check_round_trip(tuple[str, int, tuple[()]], ("a", 1, ()))
    check_round_trip(tuple[list[str], set[int]], (words, number_set))
    check_round_trip(set[int], number_set)
    check_round_trip(frozenset[uuid.UUID], ids)
    check_round_trip(dict[int, Optional[bytes]], by_int)  # noqa: UP045 - Optional is tested
    check_round_trip(dict[uuid.UUID, dt.date], by_uuid)
    check_round_trip(dict[Color, int], {Color.RED: 1, Color.GREEN: 2})
    check_round_trip(dict[Level, str], {Level.LOW: "l", Level.HIGH: "h"})


@given(st.one_of(st.none(), ints, datetimes, st.lists(lines, max_size=2)))
def test_a_union_of_distinguishable_types_replays_the_right_member(value: object) -> None:
    check_round_trip(Union[int, dt.datetime, list[Line], None], value)  # noqa: UP007


@given(st.one_of(st.booleans(), texts, st.builds(Refund, ints), st.sampled_from(Level)))
def test_a_union_picks_its_member_by_the_value_type_and_the_tree_kind(value: object) -> None:
    check_round_trip(bool | str | Refund | Level, value)


@given(st.one_of(ints, floats))
def test_int_or_float_keeps_an_int_an_int_and_a_float_a_float(number: float) -> None:
    check_round_trip(int | float, number)
    check_round_trip(float, number)


def test_literal_newtype_and_annotated_replay_as_their_base_types() -> None:
    check_round_trip(Literal["a", "b", 3, None], "b")
    check_round_trip(Literal["a", "b", 3, None], 3)
    check_round_trip(UserId, UserId(7))
    check_round_trip(Annotated[list[int], "meta"], [1, 2])


def test_none_annotation_stores_none() -> None:
    def returns_nothing() -> None:
        return None

    result_type = ResultType.of(returns_nothing)
    assert result_type.dump(None) is None
    assert result_type.load(None) is None
    with pytest.raises(SerializationError, match=r"^result: type 'int' cannot be stored"):
        result_type.dump(1)


def test_a_set_is_stored_sorted_so_the_same_set_is_always_the_same_bytes() -> None:
    assert ResultType.of_type(set[int]).dump({3, 1, 2}) == [1, 2, 3]
    assert ResultType.of_type(frozenset[Line]).dump(
        frozenset({Line("b", 1, decimal.Decimal(1)), Line("a", 1, decimal.Decimal(1))})
    ) == [{"sku": "a", "qty": 1, "price": "1"}, {"sku": "b", "qty": 1, "price": "1"}]


def test_the_stored_forms_are_the_documented_ones() -> None:
    order = Order(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        lines=[Line("sku-1", 2, decimal.Decimal("1.10"))],
        created=dt.datetime(
            2024, 5, 1, 12, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
        ),
        due=dt.date(2024, 6, 1),
        color=Color.RED,
        tags=frozenset({"b", "a"}),
        meta={"k": [1, 2.5]},
    )
    assert ResultType.of_type(Order).dump(order) == {
        "id": "12345678-1234-5678-1234-567812345678",
        "lines": [{"sku": "sku-1", "qty": 2, "price": "1.10"}],
        "created": "2024-05-01T12:00:00.000005+05:30",
        "due": "2024-06-01",
        "color": "red",
        "tags": ["a", "b"],
        "meta": {"k": [1, 2.5]},
        "total": "2.20",
    }
    zoned = dt.datetime(2024, 10, 27, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"), fold=1)
    assert ResultType.of_type(dt.datetime).dump(zoned) == "2024-10-27T02:30:00+01:00[Europe/Paris]"
    assert ResultType.of_type(bytes).dump(b"\xfb\xff") == "+/8="  # standard base64, padded
    assert ResultType.of_type(dict[int, str]).dump({7: "x"}) == {"7": "x"}
    assert ResultType.of_type(Point).dump(Point(1, 2.0)) == {"x": 1, "y": 2.0, "label": ""}
    assert (
        ResultType.of_type(timestamp_pb2.Timestamp).dump(
            timestamp_pb2.Timestamp(seconds=5, nanos=7)
        )
        == "CAUQBw=="
    )


def test_plain_json_load_returns_the_tree_itself_and_dump_returns_the_value_itself() -> None:
    tree: JsonTree = {"a": [1, {"b": None}]}
    for annotation in (Any, object, dict[str, Any], dict[str, list[Any]]):
        result_type = ResultType.of_type(annotation)
        assert result_type.load(tree) is tree
        assert result_type.dump(tree) is tree
    assert ResultType.of_type(Any).is_plain_json
    assert not ResultType.of_type(dict[str, Any]).is_plain_json


# --- ResultType.of ---------------------------------------------------------------------------


def test_of_reads_the_return_annotation_of_functions_methods_and_callables() -> None:
    def plain() -> list[Line]:
        return []

    async def awaited() -> dt.date:
        return dt.date.today()

    class Service:
        def method(self) -> Color:
            return Color.RED

        def __call__(self) -> uuid.UUID:
            return uuid.uuid4()

    @functools.wraps(plain)
    def wrapper() -> object:
        return plain()

    assert ResultType.of(plain).name == "list[Line]"
    assert ResultType.of(awaited).annotation is dt.date  # the awaited type, not a coroutine
    assert ResultType.of(Service().method).annotation is Color
    assert ResultType.of(Service()).annotation is uuid.UUID
    assert ResultType.of(functools.partial(plain)).name == "list[Line]"
    assert ResultType.of(wrapper).name == "list[Line]"
    assert ResultType.of(Line).annotation is Line  # calling a class returns an instance
    assert ResultType.of(lambda: 1).is_plain_json
    assert ResultType.of(len).is_plain_json


def returns_string_annotations(x: UnknownParameterType) -> list[Order]:  # type: ignore[name-defined]  # noqa: F821
    """A string return annotation resolves; the parameter's (TYPE_CHECKING-only) does not matter."""
    return []


def test_of_resolves_only_the_return_annotation() -> None:
    assert ResultType.of(returns_string_annotations).name == "list[Order]"


def returns_an_unknown_type() -> Missing:  # type: ignore[name-defined]  # noqa: F821
    raise NotImplementedError


def test_of_refuses_a_return_annotation_that_does_not_resolve() -> None:
    with pytest.raises(ConfigurationError, match=r"returns_an_unknown_type.*'Missing'"):
        ResultType.of(returns_an_unknown_type)


class Opaque:
    pass


@dataclasses.dataclass
class HoldsOpaque:
    inner: list[Opaque]


@dataclasses.dataclass
class Other:
    amount: int


@dataclasses.dataclass(init=False)
class NoInit:
    amount: int


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Opaque, r"Opaque is not a kind of type idemsdk can store"),
        (HoldsOpaque, r"Opaque at result\.inner\[\*\] is not a kind of type"),
        (Callable[[], int], r"Callable\[\[\], int\] is not a type .*: it is code"),
        (Sequence[int], r"Sequence\[int\] is not a type .*name it \(list, not Sequence\)"),
        (T, r"~T is a type variable"),
        (Box, r"~T at result\.item is a type variable"),
        (Refund | Other, r"Refund and Other are both stored as an object"),
        (dt.datetime | str, r"datetime and str are both stored as a string"),
        (uuid.UUID | bytes, r"UUID and bytes are both stored as a string"),
        (list[int] | tuple[int, ...], r"both stored as an array"),
        (Any | dt.date, r"mixes Any with types that are not plain JSON"),
        (set[list[int]], r"list\[int\] cannot be a set element"),
        (frozenset[Invoice], r"Invoice cannot be a set element"),
        (dict[float, int], r"float cannot be a dict key"),
        (dict[Line, int], r"Line cannot be a dict key"),
        (dict[int | str, int], r"cannot be a dict key"),
        (dict[timestamp_pb2.Timestamp, int], r"Timestamp cannot be a dict key"),
        (Literal[1.5], r"holds a value that is not a str, int, bool or None"),
        (NoInit, r"NoInit is a dataclass without a generated __init__"),
        (pydantic.BaseModel, r"BaseModel is not a kind of type"),
        (Message, r"Message is not a concrete protobuf message class"),
        ("Order", r"'Order' is a forward reference"),
        (type[int], r"type\[int\] is not a type"),
        (OrderedDict[str, int], r"is not a type idemsdk can store"),
    ],
)
def test_of_type_refuses_annotations_it_cannot_rebuild(annotation: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ResultType.of_type(annotation, owner="shop.checkout")


def test_a_refused_annotation_names_the_function_and_the_type() -> None:
    def checkout() -> list[Opaque]:
        return []

    with pytest.raises(ConfigurationError) as caught:
        ResultType.of(checkout)
    assert (
        "test_results.test_a_refused_annotation_names_the_function_and_the_type.<locals>.checkout"
        in str(caught.value)
    )
    assert "Opaque at result[*]" in str(caught.value)
    assert "(return annotation: list[Opaque])" in str(caught.value)


def test_an_enum_whose_values_are_not_json_scalars_is_refused() -> None:
    class Planet(enum.Enum):
        EARTH = (5.97e24, 6.37e6)

    with pytest.raises(ConfigurationError, match=r"member EARTH whose value is not"):
        ResultType.of_type(Planet)


# --- dump refusals ---------------------------------------------------------------------------


class Foo:
    pass


@pytest.mark.parametrize(
    ("annotation", "value", "message"),
    [
        # Without an annotation, only exact JSON types: anything else would replay as another.
        (Any, {"items": [1, 2, Foo()]}, "result.items[2]: type 'Foo' cannot be stored"),
        (Any, dt.datetime(2024, 1, 1), "result: type 'datetime' cannot be stored"),
        (Any, {"at": dt.date(2024, 1, 1)}, "result.at: type 'date' cannot be stored"),
        (Any, [(1, 2)], "result[0]: type 'tuple' cannot be stored"),
        (Any, {"id": uuid.UUID(int=1)}, "result.id: type 'UUID' cannot be stored"),
        (Any, [Color.RED], "result[0]: type 'Color' cannot be stored"),
        (Any, [Level.LOW], "result[0]: type 'Level' cannot be stored"),
        (Any, OrderedDict(a=1), "result: type 'OrderedDict' cannot be stored"),
        (Any, {"a b": {1: "x"}}, "result[\"a b\"][1]: dict key of type 'int' cannot be stored"),
        (Any, {"n": [math.nan]}, "result.n[0]: float nan cannot be stored"),
        (Any, {"n": -math.inf}, "result.n: float -inf cannot be stored"),
        (Any, [2**64], "result[0]: int out of range"),
        (Any, {"s": "\ud800"}, "result.s: str with a lone surrogate cannot be stored"),
        (Any, {"\udfff": 1}, "str with a lone surrogate cannot be stored"),
        (Any, b"raw", "result: type 'bytes' cannot be stored"),
        (Any, Line("a", 1, decimal.Decimal(1)), "result: type 'Line' cannot be stored"),
        # With one, a value of another type than the annotation's.
        (list[int], [1, 2, True], "result[2]: type 'bool' cannot be stored; expected int"),
        (list[int], (1, 2), "result: type 'tuple' cannot be stored; expected list[int]"),
        (int, 1.0, "result: type 'float' cannot be stored; expected int"),
        (float, True, "result: type 'bool' cannot be stored; expected float"),
        (float, math.inf, "result: float inf cannot be stored"),
        (str, Color.RED, "result: type 'Color' cannot be stored; expected str"),
        (
            dt.date,
            dt.datetime(2024, 1, 1),
            "result: type 'datetime' cannot be stored; expected date",
        ),
        (Order, Refund(1), "result: type 'Refund' cannot be stored; expected Order"),
        (Line, "x", "result: type 'str' cannot be stored; expected Line"),
        (
            list[Line],
            [Line("a", 1, decimal.Decimal(1)), Line("b", 2, 3)],  # type: ignore[arg-type]
            "result[1].price: type 'int' cannot be stored; expected Decimal",
        ),
        (dict[str, Line], {"x": 1}, "result.x: type 'int' cannot be stored; expected Line"),
        (dict[int, str], {"1": "x"}, "result[\"1\"]: type 'str' cannot be stored; expected int"),
        (tuple[int, str], (1, 2), "result[1]: type 'int' cannot be stored; expected str"),
        (tuple[int, str], (1,), "result: tuple of 1 elements cannot be stored"),
        (set[int], {1, "a"}, "result[*]: type 'str' cannot be stored; expected int"),
        (Color, "red", "result: type 'str' cannot be stored; expected Color"),
        (Literal["a", "b"], "c", "result: value is not one of Literal['a', 'b']"),
        (Parcel, {"weight": 1.0}, "result: Parcel requires key 'to'"),
        (Parcel, {"weight": 1.0, "to": "x", "x": 1}, "result.x: key is not a field of Parcel"),
        (int | str, 1.5, "result: type 'float' cannot be stored; expected int | str"),
        (
            Invoice,
            StrictInvoice(issued=dt.datetime(2024, 1, 1), key=uuid.UUID(int=1)),
            "expected Invoice",
        ),
        (timestamp_pb2.Timestamp, wrappers_pb2.StringValue(), "expected Timestamp"),
        (Point, (1, 2.0, ""), "result: type 'tuple' cannot be stored; expected Point"),
        (Box[int], Box("x"), "result.item: type 'str' cannot be stored; expected int"),
    ],
)
def test_dump_refuses_values_it_cannot_replay_and_names_their_path(
    annotation: object, value: object, message: str
) -> None:
    with pytest.raises(SerializationError) as caught:
        ResultType.of_type(annotation).dump(value)
    assert message in str(caught.value)


def test_dump_never_falls_back_to_str_or_repr() -> None:
    class Loud:
        def __str__(self) -> str:
            raise AssertionError("str() was called")

        __repr__ = __str__

    with pytest.raises(SerializationError, match=r"^result\.x: type '.*Loud' cannot be stored"):
        ResultType.of_type(Any).dump({"x": Loud()})


def test_dump_refuses_a_reference_cycle() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(SerializationError, match="reference cycle"):
        ResultType.of_type(Any).dump(cycle)
    node = Node("loop", [])
    node.children.append(node)
    with pytest.raises(SerializationError, match="reference cycle"):
        ResultType.of_type(Node).dump(node)


def test_a_pydantic_model_with_an_infinite_float_is_refused_rather_than_stored_as_null() -> None:
    class Reading(pydantic.BaseModel):
        value: float

    with pytest.raises(SerializationError, match=r"^result\.value: float inf cannot be stored"):
        ResultType.of_type(Reading).dump(Reading(value=math.inf))


def test_a_tree_from_dump_is_always_accepted_by_orjson() -> None:
    tree = ResultType.of_type(Order).dump(
        Order(
            uuid.uuid4(),
            [],
            dt.datetime(2024, 1, 1),
            None,
            Color.RED,
            frozenset(),
            {"é": "\U0001f600"},
        )
    )
    assert orjson.loads(orjson.dumps(tree)) == tree


# --- load refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "tree", "message"),
    [
        (int, "1", "result: expected int, found str"),
        (int, 1.0, "result: expected int, found float"),
        (int, True, "result: expected int, found bool"),
        (float, None, "result: expected float, found NoneType"),
        (list[int], [1, "2"], "result[1]: expected int, found str"),
        (
            list[Line],
            [{"sku": "a", "qty": 1, "price": 5}],
            "result[0].price: expected Decimal, found int",
        ),
        (
            dict[str, list[int]],
            {"a b": [1, None]},
            'result["a b"][1]: expected int, found NoneType',
        ),
        (dict[int, str], {"x": "y"}, "result.x: expected an int key"),
        (dict[int, str], {"1": "a", "01": "b"}, "not an int in canonical form"),
        (tuple[int, int], [1], "result: expected tuple[int, int], found a list of 1 elements"),
        (set[int], {"a": 1}, "result: expected set[int], found dict"),
        (bytes, "not base64!", "result: expected bytes, found a str that is not base64"),
        (dt.datetime, "yesterday", "result: expected datetime, found a str that is not an ISO"),
        (dt.datetime, "2024-01-01T00:00:00[Europe/Paris]", "is not an ISO 8601 datetime"),
        (dt.datetime, "2024-01-01T00:00:00+01:00[../../etc/passwd]", "not an ISO 8601"),
        (dt.date, 20240101, "result: expected date, found int"),
        (decimal.Decimal, "1,5", "result: expected Decimal, found a str that is not a decimal"),
        (uuid.UUID, "123", "result: expected UUID, found a str that is not a UUID"),
        (Color, "blue", "result: expected Color, found a str that is none of its values"),
        (Color, 1, "result: expected Color, found int"),
        (Level, True, "result: expected Level, found bool"),
        (Literal["a"], "b", "result: expected Literal['a'], found another value"),
        (Order, [], "result: expected Order, found list"),
        (Refund, {"amount": 1, "extra": 2}, "found other keys (unexpected 'extra')"),
        (Refund, {}, "found other keys (missing 'amount')"),
        (Refund, {"amount": "1"}, "result.amount: expected int, found str"),
        (Point, {"x": 1, "y": 2.0}, "missing 'label'"),
        (Parcel, {"weight": 1}, "result: Parcel requires key 'to'"),
        (Invoice, {"number": "n"}, "result: expected Invoice, found data it refuses (3 errors)"),
        (timestamp_pb2.Timestamp, "////", "expected Timestamp, found a str that is not one"),
        (timestamp_pb2.Timestamp, 5, "result: expected Timestamp, found int"),
        (int | str, None, "result: expected int | str, found NoneType"),
        (Box[int], {"item": "x"}, "result.item: expected int, found str"),
    ],
)
def test_load_refuses_a_tree_that_does_not_fit_and_names_its_path(
    annotation: object, tree: Any, message: str
) -> None:
    with pytest.raises(RecordCorrupted) as caught:
        ResultType.of_type(annotation).load(tree)
    assert message in str(caught.value)
    assert "the stored result does not fit the return type" in str(caught.value)


def test_a_tree_nested_deeper_than_dump_writes_is_a_corrupted_record() -> None:
    tree: JsonTree = {"name": "leaf", "children": []}
    for _ in range(2000):
        tree = {"name": "n", "children": [tree]}
    with pytest.raises(RecordCorrupted, match="nested too deeply"):
        ResultType.of_type(Node).load(tree)


def test_a_refused_tree_is_never_quoted_in_the_error() -> None:
    with pytest.raises(RecordCorrupted) as caught:
        ResultType.of_type(list[int]).load([1, "4111 1111 1111 1111"])
    assert "4111" not in str(caught.value)


def test_a_tree_shaped_like_another_class_is_never_built_as_that_class() -> None:
    SPIED.clear()
    spy_tree = ResultType.of_type(Spy).dump(Spy(5))
    SPIED.clear()
    # Same fields as Refund: the annotation says Refund, so a Refund it is.
    assert ResultType.of_type(Refund).load(spy_tree) == Refund(5)
    # Another class's fields under Order: refused, nothing built.
    with pytest.raises(RecordCorrupted):
        ResultType.of_type(Order).load(spy_tree)
    # Type names in the tree mean nothing: under Any it is data, returned as it is.
    tagged: JsonTree = {
        "__class__": "tests.test_results.Spy",
        "py/object": "os.system",
        "amount": 5,
    }
    assert ResultType.of_type(Any).load(tagged) is tagged
    assert ResultType.of_type(dict[str, Any]).load(tagged) is tagged
    assert SPIED == []


def test_load_imports_nothing_whatever_the_tree() -> None:
    cases: list[tuple[object, Any]] = [
        (Order, {"__module__": "os", "__qualname__": "system"}),
        (Invoice, {"__class__": "subprocess.Popen"}),
        (Invoice, {"number": "n", "amount": "1", "issued": "2024-01-01T00:00:00", "lines": []}),
        (timestamp_pb2.Timestamp, "CAUQBw=="),
        (dt.datetime, "2024-10-27T02:30:00+01:00[Europe/Paris]"),
        (dt.datetime, "2024-10-27T02:30:00+01:00[Nowhere/Atlantis]"),
        (Color | None, "green"),
        (dict[str, Any], {"type": "builtins.eval", "args": ["1"]}),
    ]
    for annotation, tree in cases:  # once first: the libraries' own lazy imports happen here
        with contextlib.suppress(RecordCorrupted):
            ResultType.of_type(annotation).load(tree)
    result_types = [(ResultType.of_type(annotation), tree) for annotation, tree in cases]
    modules = set(sys.modules)
    real_import, real_import_module = builtins.__import__, importlib.import_module

    def no_import(name: str, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"load imported {name}")

    builtins.__import__ = no_import
    importlib.import_module = no_import
    try:
        for result_type, tree in result_types:
            with contextlib.suppress(RecordCorrupted):
                result_type.load(tree)
    finally:
        builtins.__import__, importlib.import_module = real_import, real_import_module
    assert set(sys.modules) == modules


def test_a_zone_missing_from_the_tz_database_replays_at_its_fixed_offset() -> None:
    replayed = ResultType.of_type(dt.datetime).load("2024-10-27T02:30:00+01:00[Nowhere/Atlantis]")
    assert replayed == dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.timezone.utc)
    assert isinstance(replayed, dt.datetime)
    assert replayed.utcoffset() == dt.timedelta(hours=1)


def test_a_dataclass_validation_error_on_load_is_a_corrupted_record() -> None:
    @dataclasses.dataclass
    class Positive:
        value: int

        def __post_init__(self) -> None:
            if self.value <= 0:
                raise ValueError(f"{self.value} is not positive")

    with pytest.raises(
        RecordCorrupted, match=r"Positive\(\.\.\.\) refused the stored fields \(ValueError\)"
    ):
        ResultType.of_type(Positive).load({"value": -1})
