"""Idempotency keys: the exact format, hashing, namespace checks, default scopes, the doc."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
import string
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import blake3
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from idemsdk import _keys
from idemsdk._canonical import canonicalize
from idemsdk._errors import ConfigurationError, InvalidKey
from idemsdk._keys import (
    check_prefix,
    check_scope,
    check_tenant,
    default_scope,
    digest,
    make_key,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "keys.md"
SECRET = bytes(range(32))
KEY = re.compile(r"idem:acme:billing\.charge:[0-9a-f]{64}")

ALPHABET = string.ascii_letters + string.digits + "._-"
parts = st.text(alphabet=ALPHABET, min_size=1, max_size=64)
payloads = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


# --- make_key and digest ---------------------------------------------------------------------


def test_key_is_prefix_tenant_scope_and_blake3_hex_of_the_canonical_form() -> None:
    payload = {"b": [1, 2], "a": "x"}
    key = make_key(payload, tenant="acme", scope="billing.charge")
    assert KEY.fullmatch(key)
    assert key == "idem:acme:billing.charge:" + blake3.blake3(b'{"a":"x","b":[1,2]}').hexdigest()


def test_prefix_replaces_idem() -> None:
    key = make_key({}, tenant="t", scope="s", prefix="myapp.v2")
    assert key.startswith("myapp.v2:t:s:")


def test_keyed_mode_is_blake3_keyed_hash_and_differs_from_plain() -> None:
    canonical = canonicalize({"card": "4111"})
    keyed = make_key({"card": "4111"}, tenant="acme", scope="billing.charge", secret=SECRET)
    plain = make_key({"card": "4111"}, tenant="acme", scope="billing.charge")
    assert keyed.rsplit(":", 1)[1] == blake3.blake3(canonical, key=SECRET).hexdigest()
    assert keyed != plain
    assert digest(canonical, SECRET) == keyed.rsplit(":", 1)[1]
    assert digest(canonical) == plain.rsplit(":", 1)[1]


def test_another_secret_gives_another_key() -> None:
    other = bytes(reversed(SECRET))
    assert make_key(1, tenant="t", scope="s", secret=SECRET) != make_key(
        1, tenant="t", scope="s", secret=other
    )


@pytest.mark.parametrize("secret", [b"", b"short", bytes(31), bytes(33), "x" * 32, bytearray(32)])
def test_a_secret_that_is_not_32_bytes_is_a_configuration_error(secret: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_key({}, tenant="t", scope="s", secret=secret)
    assert "32" in str(info.value)
    with pytest.raises(ConfigurationError):
        digest(b"{}", secret)


def test_the_secret_never_appears_in_the_error() -> None:
    secret = b"super-secret-value"
    with pytest.raises(ConfigurationError) as info:
        digest(b"{}", secret)
    assert "super" not in str(info.value)


def test_digest_is_64_lowercase_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", digest(b""))
    assert digest(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def test_payload_errors_propagate_from_make_key() -> None:
    with pytest.raises(TypeError, match=r"^x: float nan has no JSON form"):
        make_key({"x": float("nan")}, tenant="t", scope="s")


# --- the documented test vectors ---------------------------------------------------------------


def _doc_section(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    assert start in text and end in text, f"docs/keys.md lost its {name} markers"
    return text.split(start, 1)[1].split(end, 1)[0]


def _doc_vectors() -> list[dict[str, str]]:
    vectors = []
    for block in re.findall(r"```text\n(.*?)```", _doc_section("key-vectors"), re.DOTALL):
        fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in block.splitlines())
        vectors.append(fields)
    return vectors


DOC_VECTORS = _doc_vectors()


def test_docs_list_test_vectors() -> None:
    assert len(DOC_VECTORS) >= 8
    for vector in DOC_VECTORS:
        assert {"payload", "key", "keyed key"} <= set(vector)
        assert {"canonical", "utf-8 hex"} & set(vector)


@pytest.mark.parametrize("vector", DOC_VECTORS, ids=lambda vector: vector["payload"][:40])
def test_documented_vectors_match_the_code(vector: dict[str, str]) -> None:
    payload = json.loads(vector["payload"])
    canonical = canonicalize(payload)
    if "canonical" in vector:
        assert canonical == vector["canonical"].encode()
    if "utf-8 hex" in vector:
        assert canonical == bytes.fromhex(vector["utf-8 hex"])
    assert make_key(payload, tenant="acme", scope="billing.charge") == vector["key"]
    keyed = make_key(payload, tenant="acme", scope="billing.charge", secret=SECRET)
    assert keyed == vector["keyed key"]


@pytest.mark.parametrize("vector", DOC_VECTORS, ids=lambda vector: vector["payload"][:40])
def test_documented_vectors_are_reproducible_without_idemsdk(vector: dict[str, str]) -> None:
    # An independent JCS implementation and BLAKE3 alone must give the documented keys.
    canonical = rfc8785.dumps(json.loads(vector["payload"]))
    head = "idem:acme:billing.charge:"
    assert vector["key"] == head + blake3.blake3(canonical).hexdigest()
    assert vector["keyed key"] == head + blake3.blake3(canonical, key=SECRET).hexdigest()


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


def _mapping_examples() -> list[tuple[str, str]]:
    rows = re.findall(r"^\| `(.+?)` \| `(.+?)` \|$", _doc_section("mapping-examples"), re.M)
    assert len(rows) >= 10
    return rows


@pytest.mark.parametrize(("expression", "expected"), _mapping_examples())
def test_documented_type_mapping_examples_match_the_code(expression: str, expected: str) -> None:
    names = {
        "Color": Color,
        "Line": Line,
        "datetime": datetime,
        "date": date,
        "timedelta": timedelta,
        "timezone": timezone,
        "UUID": UUID,
        "Decimal": Decimal,
    }
    builtins = {"frozenset": frozenset, "bytearray": bytearray}
    value = eval(expression, {"__builtins__": builtins}, names)
    assert canonicalize(value) == expected.encode()


# --- tenant, scope and prefix ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "field", "limit"),
    [(check_tenant, "tenant", 64), (check_scope, "scope", 128), (check_prefix, "prefix", 64)],
)
def test_namespace_parts_accept_the_alphabet_up_to_their_limit(
    check: Any, field: str, limit: int
) -> None:
    assert check("a") == "a"
    assert check("Az09._-") == "Az09._-"
    assert check("x" * limit) == "x" * limit
    too_long = rf"^{field} 'x{{40}}'\.\.\. is {limit + 1} characters; the limit is {limit}$"
    with pytest.raises(InvalidKey, match=too_long):
        check("x" * (limit + 1))


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "must not be empty"),
        ("a:b", "contains ':' (U+003A) at index 1"),
        ("a b", "contains ' ' (U+0020) at index 1"),
        ("a/b", "contains '/'"),
        ("ten\nant", "contains '\\n'"),
        ("café", "contains 'é' (U+00E9) at index 3"),
        ("a*", "contains '*'"),
        ("{x}", "contains '{'"),
    ],
)
@pytest.mark.parametrize(
    ("check", "field"), [(check_tenant, "tenant"), (check_scope, "scope"), (check_prefix, "prefix")]
)
def test_namespace_parts_outside_the_alphabet_are_invalid(
    check: Any, field: str, bad: str, problem: str
) -> None:
    with pytest.raises(InvalidKey) as info:
        check(bad)
    assert str(info.value).startswith(field)
    assert problem in str(info.value)


@pytest.mark.parametrize("bad", [None, 7, b"acme", ["acme"]])
def test_namespace_parts_must_be_str(bad: Any) -> None:
    with pytest.raises(InvalidKey, match=r"^tenant must be a str"):
        check_tenant(bad)
    with pytest.raises(InvalidKey, match=r"^tenant must be a str"):
        make_key({}, tenant=bad, scope="s")


def test_make_key_validates_every_part() -> None:
    with pytest.raises(InvalidKey, match=r"^tenant"):
        make_key({}, tenant="a:b", scope="s")
    with pytest.raises(InvalidKey, match=r"^scope"):
        make_key({}, tenant="t", scope="")
    with pytest.raises(InvalidKey, match=r"^prefix"):
        make_key({}, tenant="t", scope="s", prefix="idem:")


def test_long_bad_values_are_shown_truncated() -> None:
    with pytest.raises(InvalidKey) as info:
        check_tenant("x" * 1000 + " ")
    assert len(str(info.value)) < 200


def test_validation_caches_stay_bounded() -> None:
    for number in range(3 * _keys._CACHE_SIZE):
        make_key(1, tenant=f"t{number}", scope="s")
        check_scope(f"s{number}")
    assert len(_keys._valid) <= _keys._CACHE_SIZE
    assert _keys._head_count <= _keys._CACHE_SIZE


def test_a_str_subclass_cannot_change_the_key_text() -> None:
    class Sly(str):
        def __str__(self) -> str:
            return "evil:tenant"

        def __format__(self, spec: str) -> str:
            return "evil:tenant"

    assert make_key({}, tenant=Sly("acme"), scope="s").startswith("idem:acme:s:")


@given(parts, parts, payloads, payloads)
@settings(max_examples=200, deadline=None)
def test_keys_of_different_tenants_never_collide(
    tenant_a: str, tenant_b: str, payload_a: Any, payload_b: Any
) -> None:
    key_a = make_key(payload_a, tenant=tenant_a, scope="s")
    key_b = make_key(payload_b, tenant=tenant_b, scope="s")
    if tenant_a != tenant_b:
        assert key_a != key_b


@given(parts, st.text(alphabet=ALPHABET, min_size=1, max_size=128), parts, payloads)
@settings(max_examples=200, deadline=None)
def test_a_key_splits_back_into_its_four_parts(
    tenant: str, scope: str, prefix: str, payload: Any
) -> None:
    key = make_key(payload, tenant=tenant, scope=scope, prefix=prefix)
    assert key.split(":") == [prefix, tenant, scope, digest(canonicalize(payload))]


# --- default scopes --------------------------------------------------------------------------


def module_function() -> None:
    """A module-level function."""


def make_closure() -> Any:
    def closure() -> None:
        """A function defined inside another."""

    return closure


class Service:
    def method(self) -> None:
        """A method."""

    class Inner:
        @staticmethod
        def helper() -> None:
            """A static method of a nested class."""


def test_default_scope_of_a_module_function_is_module_and_name() -> None:
    assert default_scope(module_function) == "tests.test_keys.module_function"


def test_default_scope_drops_locals_segments() -> None:
    assert default_scope(make_closure()) == "tests.test_keys.make_closure.closure"


def test_default_scope_of_methods_includes_the_class() -> None:
    assert default_scope(Service.method) == "tests.test_keys.Service.method"
    assert default_scope(Service().method) == "tests.test_keys.Service.method"
    assert default_scope(Service.Inner.helper) == "tests.test_keys.Service.Inner.helper"


def test_default_scope_maps_lambdas_into_the_alphabet() -> None:
    assert default_scope(lambda: None) == (
        "tests.test_keys.test_default_scope_maps_lambdas_into_the_alphabet._lambda_"
    )


def test_default_scope_replaces_every_character_outside_the_alphabet() -> None:
    def función() -> None:
        """A name with a non-ASCII letter."""

    assert default_scope(función).endswith(".funci_n")
    check_scope(default_scope(función))


def test_long_default_scopes_are_shortened_to_a_unique_128_characters() -> None:
    def named(qualname: str) -> Any:
        def func() -> None:
            """A function given a long name."""

        func.__qualname__ = qualname
        func.__module__ = "pkg"
        return func

    first = default_scope(named("a" * 200))
    second = default_scope(named("a" * 199 + "b"))
    full = "pkg." + "a" * 200
    assert first == full[:111] + "-" + blake3.blake3(full.encode()).hexdigest()[:16]
    assert len(first) == len(second) == 128
    assert first != second
    assert check_scope(first) == first
    exactly = default_scope(named("a" * 124))
    assert exactly == "pkg." + "a" * 124  # 128 characters: kept as is


class Handler:
    def __call__(self) -> None:
        """A callable instance: it has no qualified name of its own."""


@pytest.mark.parametrize("func", [functools.partial(print, "x"), Handler()])
def test_a_callable_without_a_name_needs_an_explicit_scope(func: Any) -> None:
    with pytest.raises(ConfigurationError, match="pass scope="):
        default_scope(func)
