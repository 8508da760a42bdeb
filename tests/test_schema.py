"""The committed generated module matches proto/idemsdk/v1/record.proto, and the schema holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from idemsdk.v1 import record_pb2

ROOT = Path(__file__).resolve().parents[1]
PROTO = "proto/idemsdk/v1/record.proto"


def test_committed_module_is_what_the_proto_generates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iproto",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            PROTO,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    for name in ("record_pb2.py", "record_pb2.pyi"):
        fresh = (tmp_path / "idemsdk" / "v1" / name).read_bytes()
        committed = (ROOT / "idemsdk" / "v1" / name).read_bytes()
        assert fresh == committed, (
            f"idemsdk/v1/{name} is out of date with {PROTO}; regenerate it "
            "(see docs/serialization.md)"
        )


@pytest.mark.parametrize(
    ("message", "numbers"),
    [
        (
            record_pb2.Record,
            {
                "schema_version": 1,
                "status": 2,
                "fingerprint": 3,
                "fencing_token": 4,
                "created_at_ms": 5,
                "completed_at_ms": 6,
                "lease_deadline_ms": 7,
                "result": 8,
                "error": 9,
                "trace_id": 10,
                "span_id": 11,
            },
        ),
        (record_pb2.Result, {"json": 1, "value": 2}),
        (record_pb2.CachedError, {"type": 1, "message": 2}),
    ],
)
def test_field_numbers_never_change(message: type, numbers: dict[str, int]) -> None:
    fields = {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]
    assert fields == numbers, "field numbers are never reused or renumbered; reserve removed ones"


def test_status_numbers_never_change() -> None:
    assert dict(record_pb2.Status.items()) == {
        "STATUS_UNSPECIFIED": 0,
        "STATUS_IN_PROGRESS": 1,
        "STATUS_COMPLETED": 2,
        "STATUS_FAILED": 3,
    }


def test_a_record_round_trips_and_ignores_unknown_fields() -> None:
    record = record_pb2.Record(
        schema_version=1,
        status=record_pb2.STATUS_COMPLETED,
        fingerprint="ab" * 32,
        fencing_token=2**60,
        created_at_ms=1,
        completed_at_ms=2,
        result=record_pb2.Result(json=b'{"ok":true}'),
    )
    data = record.SerializeToString()
    # Field 99, varint 7: what a newer schema could add.
    newer = data + b"\x98\x06\x07"
    parsed = record_pb2.Record.FromString(newer)
    assert parsed.result.json == b'{"ok":true}'
    assert parsed.fencing_token == 2**60
