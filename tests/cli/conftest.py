"""Running the command line in-process (``main`` with captured output) and as a subprocess.

Doctor's specific findings are asserted on private servers started with the settings under
test (``start_redis``): the shared server's configuration is not ours to assume or change.
The session's cluster is only read; tests that change a cluster or a Sentinel setup use
their own (``sentinel_of``, ``cluster_of``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from idemsdk.__main__ import main
from idemsdk.testing import RedisServer

from ..conftest import unavailable


@dataclass(frozen=True)
class Outcome:
    """What one run of the command line did."""

    status: int
    out: str
    err: str

    def line(self, check: str) -> str:
        """The doctor output line of ``check``."""
        found = [line for line in self.out.splitlines() if line.split()[1:2] == [check]]
        assert len(found) == 1, self.out
        return found[0]

    def level(self, check: str) -> str:
        """The level doctor gave ``check``: OK, WARN, UNKNOWN or FAIL."""
        return self.line(check).split()[0]

    def headings(self) -> list[str]:
        """Doctor's section headings (a cluster's nodes, the sentinels), in order."""
        return [line for line in self.out.splitlines()[1:-1] if not line.startswith("  ")]

    def section(self, heading: str) -> Outcome:
        """The findings under the one heading that starts with ``heading``, on their own."""
        found = [name for name in self.headings() if name.startswith(heading)]
        assert len(found) == 1, self.out
        lines = self.out.splitlines()
        start = lines.index(found[0]) + 1
        end = start
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        return Outcome(self.status, "".join(f"{line}\n" for line in lines[start:end]), self.err)


Cli = Callable[..., Outcome]
StartRedis = Callable[..., RedisServer]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli(*argv, stdin=b"...")``: run ``main(argv)`` in this process."""

    def run(*argv: str, stdin: bytes = b"") -> Outcome:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        status = main(list(argv))
        out, err = capsys.readouterr()
        # Expected failures are reported, never raised: no traceback whatever the status.
        assert "Traceback" not in err
        return Outcome(status, out, err)

    return run


def run_module(*argv: str, stdin: bytes = b"") -> Outcome:
    """Run ``python -m idemsdk`` as a real process."""
    done = subprocess.run(
        [sys.executable, "-m", "idemsdk", *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode()
    assert "Traceback" not in err
    return Outcome(done.returncode, done.stdout.decode(), err)


@pytest.fixture
def start_redis() -> Iterator[StartRedis]:
    """``start_redis(*options)``: a private redis-server with those options, stopped after."""
    binary = shutil.which("redis-server")
    started: list[RedisServer] = []

    def start(*options: str) -> RedisServer:
        if binary is None:
            unavailable("redis-server is not installed")
        server = RedisServer(*options, binary=binary)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    """Poll ``condition`` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
