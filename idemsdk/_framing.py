"""The stored body: a one-line header, then a codec's bytes, compressed when large.

    <codec id>/<schema version>[+<compression>]\\n<encoded record>

The header names the codec, so any instance reads any record whatever codec it is
configured to write (a rolling deploy that switches codec loses nothing), and the
compression, so a reader decompresses with what the writer used.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any

from ._codecs import Codec, codec_named
from ._errors import RecordCorrupted, ResultTooLarge
from ._record import SCHEMA_VERSION, Record

try:  # the optional `zstd` extra; imported by name so type checks pass with or without it
    zstandard: Any = importlib.import_module("zstandard")
except ImportError:
    zstandard = None

__all__ = ["COMPRESS_MIN_BYTES", "decode_body", "encode_body"]

#: Encoded records at least this large are compressed: below it, the CPU is not worth it.
COMPRESS_MIN_BYTES = 16 * 1024
#: The most a stored body may expand to. A tampered store must not make a reader allocate
#: without bound; no record a writer accepts (see ``max_result_bytes``) comes near it.
MAX_EXPANDED_BYTES = 256 * 1024 * 1024
_MAX_HEADER = 64


def _inflate_zlib(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_EXPANDED_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise RecordCorrupted("the zlib body is truncated or expands beyond its limit")
    return out


def _inflate_zstd(data: bytes) -> bytes:
    if zstandard is None:
        raise RecordCorrupted(
            "the record is zstd-compressed but zstandard is not installed: "
            "pip install 'idemsdk[zstd]'"
        )
    out: bytes = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_EXPANDED_BYTES)
    return out


_INFLATE: dict[str, Callable[[bytes], bytes]] = {"zlib": _inflate_zlib, "zstd": _inflate_zstd}
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, ValueError) + (
    (zstandard.ZstdError,) if zstandard is not None else ()
)


def _compress(data: bytes) -> tuple[str, bytes]:
    if zstandard is not None:
        return "zstd", zstandard.ZstdCompressor(level=3).compress(data)
    return "zlib", zlib.compress(data, 6)


def encode_body(codec: Codec, record: Record, max_bytes: int) -> bytes:
    """Header and encoded record; ResultTooLarge when the encoding exceeds ``max_bytes``."""
    data = codec.encode(record)
    if len(data) > max_bytes:
        raise ResultTooLarge(
            f"the encoded result is {len(data)} bytes; max_result_bytes is {max_bytes}"
        )
    if len(data) < COMPRESS_MIN_BYTES:
        return f"{codec.id}/{SCHEMA_VERSION}\n".encode() + data
    method, packed = _compress(data)
    return f"{codec.id}/{SCHEMA_VERSION}+{method}\n".encode() + packed


#: Headers already read, to their codec and compression: a replay does one dict lookup.
#: Only headers that parsed are kept, and there are few (codecs x versions x compressions).
_HEADERS: dict[bytes, tuple[Codec, str]] = {}


def _parse_header(header: bytes) -> tuple[Codec, str]:
    name, slash, version = header.decode("ascii", "replace").partition("/")
    version, _, method = version.partition("+")
    if not slash or not version.isdigit():
        raise RecordCorrupted("the value has no idemsdk record header")
    codec = codec_named(name)
    if codec is None:
        raise RecordCorrupted(f"the record was written by unknown codec {name!r}")
    if method and method not in _INFLATE:
        raise RecordCorrupted(f"the record uses unknown compression {method!r}")
    if len(_HEADERS) < 64:
        _HEADERS[header] = (codec, method)
    return codec, method


def decode_body(body: bytes | None) -> Record:
    """Read a stored body with whatever codec and compression its header names."""
    if body is None:
        raise RecordCorrupted("the completed record has no body")
    end = body.find(b"\n", 0, _MAX_HEADER)
    if end <= 0:
        raise RecordCorrupted("the value has no idemsdk record header")
    header = body[:end]
    codec, method = _HEADERS.get(header) or _parse_header(header)
    data = body[end + 1 :]
    if method:
        try:
            data = _INFLATE[method](data)
        except _INFLATE_ERRORS as exc:
            raise RecordCorrupted(f"the {method} body cannot be decompressed: {exc}") from exc
    return codec.decode(data)
