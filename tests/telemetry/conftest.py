"""The telemetry tests' fixtures: an in-memory OpenTelemetry SDK, and the stores to run on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .otel import Backend, Otel, backends, make_backend


@pytest.fixture
def otel() -> Iterator[Otel]:
    """An SDK tracer and meter provider, in memory."""
    found = Otel()
    yield found
    found.shutdown()


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest, prefix: str) -> Iterator[Backend]:
    """MemoryStore or a real Redis."""
    yield from make_backend(request)
