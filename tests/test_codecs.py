"""The codecs and the stored body: round trips, one schema for both, and corruption caught."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from idemsdk import JsonCodec, ProtobufCodec, Record, RecordCorrupted, ResultTooLarge, Status
from idemsdk import _framing as framing
from idemsdk._framing import COMPRESS_MIN_BYTES, decode_body, encode_body
from idemsdk.v1 import record_pb2

CODECS = [JsonCodec(), ProtobufCodec()]
MIB = 1 << 20

json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
records = st.builds(
    Record,
    status=st.sampled_from([Status.COMPLETED, Status.FAILED]),
    fingerprint=st.text("0123456789abcdef", min_size=64, max_size=64),
    fencing_token=st.integers(1, 2**63 - 1),
    created_at_ms=st.integers(0, 2**53),
    completed_at_ms=st.integers(0, 2**53),
    lease_deadline_ms=st.integers(0, 2**53),
    result=json_trees,
    error_type=st.text(min_size=1, max_size=40),
    error_message=st.text(max_size=80),
    trace_id=st.text("0123456789abcdef", min_size=32, max_size=32) | st.just(""),
    span_id=st.text("0123456789abcdef", min_size=16, max_size=16),
)


def normalized(record: Record) -> Record:
    """What a round trip must give back: the outcome that fits the status, no span sans trace."""
    completed = record.status is Status.COMPLETED
    return Record(
        record.status,
        record.fingerprint,
        record.fencing_token,
        record.created_at_ms,
        record.completed_at_ms,
        record.lease_deadline_ms,
        record.result if completed else None,
        "" if completed else record.error_type,
        "" if completed else record.error_message,
        record.trace_id,
        record.span_id if record.trace_id else "",
        record.schema_version,
    )


def sample(status: Status = Status.COMPLETED, result: Any = None) -> Record:
    return Record(
        status,
        "ab" * 32,
        1795371424710845,
        1700000000000,
        1700000000123,
        1700000030000,
        result={"charge": "ch_1", "amount": 1999} if result is None else result,
        error_type="shop.CardDeclined" if status is Status.FAILED else "",
        error_message="declined" if status is Status.FAILED else "",
    )


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
@settings(max_examples=150, deadline=None)
@given(record=records)
def test_records_round_trip_through_every_codec(codec: Any, record: Record) -> None:
    record = normalized(record)
    assert codec.decode(codec.encode(record)) == record


@settings(max_examples=100, deadline=None)
@given(record=records)
def test_the_json_document_is_the_protobuf_json_mapping_of_the_record(record: Record) -> None:
    record = normalized(record)
    document = JsonCodec().encode(record)
    # protobuf's own JSON parser reads the document as an idemsdk.v1.Record...
    message = json_format.Parse(document, record_pb2.Record())
    assert message.fencing_token == record.fencing_token
    assert message.fingerprint == record.fingerprint
    if record.status is Status.COMPLETED and not _has_big_ints(record.result):
        assert json_format.MessageToDict(message.result.value) == _as_doubles(record.result)
    # ...and what protobuf writes back (its canonical form: 64-bit integers as strings,
    # zeros left out) is read by JsonCodec as the same record.
    if not _has_big_ints(record.result):  # Value holds doubles
        again = JsonCodec().decode(json_format.MessageToJson(message).encode())
        assert again == record


def _has_big_ints(tree: Any) -> bool:
    if isinstance(tree, bool):
        return False
    if isinstance(tree, int):
        return abs(tree) > 2**53
    if isinstance(tree, list):
        return any(_has_big_ints(v) for v in tree)
    if isinstance(tree, dict):
        return any(_has_big_ints(v) for v in tree.values())
    return False


def _as_doubles(tree: Any) -> Any:
    if isinstance(tree, bool) or tree is None or isinstance(tree, str):
        return tree
    if isinstance(tree, (int, float)):
        return float(tree)
    if isinstance(tree, list):
        return [_as_doubles(v) for v in tree]
    return {k: _as_doubles(v) for k, v in tree.items()}


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
def test_a_body_names_its_codec_and_any_reader_reads_it(codec: Any) -> None:
    body = encode_body(codec, sample(), MIB)
    assert body.startswith(f"{codec.id}/1\n".encode())
    assert decode_body(body) == sample()


def test_the_json_body_reads_like_the_schema_says() -> None:
    body = encode_body(JsonCodec(), sample(), MIB)
    assert orjson.loads(body.split(b"\n", 1)[1]) == {
        "schemaVersion": 1,
        "status": "STATUS_COMPLETED",
        "fingerprint": "ab" * 32,
        "fencingToken": 1795371424710845,
        "createdAtMs": 1700000000000,
        "completedAtMs": 1700000000123,
        "leaseDeadlineMs": 1700000030000,
        "result": {"value": {"charge": "ch_1", "amount": 1999}},
    }


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
def test_cached_errors_round_trip(codec: Any) -> None:
    record = sample(Status.FAILED)
    record.result = None
    assert decode_body(encode_body(codec, record, MIB)) == record


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
@pytest.mark.parametrize("method", ["zstd", "zlib"])
def test_large_records_are_compressed_and_read_back(
    codec: Any, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    zstd = framing.zstandard
    assert zstd is not None, "the dev extra installs zstandard"
    if method == "zlib":  # what a writer without the zstd extra does
        monkeypatch.setattr(framing, "zstandard", None)
    big = sample(result=[{"sku": f"SKU-{i}", "qty": i, "name": "widget " * 3} for i in range(800)])
    body = encode_body(codec, big, MIB)
    assert body.split(b"\n", 1)[0] == f"{codec.id}/1+{method}".encode()
    assert len(body) < COMPRESS_MIN_BYTES
    monkeypatch.setattr(framing, "zstandard", zstd)
    assert decode_body(body) == big


def test_a_zstd_record_without_zstandard_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = sample(result="y" * COMPRESS_MIN_BYTES)
    body = encode_body(JsonCodec(), big, MIB)
    monkeypatch.setattr(framing, "zstandard", None)
    with pytest.raises(RecordCorrupted, match=r"idemsdk\[zstd\]"):
        decode_body(body)


def test_a_result_over_the_limit_is_refused_before_anything_is_stored() -> None:
    with pytest.raises(ResultTooLarge, match="max_result_bytes is 100"):
        encode_body(JsonCodec(), sample(result="x" * 200), 100)


def test_newer_schemas_with_unknown_fields_are_still_read() -> None:
    document = orjson.loads(JsonCodec().encode(sample()))
    document["schemaVersion"] = 2
    document["someFutureField"] = {"x": 1}
    assert decode_body(b"json/2\n" + orjson.dumps(document)).result == sample().result
    proto = ProtobufCodec().encode(sample()) + b"\x98\x06\x07"  # field 99, varint 7
    assert decode_body(b"protobuf/2\n" + proto).result == sample().result


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        b"someone else's value",
        b'{"status": "ok"}',
        b"json/1",
        b"xml/1\n<record/>",
        b"json/one\n{}",
        b"json/1+lz4\n....",
        b"json/1+zlib\nnot zlib",
        b"json/1\n{not json",
        b"json/1\n[1, 2]",
        b'json/1\n{"status": "STATUS_COMPLETED"}',
        b'json/1\n{"schemaVersion": 1, "status": "STATUS_DONE", "fingerprint": "x"}',
        b"protobuf/1\n\xff\xff\xff\xff",
        # Well-formed JSON with a non-string where the schema has text.
        b'json/1\n{"schemaVersion": 1, "status": "STATUS_COMPLETED", "fingerprint": ['
        + b"1," * 63
        + b'1], "fencingToken": 1, "result": {"value": 1}}',
        b'json/1\n{"schemaVersion": 1, "status": "STATUS_FAILED", "fingerprint": "'
        + b"a" * 64
        + b'", "fencingToken": 1, "error": {"type": 5, "message": "m"}}',
        b'json/1\n{"schemaVersion": 1, "status": "STATUS_COMPLETED", "fingerprint": "'
        + b"a" * 64
        + b'", "fencingToken": 1, "result": {"value": 1}, "traceId": {}}',
        b"protobuf/1\n",
    ],
)
def test_foreign_garbage_and_truncated_values_are_record_corrupted(body: bytes | None) -> None:
    with pytest.raises(RecordCorrupted):
        decode_body(body)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.id)
def test_a_truncated_body_never_decodes_to_another_result(codec: Any) -> None:
    for compressed in (False, True):
        result = "x" * (COMPRESS_MIN_BYTES if compressed else 10)
        body = encode_body(codec, sample(result=result), MIB)
        for end in range(len(body)):
            try:
                record = decode_body(body[:end])
            except RecordCorrupted:
                continue
            assert record.result == result, f"a {end}-byte prefix gave another result"


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_EXPANDED_BYTES", MIB)  # the real limit is 256 MiB
    bomb = zlib.compress(b"0" * (2 * MIB), 9)
    with pytest.raises(RecordCorrupted, match="expands beyond"):
        decode_body(b"json/1+zlib\n" + bomb)
