"""Encodings of the stored record compared: size, encode and decode time, as ratios in one run.

    python -m benchmarks.serialization [--rounds N] [--budget-ms MS] [--out DIR] [--no-charts]

Three records (small, typical and large results) are encoded by stdlib ``json``, orjson,
msgpack (when installed), protobuf with the result as JSON bytes, protobuf with the result
as a ``google.protobuf.Value``, and idemsdk's two codecs. Every format starts from the same
field values and decodes back to Python values, so each row is a full round trip.

This machine class is noisy, so every figure is a median over interleaved rounds (each round
times every format on every record, in a rotating order) and every target is a ratio against
a baseline measured in the same round:

- ``JsonCodec`` encode + decode against bare orjson on the same record: ``orjson.dumps`` of
  the ``Record`` dataclass itself (orjson serializes dataclasses natively) and the
  ``Record`` rebuilt from ``orjson.loads`` with no checks, so both start and end with the
  same object (<= 1.2x);
- ``ProtobufCodec`` encode + decode against bare upb protobuf on the same message: the
  ``record_pb2.Record`` built from the same fields and serialized; parsed, and the
  ``Record`` rebuilt from its fields and its result's JSON bytes with no checks (<= 1.2x).

Both baselines thus do a codec's whole job, record in and record out, with the library
alone: what the ratios show is what idemsdk's mapping, checks and compatibility add.

The tables' reference, plain "orjson", is stricter than either: orjson on a document built
beforehand, decoded to a dict. Its gap to the codecs is what turning a ``Record`` into a
document and back costs, which no codec of ``Record`` objects avoids.

Writes ``serialization.md`` and one PNG per record (matplotlib, when installed) into
``--out`` (default ``docs/benchmarks``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import __version__ as protobuf_version
from google.protobuf import struct_pb2
from google.protobuf.internal import api_implementation

from idemsdk._codecs import JsonCodec, ProtobufCodec
from idemsdk._record import Record, Status
from idemsdk.v1 import record_pb2

BASELINE = "orjson"
ORJSON_RECORD = "orjson, Record dataclass"
IDEM_JSON = "idemsdk JsonCodec"
IDEM_PB = "idemsdk ProtobufCodec"
PB_BYTES = "protobuf, result as bytes"
PB_STRUCT = "protobuf, result as Struct"
#: (codec, its bare baseline, bound) for encode + decode.
TARGETS = ((IDEM_JSON, ORJSON_RECORD, 1.2), (IDEM_PB, PB_BYTES, 1.2))

# --- The records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fields:
    """The values of one completed record, in Python types: what every format encodes."""

    result: Any
    schema_version: int = 1
    fingerprint: str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    fencing_token: int = 1_834_567_890_123_456
    created_at_ms: int = 1_732_294_512_345
    completed_at_ms: int = 1_732_294_512_412
    lease_deadline_ms: int = 1_732_294_542_345
    trace_id: str = "4bf92f3577b34da6a3ce929d0e0e4736"
    span_id: str = "00f067aa0ba902b7"


def small_result() -> Any:
    """A bare acknowledgement."""
    return {"ok": True, "id": "ch_123"}


def typical_result() -> Any:
    """A payment-charge response: nested objects, a list, strings, ints and floats."""
    return {
        "id": "ch_3MmlLrLkdIwHu7ix0snN0B15",
        "object": "charge",
        "amount": 10492,
        "amount_captured": 10492,
        "currency": "eur",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
        "created": 1732294512,
        "customer": {"id": "cus_NffrFeUfNV2Hib", "email": "jane.doe@example.com"},
        "payment_method": {
            "type": "card",
            "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2027},
        },
        "items": [
            {"sku": "SKU-1001", "qty": 2, "price_cents": 1999},
            {"sku": "SKU-2002", "qty": 1, "price_cents": 4999},
            {"sku": "SKU-3003", "qty": 5, "price_cents": 299},
        ],
        "fee": {"rate": 0.014, "fixed_cents": 25, "total": 1.72},
        "tax_rate": 0.19,
        "failure_code": None,
        "metadata": {"order_id": "ord_8f14e45fceea167a"},
    }


def large_result() -> Any:
    """An invoice of 400 line items, about 64 KiB of JSON."""
    return {
        "invoice_id": "in_1NWhmA2eZvKYlo2C",
        "currency": "eur",
        "lines": [
            {
                "line": i,
                "sku": f"SKU-{i:05d}",
                "description": f"Stainless steel widget, {20 + i % 40} mm",
                "qty": i % 7 + 1,
                "unit_price": round(12.5 + i * 0.37, 2),
                "tax_rate": 0.19,
                "discounted": i % 5 == 0,
                "tags": ["hardware", "eu"],
            }
            for i in range(400)
        ],
    }


RESULTS: dict[str, Callable[[], Any]] = {
    "small": small_result,
    "typical": typical_result,
    "large": large_result,
}


def mapping_document(fields: Fields) -> dict[str, Any]:
    """The record under its protobuf JSON mapping names, as JsonCodec writes it."""
    return {
        "schemaVersion": fields.schema_version,
        "status": "STATUS_COMPLETED",
        "fingerprint": fields.fingerprint,
        "fencingToken": fields.fencing_token,  # 64-bit integers as numbers, as JsonCodec
        "createdAtMs": fields.created_at_ms,
        "completedAtMs": fields.completed_at_ms,
        "leaseDeadlineMs": fields.lease_deadline_ms,
        "result": {"value": fields.result},
        "traceId": fields.trace_id,
        "spanId": fields.span_id,
    }


def idemsdk_record(fields: Fields) -> Record:
    """The same record as idemsdk's dataclass."""
    return Record(
        status=Status.COMPLETED,
        fingerprint=fields.fingerprint,
        fencing_token=fields.fencing_token,
        created_at_ms=fields.created_at_ms,
        completed_at_ms=fields.completed_at_ms,
        lease_deadline_ms=fields.lease_deadline_ms,
        result=fields.result,
        trace_id=fields.trace_id,
        span_id=fields.span_id,
        schema_version=fields.schema_version,
    )


# --- The formats ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Format:
    """One way to store a record: encode its input to bytes, decode bytes to Python values."""

    name: str
    encode: Callable[[Any], bytes]
    source: Any  # what ``encode`` starts from
    decode: Callable[[bytes], Any]
    result_of: Callable[[Any], Any]  # the result tree inside what ``decode`` returned


def _document_result(document: Any) -> Any:
    return document["result"]["value"]


def _record_result(record: Any) -> Any:
    return record.result


def _json_encode(document: Any) -> bytes:
    # Compact, as orjson writes, so sizes compare; bytes, because stores keep bytes.
    return json.dumps(document, separators=(",", ":")).encode()


def _pb_message(fields: Fields) -> record_pb2.Record:
    """The message without its result, built the fastest way upb offers."""
    # Attribute by attribute: on upb that is about 1.5x faster than keyword arguments, and
    # the baseline should be the best a caller could do by hand.
    message = record_pb2.Record()
    message.schema_version = fields.schema_version
    message.status = record_pb2.STATUS_COMPLETED
    message.fingerprint = fields.fingerprint
    message.fencing_token = fields.fencing_token
    message.created_at_ms = fields.created_at_ms
    message.completed_at_ms = fields.completed_at_ms
    message.lease_deadline_ms = fields.lease_deadline_ms
    message.trace_id = fields.trace_id
    message.span_id = fields.span_id
    return message


def _pb_record(message: record_pb2.Record, result: Any) -> Record:
    """The Record back from a parsed message, as bare code would: every field read, no checks."""
    # Reading is not free on upb, which builds each field's Python value on access.
    return Record(
        message.status,  # type: ignore[arg-type]  # bare code keeps protobuf's number
        message.fingerprint,
        message.fencing_token,
        message.created_at_ms,
        message.completed_at_ms,
        message.lease_deadline_ms,
        result,
        "",
        "",
        message.trace_id,
        message.span_id,
        message.schema_version,
    )


def _pb_bytes_encode(fields: Fields) -> bytes:
    message = _pb_message(fields)
    message.result.json = orjson.dumps(fields.result)
    data: bytes = message.SerializeToString()  # annotated: protobuf may have no stubs
    return data


def _pb_bytes_decode(data: bytes) -> Record:
    # FromString alone leaves the result as JSON text: loading it is part of the round trip.
    message = record_pb2.Record.FromString(data)
    return _pb_record(message, orjson.loads(message.result.json))


def set_value(value: struct_pb2.Value, tree: dict[str, Any] | list[Any]) -> None:
    """Fill a protobuf Value with a JSON object or array (numbers become doubles)."""
    # Struct.update and ListValue.extend are the fastest public builders, ~2x ParseDict.
    if isinstance(tree, dict):
        value.struct_value.update(tree)
    else:
        value.list_value.extend(tree)


def from_value(value: struct_pb2.Value) -> Any:
    """A protobuf Value as Python values; ~1.5x faster than json_format.MessageToDict."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {key: from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    if kind == "null_value":
        return None
    return getattr(value, kind) if kind else None


def _pb_struct_encode(fields: Fields) -> bytes:
    message = _pb_message(fields)
    set_value(message.result.value, fields.result)
    data: bytes = message.SerializeToString()  # annotated: protobuf may have no stubs
    return data


def _pb_struct_decode(data: bytes) -> Record:
    message = record_pb2.Record.FromString(data)
    return _pb_record(message, from_value(message.result.value))


def _msgpack_format(document: dict[str, Any]) -> Format | None:
    try:
        # Imported by name: msgpack is optional and ships no type information.
        msgpack = importlib.import_module("msgpack")
    except ImportError:
        return None
    return Format("msgpack", msgpack.packb, document, msgpack.unpackb, _document_result)


def bare_formats(fields: Fields) -> list[Format]:
    """The libraries themselves, on the same fields."""
    document, record = mapping_document(fields), idemsdk_record(fields)
    formats = [
        Format("json (stdlib)", _json_encode, document, json.loads, _document_result),
        Format(BASELINE, orjson.dumps, document, orjson.loads, _document_result),
        Format(ORJSON_RECORD, orjson.dumps, record, _record_from_json, _record_result),
        Format(PB_BYTES, _pb_bytes_encode, fields, _pb_bytes_decode, _record_result),
        Format(PB_STRUCT, _pb_struct_encode, fields, _pb_struct_decode, _record_result),
    ]
    packed = _msgpack_format(document)
    return formats if packed is None else [*formats, packed]


def _record_from_json(data: bytes) -> Record:
    # The least a bare orjson user writes to get the Record back: no mapping, no checks.
    return Record(**orjson.loads(data))


def idemsdk_formats(fields: Fields) -> list[Format]:
    """idemsdk's codecs on the same record: the codec layer, without header or compression."""
    record = idemsdk_record(fields)
    json_codec, pb_codec = JsonCodec(), ProtobufCodec()
    return [
        Format(IDEM_JSON, json_codec.encode, record, json_codec.decode, _record_result),
        Format(IDEM_PB, pb_codec.encode, record, pb_codec.decode, _record_result),
    ]


#: Each idemsdk codec next to its baseline, then the alternatives.
ORDER = (
    BASELINE,
    ORJSON_RECORD,
    IDEM_JSON,
    PB_BYTES,
    IDEM_PB,
    PB_STRUCT,
    "msgpack",
    "json (stdlib)",
)


def all_formats(fields: Fields) -> list[Format]:
    """Every format, in the order of the tables and charts."""
    formats = [*bare_formats(fields), *idemsdk_formats(fields)]
    return sorted(formats, key=lambda fmt: ORDER.index(fmt.name))


def check_round_trip(fmt: Format, tree: Any) -> None:
    """Refuse to time a format that does not give the result back."""
    decoded = fmt.result_of(fmt.decode(fmt.encode(fmt.source)))
    if decoded != tree:  # Struct's doubles compare equal to the ints they came from
        raise AssertionError(f"{fmt.name} does not round-trip the result")


# --- Measuring -----------------------------------------------------------------------------

Key = tuple[str, str, str]  # (record, format, "encode" | "decode")
#: What the harness alone costs per call is measured with this in place of an operation: a
#: builtin called with one argument, like orjson.dumps(document).
_NOTHING: Callable[[Any], object] = id


@dataclass(frozen=True, slots=True)
class Job:
    """One timed operation: ``fn(arg)``, ``n`` calls per batch."""

    key: Key
    fn: Callable[[Any], object]
    arg: Any
    n: int


@dataclass(slots=True)
class Measured:
    """Encoded sizes, and seconds per call of every operation in every round."""

    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    result_sizes: dict[str, int] = field(default_factory=dict)  # the result alone, as JSON
    times: dict[Key, list[float]] = field(default_factory=dict)
    harness: float = 0.0  # seconds per call of the loop alone, already subtracted from times


def time_batch(fn: Callable[[Any], object], arg: Any, n: int) -> float:
    """Seconds per call over one batch of ``n`` calls."""
    began = time.perf_counter()
    for _ in range(n):
        fn(arg)
    return (time.perf_counter() - began) / n


def calls_per_batch(fn: Callable[[Any], object], arg: Any, budget_s: float) -> int:
    """How many calls make a batch of about ``budget_s`` (the first batches warm up too)."""
    n = 1
    while True:
        elapsed = time_batch(fn, arg, n) * n
        if elapsed >= budget_s / 8 or n >= 1 << 20:
            return max(1, round(n * budget_s / max(elapsed, 1e-9)))
        n *= 4


def calibrated_job(key: Key, fn: Callable[[Any], object], arg: Any, budget_s: float) -> Job:
    """A job whose batches take about ``budget_s``."""
    return Job(key, fn, arg, calls_per_batch(fn, arg, budget_s))


def jobs_for(record: str, fmt: Format, budget_s: float) -> tuple[Job, Job]:
    """The encode and decode jobs of one format on one record."""
    data = fmt.encode(fmt.source)
    return (
        calibrated_job((record, fmt.name, "encode"), fmt.encode, fmt.source, budget_s),
        calibrated_job((record, fmt.name, "decode"), fmt.decode, data, budget_s),
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """No collections inside a round, as in timeit: one format's garbage is not another's cost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_rounds(jobs: Sequence[Job], harness: Job, rounds: int) -> dict[Key, list[float]]:
    """Seconds per call of every job in every round; the round's order rotates each time."""
    samples: dict[Key, list[float]] = {job.key: [] for job in (*jobs, harness)}
    for number in range(rounds):
        # Rotating the order spreads warm-cache and neighbour effects over every format.
        shift = number % len(jobs)
        with gc_paused():
            for job in (*jobs[shift:], *jobs[:shift], harness):
                samples[job.key].append(time_batch(job.fn, job.arg, job.n))
        gc.collect()
    return samples


def prepare(records: dict[str, Fields], budget_s: float) -> tuple[Measured, list[Job]]:
    """Check every format on every record, note the sizes, and calibrate the jobs."""
    measured = Measured()
    jobs: list[Job] = []
    for record, fields in records.items():
        measured.result_sizes[record] = len(orjson.dumps(fields.result))
        for fmt in all_formats(fields):
            check_round_trip(fmt, fields.result)
            measured.sizes[record, fmt.name] = len(fmt.encode(fmt.source))
            jobs += jobs_for(record, fmt, budget_s)
    return measured, jobs


def measure(records: dict[str, Fields], rounds: int, budget_s: float) -> Measured:
    """Time every format on every record in interleaved rounds of one run."""
    measured, jobs = prepare(records, budget_s)
    harness = calibrated_job(("", "", "harness"), _NOTHING, None, budget_s)
    samples = run_rounds(jobs, harness, rounds)
    measured.harness = statistics.median(samples.pop(harness.key))
    # Times are the operations' own: the loop and the call every job pays alike come off,
    # which matters for ratios of sub-microsecond operations. 1 ns floors noise in tiny runs.
    measured.times = {
        key: [max(t - measured.harness, 1e-9) for t in values] for key, values in samples.items()
    }
    return measured


# --- Reporting -----------------------------------------------------------------------------

ENCODE_DECODE = ("encode", "decode")


@dataclass(frozen=True, slots=True)
class Row:
    """One format on one record: medians in µs, and ratios against orjson."""

    record: str
    fmt: str
    size: int
    encode_us: float
    decode_us: float
    size_ratio: float
    encode_ratio: float
    decode_ratio: float
    total_ratio: float  # encode + decode


def _summed(measured: Measured, record: str, fmt: str, ops: Sequence[str]) -> list[float]:
    """Per round, the time of ``ops`` added up."""
    per_op = [measured.times[record, fmt, op] for op in ops]
    return [sum(values) for values in zip(*per_op, strict=True)]


def paired_ratio(measured: Measured, record: str, fmt: str, base: str, ops: Sequence[str]) -> float:
    """The median over rounds of ``fmt``'s time over ``base``'s in the same round."""
    mine, theirs = _summed(measured, record, fmt, ops), _summed(measured, record, base, ops)
    return statistics.median(a / b for a, b in zip(mine, theirs, strict=True))


def _median_us(measured: Measured, record: str, fmt: str, op: str) -> float:
    return statistics.median(measured.times[record, fmt, op]) * 1e6


def rows(measured: Measured) -> list[Row]:
    """Every format on every record, in the order they were measured."""
    return [
        Row(
            record,
            fmt,
            size,
            _median_us(measured, record, fmt, "encode"),
            _median_us(measured, record, fmt, "decode"),
            size / measured.sizes[record, BASELINE],
            paired_ratio(measured, record, fmt, BASELINE, ("encode",)),
            paired_ratio(measured, record, fmt, BASELINE, ("decode",)),
            paired_ratio(measured, record, fmt, BASELINE, ENCODE_DECODE),
        )
        for (record, fmt), size in measured.sizes.items()
    ]


def records_of(measured: Measured) -> list[str]:
    """The record names, in measuring order."""
    return list(dict.fromkeys(record for record, _ in measured.sizes))


def target_lines(measured: Measured) -> list[str]:
    """The targets as a Markdown table: one ratio per record, marked ok or MISSED."""
    records = records_of(measured)
    lines = [
        f"| encode + decode, same rounds | bound | {' | '.join(records)} |",
        f"|---|---:|{'---:|' * len(records)}",
    ]
    for codec, base, bound in TARGETS:
        cells = []
        for record in records:
            ratio = paired_ratio(measured, record, codec, base, ENCODE_DECODE)
            cells.append(f"{ratio:.2f} {'ok' if ratio <= bound else 'MISSED'}")
        lines.append(f"| {codec} / {base} | <= {bound:g} | {' | '.join(cells)} |")
    return lines


def record_lines(record_rows: Sequence[Row]) -> list[str]:
    """One record's formats as a Markdown table."""
    lines = [
        (
            "| format | bytes | size / orjson | encode µs | / orjson | decode µs | / orjson"
            " | enc+dec / orjson |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.fmt} | {r.size} | {r.size_ratio:.2f} | {r.encode_us:.2f} | {r.encode_ratio:.2f} "
        f"| {r.decode_us:.2f} | {r.decode_ratio:.2f} | {r.total_ratio:.2f} |"
        for r in record_rows
    ]
    return lines


def environment() -> list[str]:
    """What produced the figures: they mean nothing outside this setting."""
    try:
        version = importlib.import_module("msgpack").version
        msgpack = f"msgpack {'.'.join(map(str, version))}"
    except ImportError:
        msgpack = "msgpack not installed"
    return [
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs",
        f"protobuf {protobuf_version}, backend {api_implementation.Type()}",
        f"orjson {orjson.__version__}, {msgpack}",
    ]


def report_lines(measured: Measured, rounds: int, charts: Sequence[Path]) -> list[str]:
    """The whole Markdown report: setting, targets, then one table (and chart) per record."""
    lines = [
        "# Serialization benchmark",
        "",
        "Written by `python -m benchmarks.serialization`; regenerate rather than edit.",
        "",
        *(f"- {line}" for line in environment()),
        (
            f"- {rounds} interleaved rounds; times are medians in µs per call, without the"
            f" loop's own {measured.harness * 1e9:.0f} ns; ratios are medians of per-round ratios"
        ),
        "",
        "## Targets",
        "",
        *target_lines(measured),
    ]
    all_rows = rows(measured)
    for record in records_of(measured):
        lines += ["", f"## {record} record: a {measured.result_sizes[record]} B result", ""]
        lines += record_lines([row for row in all_rows if row.record == record])
        chart = chart_name(record)
        lines += [f"\n![{record} record]({path.name})" for path in charts if path.name == chart]
    return lines


# --- Charts --------------------------------------------------------------------------------


def chart_name(record: str) -> str:
    """The file name of one record's chart."""
    return f"serialization-{record}.png"


_TARGET_BASELINES = frozenset(base for _, base, _ in TARGETS)


def _color(fmt: str) -> str:
    if fmt.startswith("idemsdk"):
        return "tab:blue"
    return "tab:orange" if fmt in _TARGET_BASELINES else "tab:gray"


def draw_chart(record_rows: Sequence[Row], path: Path) -> None:
    """Size, encode and decode of one record's formats, side by side as horizontal bars."""
    # matplotlib is optional (the bench extra); typed when installed, Any when not.
    from matplotlib import pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    from matplotlib.ticker import NullFormatter  # type: ignore[import-not-found, unused-ignore]

    names = [row.fmt for row in record_rows]
    colors = [_color(name) for name in names]
    panels = (
        ("encoded size (bytes)", [float(row.size) for row in record_rows], "{:.0f}", "linear"),
        # Log scales: Struct is tens of times slower than the rest, which would flatten them.
        ("encode (µs, median, log scale)", [row.encode_us for row in record_rows], "{:.2f}", "log"),
        ("decode (µs, median, log scale)", [row.decode_us for row in record_rows], "{:.2f}", "log"),
    )
    figure, axes = plt.subplots(1, 3, sharey=True, figsize=(14, 1.2 + 0.42 * len(names)))
    for axis, (title, values, label, scale) in zip(axes, panels, strict=True):
        axis.set_xscale(scale)
        axis.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
        bars = axis.barh(names, values, color=colors)
        axis.bar_label(bars, labels=[label.format(value) for value in values], padding=3)
        axis.set_title(title)
        axis.margins(x=0.3 if scale == "linear" else 0.6)  # room for the labels
    axes[0].invert_yaxis()  # first row on top, as in the table
    figure.suptitle(f"{record_rows[0].record} record (blue: idemsdk, orange: their baselines)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_charts(measured: Measured, out: Path) -> list[Path]:
    """One PNG per record; none, with a note, when matplotlib is not installed."""
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no charts")
        return []
    mpl.use("Agg")  # files only: no display needed
    all_rows = rows(measured)
    paths = []
    for record in records_of(measured):
        path = out / chart_name(record)
        draw_chart([row for row in all_rows if row.record == record], path)
        paths.append(path)
    return paths


# --- Command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Measure every format on every record, then print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=101, help="interleaved rounds (odd: a true median)"
    )
    parser.add_argument("--budget-ms", type=float, default=4.0, help="time per timed batch")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    args = parser.parse_args(argv)

    backend = api_implementation.Type()
    print(f"protobuf backend: {backend}")
    if backend != "upb":  # the protobuf figures and target describe upb, protobuf's default
        print("note: not upb; unset PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION to measure upb")
    records = {name: Fields(build()) for name, build in RESULTS.items()}
    measured = measure(records, args.rounds, args.budget_ms / 1000)
    args.out.mkdir(parents=True, exist_ok=True)
    charts = [] if args.no_charts else write_charts(measured, args.out)
    report = "\n".join(report_lines(measured, args.rounds, charts)) + "\n"
    print(report)
    (args.out / "serialization.md").write_text(report, encoding="utf-8")
    for path in (args.out / "serialization.md", *charts):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
