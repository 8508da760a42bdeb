"""The client tests' fixtures: a scripted loopback server, and clients on each integration."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest

from idemsdk.client import RetryPolicy

from .drivers import DEFAULT_METHODS, DRIVERS, Driver, make_driver
from .server import ScriptedServer

Connect = Callable[..., Driver]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A real HTTP server on a loopback port, answering from its script."""
    with ScriptedServer() as running:
        yield running


@pytest.fixture(params=sorted(DRIVERS))
def connect(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """Makes clients on one integration (each in turn); closes them after the test."""
    made: list[Driver] = []

    def make(methods: Iterable[str] = DEFAULT_METHODS, retry: RetryPolicy | None = None) -> Driver:
        driver = make_driver(request.param, methods, retry)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()
