"""Canonical JSON: RFC 8785 conformance, the Python type mapping, and errors with paths."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import random
import shutil
import struct
import subprocess
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import orjson
import pydantic
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from idemsdk import _canonical
from idemsdk._canonical import _MAX_DEPTH, _encode_slow, _format_number, canonicalize, normalize
from idemsdk._errors import CanonicalizationError
from tests.rfc8785_vectors import (
    APPENDIX_B,
    APPENDIX_B_NON_FINITE,
    SECTION_3_2_2_INPUT,
    SECTION_3_2_2_OUTPUT,
    SECTION_3_2_3_INPUT,
    SECTION_3_2_3_OUTPUT,
    double,
)

NAN = float("nan")
INF = float("inf")

# --- strategies ------------------------------------------------------------------------------

# Characters where JSON encoders tend to go wrong: controls, DEL, the JS line separators, the
# UTF-16/code-point order boundary (U+E000..U+FFFF against astral characters).
_TRICKY = st.sampled_from(
    ["a", "B", "1", "_", "\x00", "\x1f", '"', "\\", "/", "\x7f", "\x80", "é", "\u2028",
     "\u2029", "\ud7ff", "\ue000", "\ufb33", "\uffff", "\U00010000", "\U0001f600",
     "\U0010ffff"]
)  # fmt: skip
texts = st.one_of(st.text(max_size=10), st.text(alphabet=_TRICKY, max_size=6))
safe_ints = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1), st.sampled_from([0, -1, 2**53 - 1, -(2**53) + 1])
)
# Finite doubles: hypothesis' own mix (subnormals, huge exponents) and uniform bit patterns.
finite_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(0, 2**64 - 1).map(lambda bits: double(f"{bits:016x}")).filter(math.isfinite),
)
json_scalars = st.one_of(st.none(), st.booleans(), safe_ints, finite_floats, texts)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=25,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = 2
    PAIR = (1, 2.5)


class Shade(str, enum.Enum):
    DARK = "dark"


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class Line:
    sku: str
    price: Any
    tags: tuple[str, ...] = ()
    registry: ClassVar[int] = 0  # a ClassVar is not a field: never part of the payload


@dataclasses.dataclass(frozen=True)
class Money:
    amount: decimal.Decimal
    currency: str


class Address(pydantic.BaseModel):
    city: str
    since: dt.date


class Customer(pydantic.BaseModel):
    id: uuid.UUID
    email: str
    address: Address
    joined: dt.datetime


Point = collections.namedtuple("Point", "x y")

_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
python_scalars = st.one_of(
    json_scalars,
    st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.one_of(st.none(), _offsets),
    ),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.binary(max_size=12),
    st.sampled_from(list(Color) + list(Shade) + list(Level)),
    st.builds(Money, st.decimals(allow_nan=False, allow_infinity=False, places=2), texts),
)
python_values = st.recursive(
    python_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(texts, safe_ints, st.uuids()), children, max_size=4),
        st.frozensets(st.one_of(safe_ints, texts, st.uuids()), max_size=4),
        st.builds(Line, texts, children),
    ),
    max_leaves=20,
)


def reorder(value: Any, rnd: random.Random) -> Any:
    """``value`` with every dict rebuilt in a shuffled insertion order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {key: reorder(item, rnd) for key, item in items}
    if isinstance(value, list):
        return [reorder(item, rnd) for item in value]
    return value


def slow_path(value: object) -> bytes:
    """The slow path alone, with its internal rejection turned into the public error."""
    try:
        return _encode_slow(value)
    except _canonical._Reject as exc:
        path = _canonical._format_path(exc.segments)
        raise CanonicalizationError(exc.message, path=path) from None


def outcome(call: Callable[[object], object], value: object) -> object:
    """What ``call(value)`` returns, or the path and message of its CanonicalizationError."""
    try:
        return call(value)
    except CanonicalizationError as exc:
        return (exc.path, exc.message)


def error(value: object, call: Callable[[object], object] = canonicalize) -> CanonicalizationError:
    """The CanonicalizationError that ``call(value)`` raises."""
    with pytest.raises(CanonicalizationError) as info:
        call(value)
    return info.value


# --- RFC 8785 vectors ------------------------------------------------------------------------


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers_format_as_the_rfc_publishes(bits: str, expected: str) -> None:
    value = double(bits)
    assert _format_number(value) == expected
    assert canonicalize(value) == expected.encode()
    assert canonicalize({"n": [value]}) == b'{"n":[' + expected.encode() + b"]}"


@pytest.mark.parametrize("bits", APPENDIX_B_NON_FINITE)
def test_appendix_b_nan_and_infinity_have_no_json_form(bits: str) -> None:
    assert error(double(bits)).path == "$"
    assert error({"n": double(bits)}).path == "n"


def test_section_3_2_2_sample_object_is_canonicalized_as_published() -> None:
    assert canonicalize(json.loads(SECTION_3_2_2_INPUT)) == SECTION_3_2_2_OUTPUT


def test_section_3_2_3_keys_sort_by_utf16_code_units_not_code_points() -> None:
    assert canonicalize(json.loads(SECTION_3_2_3_INPUT)) == SECTION_3_2_3_OUTPUT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (1e30, "1e+30"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1e-6 * 1.5, "0.0000015"),
        (123456789.0, "123456789"),
        (1e16, "10000000000000000"),
        (2.0**60, "1152921504606847000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-1.5e-300, "-1.5e-300"),
        (5e-324, "5e-324"),
        (9007199254740993.0, "9007199254740992"),
    ],
)
def test_floats_follow_ecmascript_number_to_string(value: float, expected: str) -> None:
    assert _format_number(value) == expected
    assert canonicalize([value]) == f"[{expected}]".encode()


@given(finite_floats)
@settings(max_examples=400)
def test_float_text_matches_the_rfc8785_oracle_and_round_trips(value: float) -> None:
    text = _format_number(value)
    assert text.encode() == rfc8785.dumps(value)
    assert float(text) == value


_JS_NUMBER_TO_STRING = r"""
const view = new DataView(new ArrayBuffer(8));
const lines = require("fs").readFileSync(0, "utf8").trim().split("\n");
process.stdout.write(lines.map((bits) => {
  view.setBigUint64(0, BigInt("0x" + bits));
  return String(view.getFloat64(0));
}).join("\n"));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js as the ECMAScript oracle")
def test_float_text_matches_javascript_itself() -> None:
    """ECMAScript's own Number::toString (Node.js), on random and boundary doubles."""
    rnd = random.Random(8785)
    values = [double(bits) for bits, _ in APPENDIX_B]
    values += [10.0**power for power in range(-323, 309)] + [n / 7 for n in range(1, 500)]
    while len(values) < 20_000:
        value = double(f"{rnd.getrandbits(64):016x}")
        if math.isfinite(value):
            values.append(value)
    bits = "\n".join(struct.pack(">d", value).hex() for value in values)
    node = subprocess.run(
        ["node", "-e", _JS_NUMBER_TO_STRING],
        input=bits,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [_format_number(value) for value in values] == node.stdout.split("\n")


def test_strings_escape_only_quote_backslash_and_controls() -> None:
    text = "".join(chr(code) for code in range(0x80)) + "\u2028\u2029\ue000\U0001f600"
    expected = (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r'
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
        "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
        " !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`"
        'abcdefghijklmnopqrstuvwxyz{|}~\x7f\u2028\u2029\ue000\U0001f600"'
    ).encode()
    assert canonicalize(text) == expected
    assert canonicalize({text: text}) == b"{" + expected + b":" + expected + b"}"


def test_literals_and_integers_are_written_as_json() -> None:
    assert canonicalize([None, True, False, 0, -7, 2**53 - 1]) == (
        b"[null,true,false,0,-7,9007199254740991]"
    )


def test_a_bool_is_not_the_integer_one() -> None:
    assert canonicalize({"a": True}) == b'{"a":true}'
    assert canonicalize({"a": True}) != canonicalize({"a": 1})


def test_an_integral_float_and_the_integer_share_one_json_number() -> None:
    assert canonicalize({"a": 1.0}) == canonicalize({"a": 1}) == b'{"a":1}'


# --- differential and properties -------------------------------------------------------------


@given(json_values)
@settings(max_examples=400, deadline=None)
def test_json_values_match_the_rfc8785_oracle_byte_for_byte(value: Any) -> None:
    expected = rfc8785.dumps(value)
    assert canonicalize(value) == expected
    assert _encode_slow(value) == expected


@given(python_values)
@settings(max_examples=200, deadline=None)
def test_fast_path_and_slow_path_agree_on_python_values(value: Any) -> None:
    assert outcome(canonicalize, value) == outcome(slow_path, value)


@given(python_values)
@settings(max_examples=200, deadline=None)
def test_canonicalizing_the_normalized_value_gives_the_same_bytes(value: Any) -> None:
    expected = outcome(canonicalize, value)
    if not isinstance(expected, bytes):  # e.g. {1: ..., "1": ...}: the same error, same path
        assert outcome(normalize, value) == expected
        return
    normalized = normalize(value)
    assert canonicalize(normalized) == expected
    # normalize leaves plain JSON data: the oracle, which knows no Python types, takes it.
    assert rfc8785.dumps(normalized) == expected


_BAD_LEAVES = [NAN, -INF, 2**53, object(), "x\ud800", dt.time(1, 2), decimal.Decimal("NaN")]


@st.composite
def values_with_one_bad_leaf(draw: st.DrawFn) -> tuple[object, str]:
    """A nested value with one leaf that has no JSON form, and that leaf's expected path."""
    value: object = draw(st.sampled_from(_BAD_LEAVES))
    segments: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        siblings = st.one_of(st.none(), safe_ints, finite_floats, texts)
        if draw(st.booleans()):
            name = draw(st.sampled_from(["a", "b_1", "we ird", "caf\u00e9", "1", 'q"t', ""]))
            others = draw(st.dictionaries(st.sampled_from(["x", "y"]), siblings, max_size=2))
            value = {**others, name: value}
            plain = name.isascii() and name.isidentifier()
            segments.append(f".{name}" if plain else f"[{json.dumps(name, ensure_ascii=False)}]")
        else:
            before = draw(st.lists(siblings, max_size=2))
            value = [*before, value, *draw(st.lists(siblings, max_size=2))]
            segments.append(f"[{len(before)}]")
    path = "".join(reversed(segments)).removeprefix(".") or "$"
    return value, path


@given(values_with_one_bad_leaf())
@settings(max_examples=200, deadline=None)
def test_every_path_reports_the_bad_leaf_exactly(case: tuple[object, str]) -> None:
    value, path = case
    for call in (canonicalize, slow_path, normalize):
        assert error(value, call).path == path


@given(json_values, st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_output_is_independent_of_dict_insertion_order(value: Any, rnd: random.Random) -> None:
    assert canonicalize(reorder(value, rnd)) == canonicalize(value)


@given(python_values)
@settings(max_examples=100, deadline=None)
def test_canonicalize_is_deterministic(value: Any) -> None:
    # Colliding keys ({0: .., "0": ..}) are refused: the same error at the same path each time.
    assert outcome(canonicalize, value) == outcome(canonicalize, value)


# --- the fast path's guards ------------------------------------------------------------------


@pytest.fixture
def slow_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every value that goes to the slow path."""
    calls: list[object] = []
    real = _canonical._encode_slow

    def spy(value: object) -> bytes:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(_canonical, "_encode_slow", spy)
    return calls


@pytest.mark.parametrize("number", [1.5, 1.0, -0.0, 1e-7, -5e-324, 1e30, 2.0**60, 1e300])
@pytest.mark.parametrize(
    "place",
    [
        lambda x: x,
        lambda x: [x],
        lambda x: [1, "a", x],
        lambda x: [x, 1],
        lambda x: {"a": x},
        lambda x: {"a": 1, "z": x},
        lambda x: {"a": [{"b": x}], "c": "d"},
    ],
)
def test_every_float_is_caught_wherever_it_sits(
    number: float, place: Callable[[float], Any], slow_path_calls: list[object]
) -> None:
    value = place(number)
    assert canonicalize(value) == rfc8785.dumps(value)
    assert slow_path_calls == [value]


@pytest.mark.parametrize(
    "value",
    [
        {"price": "10.50", "version": "v1.2.3", "small": "1e-7", "big": "1e+30"},
        {"email": "jane.doe@example.co.uk", "sku": "SKU-000123", "note": "e-mail re-try"},
        {"at": dt.datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=dt.timezone.utc)},
        {"id": uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), "phone": "+33 1 23 45 67"},
        {"maybe": None, "count": 3, "tags": ["a", None]},
    ],
)
def test_float_free_payloads_stay_on_the_fast_path(
    value: object, slow_path_calls: list[object]
) -> None:
    canonicalize(value)
    assert slow_path_calls == []


def test_nan_next_to_none_is_not_taken_for_none() -> None:
    assert error({"a": None, "b": [1, NAN]}).path == "b[1]"
    assert error({"a": None, "b": Line("x", INF)}).path == "b.price"
    assert error([None, -INF]).path == "[1]"


def test_astral_and_private_use_keys_are_ordered_by_utf16() -> None:
    value: Any = {"\ue000": 1, "\U0001f600": 2, "a": [{"\uffff": 3, "\U00010000": 4}]}
    expected = '{"a":[{"\U00010000":4,"\uffff":3}],"\U0001f600":2,"\ue000":1}'.encode()
    assert canonicalize(value) == expected == rfc8785.dumps(value)


def test_keys_mapped_from_ints_are_placed_by_their_text() -> None:
    assert canonicalize({10: "a", 9: "b", "x": "c"}) == b'{"10":"a","9":"b","x":"c"}'


# --- the Python type mapping -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1, "a"), b'[1,"a"]'),
        (Point(1, 2), b"[1,2]"),
        (collections.OrderedDict([("b", 1), ("a", 2)]), b'{"a":2,"b":1}'),
        (collections.defaultdict(list, {"k": [1]}), b'{"k":[1]}'),
        (frozenset({"b", 10, 2, "a"}), b'["a","b",10,2]'),
        ({3, 1, 2}, b"[1,2,3]"),
        (set(), b"[]"),
        (b"\xfb\xff", b'"-_8"'),
        (bytearray(b"hi"), b'"aGk"'),
        (memoryview(b"hello"), b'"aGVsbG8"'),
        (b"", b'""'),
        (dt.datetime(2024, 5, 17, 12, 30, 45), b'"2024-05-17T12:30:45Z"'),
        (dt.datetime(2024, 5, 17, 12, 30, 45, 10), b'"2024-05-17T12:30:45.000010Z"'),
        (
            dt.datetime(2024, 5, 17, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            b'"2024-05-16T23:00:00Z"',
        ),
        (
            dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
            b'"2024-01-01T05:30:00Z"',
        ),
        (dt.datetime(1, 1, 1), b'"0001-01-01T00:00:00Z"'),
        (dt.date(2024, 2, 29), b'"2024-02-29"'),
        (
            uuid.UUID("1B4E28BA-2FA1-11D2-883F-0016D3CCA427"),
            b'"1b4e28ba-2fa1-11d2-883f-0016d3cca427"',
        ),
        (decimal.Decimal("1.10"), b'"1.10"'),
        (decimal.Decimal("1E+2"), b'"1E+2"'),
        (decimal.Decimal("-0"), b'"-0"'),
        (decimal.Decimal("0.000001"), b'"0.000001"'),
        (decimal.Decimal("0.0000001"), b'"1E-7"'),
        (Color.RED, b'"red"'),
        (Color.BLUE, b"2"),
        (Color.PAIR, b"[1,2.5]"),
        (Shade.DARK, b'"dark"'),
        (Level.LOW, b"1"),
        (Line("A-1", 2.5, ("x",)), b'{"price":2.5,"sku":"A-1","tags":["x"]}'),
        (Money(decimal.Decimal("9.90"), "EUR"), b'{"amount":"9.90","currency":"EUR"}'),
    ],
)
def test_python_types_map_as_documented(value: object, expected: bytes) -> None:
    assert canonicalize(value) == expected
    assert _encode_slow(value) == expected
    assert canonicalize(normalize(value)) == expected


def test_decimal_text_does_not_depend_on_the_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.capitals = 0
        assert canonicalize(decimal.Decimal("1E+2")) == b'"1E+2"'


def test_decimals_are_not_normalized() -> None:
    assert canonicalize(decimal.Decimal("1.10")) != canonicalize(decimal.Decimal("1.1"))


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = dt.datetime(2024, 5, 17, 12, 0)
    assert canonicalize(naive) == canonicalize(naive.replace(tzinfo=dt.timezone.utc))


def test_aware_datetimes_for_the_same_instant_are_equal() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert canonicalize(dt.datetime(2024, 5, 17, 14, 0, tzinfo=paris)) == canonicalize(
        dt.datetime(2024, 5, 17, 12, 0, tzinfo=dt.timezone.utc)
    )


def test_pydantic_models_map_through_model_dump() -> None:
    customer = Customer(
        id=uuid.UUID(int=1),
        email="jane.doe@example.com",
        address=Address(city="Paris", since=dt.date(2020, 1, 31)),
        joined=dt.datetime(2020, 1, 31, 8, 0, tzinfo=dt.timezone.utc),
    )
    expected = (
        b'{"address":{"city":"Paris","since":"2020-01-31"},"email":"jane.doe@example.com",'
        b'"id":"00000000-0000-0000-0000-000000000001","joined":"2020-01-31T08:00:00Z"}'
    )
    assert canonicalize(customer) == expected
    assert _encode_slow({"c": customer}) == b'{"c":' + expected + b"}"


def test_anything_shaped_like_a_pydantic_model_is_dumped_without_importing_pydantic() -> None:
    class Model:
        __pydantic_fields__: ClassVar[dict[str, object]] = {}

        def model_dump(self, *, mode: str) -> dict[str, object]:
            assert mode == "python"
            return {"when": dt.date(2024, 1, 2), "n": 1}

    assert canonicalize({"m": Model()}) == b'{"m":{"n":1,"when":"2024-01-02"}}'
    assert "has no canonical JSON form" in error({"m": Model}).message


def test_set_elements_that_map_to_the_same_json_are_all_kept() -> None:
    value = {"2024-01-01", dt.date(2024, 1, 1)}
    assert canonicalize(value) == b'["2024-01-01","2024-01-01"]'
    assert normalize(value) == ["2024-01-01", "2024-01-01"]


def test_dict_keys_map_to_names() -> None:
    key = uuid.UUID(int=255)
    value = {5: "int", -3: "negative", key: "uuid", Color.RED: "enum", Level.LOW: "intenum"}
    assert canonicalize(value) == (
        b'{"-3":"negative","00000000-0000-0000-0000-0000000000ff":"uuid","1":"intenum",'
        b'"5":"int","red":"enum"}'
    )
    assert normalize(value) == {
        "5": "int",
        "-3": "negative",
        "00000000-0000-0000-0000-0000000000ff": "uuid",
        "red": "enum",
        "1": "intenum",
    }


class Label(str):
    """A str subclass whose methods lie: only its content may count."""

    def __str__(self) -> str:
        return "lie"

    def __format__(self, spec: str) -> str:
        return "lie"


class Count(int):
    def __str__(self) -> str:
        return "lie"


class Ratio(float):
    def __repr__(self) -> str:
        return "lie"


class Items(dict[str, Any]):
    def items(self) -> Any:
        return [("lie", 1)]


class Row(list[Any]):
    def __iter__(self) -> Any:
        return iter(["lie"])


def test_subclasses_of_builtins_count_by_their_content_not_their_methods() -> None:
    value = {
        "label": Label("x"),
        Label("key"): Count(7),
        "ratio": Ratio(0.5),
        "items": Items(a=1),
        "row": Row([1, 2]),
    }
    expected = b'{"items":{"a":1},"key":7,"label":"x","ratio":0.5,"row":[1,2]}'
    assert canonicalize(value) == expected
    assert _encode_slow(value) == expected
    assert canonicalize(normalize(value)) == expected


def test_normalize_returns_plain_json_in_input_key_order() -> None:
    value = {
        "z": (1, 2),
        "at": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        "tags": {"b", "a"},
        7: Line("s", 1.5),
    }
    assert normalize(value) == {
        "z": [1, 2],
        "at": "2024-01-01T00:00:00Z",
        "tags": ["a", "b"],
        "7": {"sku": "s", "price": 1.5, "tags": []},
    }
    assert list(normalize(value)) == ["z", "at", "tags", "7"]  # type: ignore[arg-type]


def test_a_dataclass_class_is_not_an_instance() -> None:
    assert "has no canonical JSON form" in str(error({"cls": Line}))


# --- errors and their paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        (
            {"order": {"items": [{}, {}, {"price": NAN}]}},
            "order.items[2].price",
            "float nan has no JSON form",
        ),
        ({"a": [INF]}, "a[0]", "float inf has no JSON form"),
        ({"a": -INF}, "a", "float -inf has no JSON form"),
        (NAN, "$", "float nan has no JSON form"),
        ({"n": [2**53]}, "n[0]", "int 9007199254740992 is outside ±(2**53-1); pass it as a string"),
        ({"n": -(2**53)}, "n", "int -9007199254740992 is outside"),
        ({"n": 10**400}, "n", "int of 1329 bits is outside"),
        ({"a": [{"b": object()}]}, "a[0].b", "type 'object' has no canonical JSON form"),
        ({"t": dt.time(12, 0)}, "t", "type 'time' has no canonical JSON form"),
        ({"d": dt.timedelta(1)}, "d", "type 'timedelta' has no canonical JSON form"),
        ({"c": 1j}, "c", "type 'complex' has no canonical JSON form"),
        ({"s": "ok\ud800"}, "s", "str contains a lone surrogate U+D800 at index 2"),
        ({"k": {"\udc00x": 1}}, "k", "dict key contains a lone surrogate U+DC00 at index 0"),
        ({"m": {1: "a", "1": "b"}}, "m", "dict keys 1 and '1' both map to the name \"1\""),
        ({"m": {(1, 2): "a"}}, "m", "dict key of type 'tuple' has no JSON name"),
        ({True: "a"}, "$", "dict key of type 'bool' has no JSON name"),
        ({None: "a"}, "$", "dict key of type 'NoneType' has no JSON name"),
        ({1.5: "a"}, "$", "dict key of type 'float' has no JSON name"),
        ({2**60: "a"}, "$", "int 1152921504606846976 is outside"),
        ({Color.PAIR: "a"}, "$", "dict key Color.PAIR has a tuple value"),
        ({"we ird": {"x": NAN}}, '["we ird"].x', "float nan"),
        ({'q"uote': [NAN]}, '["q\\"uote"][0]', "float nan"),
        ({"caf\u00e9": NAN}, '["caf\u00e9"]', "float nan"),
        ({7: {"x": NAN}}, '["7"].x', "float nan"),
        ([[0, [1, NAN]]], "[0][1][1]", "float nan"),
        ({"tags": frozenset({1, NAN})}, "tags[*]", "float nan"),
        ({"tags": {("a", 2**60)}}, "tags[*][1]", "int 1152921504606846976 is outside"),
        ({"lines": [Line("a", 1), Line("b", NAN)]}, "lines[1].price", "float nan"),
        ({"lines": (Line("a", [object()]),)}, "lines[0].price[0]", "type 'object'"),
        # the metaclass is EnumMeta before Python 3.11, EnumType since
        ({"c": Color}, "c", f"type {type(Color).__name__!r} has no canonical JSON form"),
        ({"d": decimal.Decimal("NaN")}, "d", "Decimal NaN has no JSON form"),
        ({"d": decimal.Decimal("sNaN")}, "d", "Decimal sNaN has no JSON form"),
        ({"d": decimal.Decimal("-Infinity")}, "d", "Decimal -Infinity has no JSON form"),
        (
            {"at": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))},
            "at",
            "datetime is out of range once converted to UTC",
        ),
    ],
)
def test_errors_name_the_offending_value_by_path(value: object, path: str, message: str) -> None:
    for call in (canonicalize, normalize):
        exc = error(value, call)
        assert exc.path == path
        assert message in exc.message
        assert str(exc).startswith(f"{path}: ")


def test_errors_are_type_errors_for_callers_that_catch_those() -> None:
    with pytest.raises(TypeError):
        canonicalize({"x": object()})


def test_nesting_is_limited_to_what_orjson_can_write() -> None:
    deep: Any = 1
    for _ in range(_MAX_DEPTH):
        deep = [deep]
    assert canonicalize(deep) == b"[" * _MAX_DEPTH + b"1" + b"]" * _MAX_DEPTH
    assert _encode_slow(deep) == canonicalize(deep)
    floaty: Any = 0.5
    for _ in range(_MAX_DEPTH):
        floaty = {"a": floaty}
    assert canonicalize(floaty).count(b"0.5") == 1  # the slow path handles the same depth
    exc = error([deep])
    assert "nested deeper than 254 levels" in exc.message
    assert exc.path == "[0]" * _MAX_DEPTH


def test_a_reference_cycle_is_an_error_not_a_crash() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert "reference cycle" in error({"loop": loop}).message


def test_fast_path_rejections_are_reported_with_the_slow_paths_precise_path() -> None:
    # Each of these makes orjson itself fail; the report must still point at the value.
    deep: dict[str, Any] = {"a": {"b": [1, 2, {"c": [{"d": object()}]}]}}
    assert error(deep).path == "a.b[2].c[0].d"
    assert error({"x": [{"y": {1: 1, "1": 2}}]}).path == "x[0].y"
    assert error({"x": [1, {"y": 2**53}]}).path == "x[1].y"
    assert error({"x": ["\udfff"]}).path == "x[0]"


def test_the_error_message_never_contains_string_payloads() -> None:
    exc = error({"card": "4111 1111 1111 1111\ud800"})
    assert "4111" not in str(exc)


@pytest.mark.parametrize("value", [1.0, 0.5, -2.25, 1e-300])
def test_normalize_keeps_finite_floats_as_floats(value: float) -> None:
    assert normalize({"x": value}) == {"x": value}


def test_orjson_output_format_assumptions_hold() -> None:
    """The guards rely on how orjson writes floats: "." or "e+"/"e-" between digits."""
    for value in (1.0, 1e-7, 1e16, 5e-324, 1.7976931348623157e308, 0.1, 123456.789):
        text = orjson.dumps(value)
        assert (b"." in text) or (b"e+" in text) or (b"e-" in text), text
    assert orjson.dumps([NAN, INF]) == b"[null,null]"
