"""Inspect's reading and rendering of a key, pure: built from raw replies, no server."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idemsdk import JsonCodec, ProtobufCodec, Record, RecordCorrupted, Status
from idemsdk._cli._errors import KeyNotFound
from idemsdk._cli._render import render_json, render_text
from idemsdk._cli._times import duration, utc
from idemsdk._cli._view import Snapshot, next_call, read_record
from idemsdk._codecs import Codec
from idemsdk._framing import encode_body

JSON = JsonCodec()
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FP = "f" * 64


def snapshot(fields: dict[bytes, bytes], kind: str = "hash", pttl_ms: int = 60_000) -> Snapshot:
    """What the server would answer for ``fields`` at NOW."""
    return Snapshot("idem:t:s:abc", kind, pttl_ms, fields, NOW)


def stored(record: Record, codec: Codec = JSON) -> dict[bytes, bytes]:
    """The hash COMPLETE leaves for ``record``."""
    return {
        b"status": record.status.value.encode(),
        b"token": str(record.fencing_token).encode(),
        b"fp": record.fingerprint.encode(),
        b"created": str(NOW - 5000).encode(),
        b"done": str(NOW - 4000).encode(),
        b"body": encode_body(codec, record, 1 << 20),
    }


def completed(result: object = None) -> Record:
    """A completed record of FP holding ``result``."""
    value = {"charge": "ch_1"} if result is None else result
    return Record(Status.COMPLETED, FP, 42, NOW - 5000, NOW - 4000, NOW + 25_000, value)


def test_a_missing_key_is_key_not_found() -> None:
    with pytest.raises(KeyNotFound, match="no key 'idem:t:s:abc'"):
        read_record(snapshot({}, kind="none"))


@pytest.mark.parametrize("kind", ["string", "list", "set", "zset", "stream"])
def test_a_value_of_another_type_is_named(kind: str) -> None:
    with pytest.raises(RecordCorrupted, match=f"holds a Redis {kind}, not an idemsdk record"):
        read_record(snapshot({}, kind=kind))


def test_a_hash_without_the_record_fields_lists_what_it_has() -> None:
    with pytest.raises(
        RecordCorrupted, match=r"without idemsdk's token, fp \(its fields: a, status"
    ):
        read_record(snapshot({b"status": b"completed", b"a": b"1"}))


@pytest.mark.parametrize("codec", [JsonCodec(), ProtobufCodec()], ids=["json", "protobuf"])
def test_a_completed_record_is_decoded(codec: Codec) -> None:
    view = read_record(snapshot(stored(completed(), codec)))
    assert view.problem is None
    assert view.header == f"{codec.id}/1"
    assert view.record is not None
    assert view.record.result == {"charge": "ch_1"}
    assert view.result_json_bytes == len(b'{"charge":"ch_1"}')
    assert view.token == 42
    assert view.ttl_ms == 60_000
    assert next_call(view).startswith("a duplicate replays this result")


def test_a_large_result_shows_its_compression_and_both_sizes() -> None:
    view = read_record(snapshot(stored(completed({"blob": "x" * 50_000}))))
    assert view.header is not None
    assert view.header.startswith("json/1+")
    assert view.body_bytes is not None
    assert view.result_json_bytes is not None
    assert view.body_bytes < 1000 < 50_000 < view.result_json_bytes


def test_a_body_that_cannot_be_read_is_a_problem_not_a_crash() -> None:
    fields = stored(completed())
    fields[b"body"] = b"json/1\nnot json at all"
    view = read_record(snapshot(fields))
    assert view.problem is not None
    assert view.problem.startswith("the body cannot be read: the JSON record is malformed")
    assert "RecordCorrupted" in next_call(view)
    assert "problem      the body cannot be read" in render_text(view)
    assert json.loads(render_json(view))["problem"] == view.problem


def test_a_body_of_another_record_is_a_problem() -> None:
    fields = stored(completed())
    fields[b"fp"] = b"e" * 64
    view = read_record(snapshot(fields))
    assert view.problem is not None
    assert "belongs to another record" in view.problem


def test_unknown_status_and_unreadable_token_are_problems() -> None:
    odd = read_record(snapshot({b"status": b"paused", b"token": b"1", b"fp": FP.encode()}))
    assert odd.problem == "unknown status 'paused'"
    bad = read_record(snapshot({b"status": b"in_progress", b"token": b"x", b"fp": FP.encode()}))
    assert bad.problem == "the token is not a number"


@given(st.binary(max_size=300), st.sampled_from([b"", b"json/1\n", b"protobuf/1+zstd\n"]))
def test_no_body_makes_it_raise(garbage: bytes, header: bytes) -> None:
    fields = stored(completed())
    fields[b"body"] = header + garbage
    view = read_record(snapshot(fields))
    assert view.problem is not None or view.record is not None
    render_text(view)
    render_json(view)


def in_progress(lease_ms: int) -> dict[bytes, bytes]:
    """The hash CLAIM leaves, with a lease ending ``lease_ms`` after NOW."""
    return {
        b"status": b"in_progress",
        b"token": b"7",
        b"fp": FP.encode(),
        b"lease": str(NOW + lease_ms).encode(),
        b"created": str(NOW - 1000).encode(),
    }


def test_an_in_progress_record_shows_its_lease_by_the_server_clock() -> None:
    view = read_record(snapshot(in_progress(29_500)))
    text = render_text(view)
    assert "lease until  2026-01-01T00:00:29.500Z (in 29.5 s)" in text
    assert "created      2025-12-31T23:59:59.000Z (1.0 s ago)" in text
    assert "RequestInProgress" in next_call(view)
    document = json.loads(render_json(view))
    assert document["lease_deadline"] == {
        "ms": NOW + 29_500,
        "utc": "2026-01-01T00:00:29.500Z",
        "seconds_from_now": 29.5,
    }
    assert document["server_time"] == {"ms": NOW, "utc": "2026-01-01T00:00:00.000Z"}
    assert document["result"] is None
    assert document["body_bytes"] is None


def test_a_lapsed_lease_says_the_next_call_takes_over() -> None:
    view = read_record(snapshot(in_progress(-3000)))
    assert next_call(view).startswith("the lease lapsed 3.0 s ago: the next call")
    assert "(3.0 s ago)" in render_text(view)


def test_a_cached_error_is_shown_with_its_type() -> None:
    record = Record(Status.FAILED, FP, 9, NOW - 5000, NOW - 4000, 0, None, "shop.Declined", "no")
    view = read_record(snapshot(stored(record, ProtobufCodec())))
    assert view.problem is None
    assert "error        shop.Declined: no" in render_text(view)
    assert "re-raises shop.Declined" in next_call(view)
    document = json.loads(render_json(view))
    assert document["error"] == {"type": "shop.Declined", "message": "no"}
    assert document["result_json_bytes"] is None


def test_text_output_escapes_control_characters_from_the_store() -> None:
    record = Record(Status.FAILED, FP, 9, NOW, NOW, 0, None, "E", "\x1b[2Jwiped\nline")
    text = render_text(read_record(snapshot(stored(record))))
    assert "\x1b" not in text
    assert "E: \\x1b[2Jwiped\\nline" in text


def test_the_text_form_reads_like_ttl_and_hgetall_together() -> None:
    record = completed()
    record.trace_id, record.span_id = "1" * 32, "2" * 16
    text = render_text(read_record(snapshot(stored(record), pttl_ms=86_399_500)))
    assert text.splitlines() == [
        "key          idem:t:s:abc",
        "status       completed",
        "ttl          86399 s (23h59m)",
        "token        42",
        f"fingerprint  {FP}",
        "created      2025-12-31T23:59:55.000Z (5.0 s ago)",
        "done         2025-12-31T23:59:56.000Z (4.0 s ago)",
        "codec        json/1",
        f"body         {len(stored(record)[b'body'])} bytes stored; the result is 17 bytes of JSON",
        f"trace        {'1' * 32} span {'2' * 16}",
        (
            "next call    a duplicate replays this result; another payload with this key gets "
            "PayloadMismatch"
        ),
        "result:",
        "{",
        '  "charge": "ch_1"',
        "}",
    ]


def test_a_key_without_expiry_is_pointed_out() -> None:
    view = read_record(snapshot(stored(completed()), pttl_ms=-1))
    assert view.ttl_ms is None
    assert "ttl          none: the key never expires" in render_text(view)
    assert json.loads(render_json(view))["ttl_seconds"] is None


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 ms"),
        (850, "850 ms"),
        (12_345, "12.3 s"),
        (245_000, "4m05s"),
        (7_500_000, "2h05m"),
        (273_600_000, "3d04h"),
    ],
)
def test_durations(ms: int, text: str) -> None:
    assert duration(ms) == text


def test_utc_is_iso_with_milliseconds_and_z() -> None:
    assert utc(NOW + 250) == "2026-01-01T00:00:00.250Z"
