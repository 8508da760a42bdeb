"""Every supported result type, end to end: run once through ``@idempotent``, replayed by a
duplicate, through both codecs.

``test_results.py`` checks each type's dump and load; this checks the whole path a duplicate
takes (the result type, the codec, the body's header and compression, the store, and the
decode on replay) with the same generated values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import timestamp_pb2  # type: ignore[import-untyped, unused-ignore]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idemsdk import Idempotency, MemoryStore
from idemsdk._record import Status
from tests.test_results import (
    Invoice,
    Order,
    assert_same,
    datetimes,
    decimals,
    invoices,
    json_values,
    orders,
    timestamps,
)

CODECS = ["json", "protobuf"]

#: (return annotation, values): every result type the issue lists, each with its strategy.
TYPES: dict[str, tuple[object, st.SearchStrategy[Any]]] = {
    "json": (Any, json_values),
    "bytes": (bytes, st.binary(max_size=64)),
    "datetime": (dt.datetime, datetimes),
    "decimal": (decimal.Decimal, decimals),
    "uuid": (uuid.UUID, st.uuids()),
    "dataclass": (Order, orders),
    "pydantic": (Invoice, invoices),
    "protobuf": (timestamp_pb2.Timestamp, timestamps),
    # Over the compression threshold (16 KiB): the +zstd path of the header on replay.
    "compressed": (list[Order], st.lists(orders, min_size=1, max_size=2).map(lambda o: o * 200)),
}

_keys = itertools.count()


class WatchedStore(MemoryStore):
    """A MemoryStore that keeps each body it is given, to read their headers."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def complete(self, key: str, token: int, status: Status, body: bytes, ttl_ms: int) -> bool:
        self.bodies.append(body)
        return super().complete(key, token, status, body, ttl_ms)


def decorated(
    store: MemoryStore, codec: str, annotation: object
) -> tuple[Callable[[int, Any], Any], list[Any]]:
    """A function annotated to return ``annotation``: keyed by ``key``, returning ``value``."""
    runs: list[Any] = []

    def produce(key: int, value: Any) -> Any:
        runs.append(value)
        return value

    produce.__annotations__["return"] = annotation
    idempotency = Idempotency(store, tenant="replay", codec=codec)
    return idempotency.idempotent(key="key", exclude=["value"])(produce), runs


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("kind", TYPES)
def test_a_duplicate_replays_what_the_first_call_returned(codec: str, kind: str) -> None:
    annotation, values = TYPES[kind]
    store = WatchedStore()
    function, runs = decorated(store, codec, annotation)
    compressed = "+zstd" if kind == "compressed" else ""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values)
    def round_trip(value: Any) -> None:
        key, before = next(_keys), len(runs)
        assert_same(function(key, value), value)
        # The duplicate passes another value: if it ran, it would return that one.
        replayed = function(key, None)
        assert len(runs) == before + 1, "the duplicate ran the function again"
        assert_same(replayed, value)
        assert store.bodies[-1].startswith(f"{codec}/1{compressed}\n".encode())

    round_trip()
