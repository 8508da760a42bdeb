"""docs/client.md tells the truth: every Python example runs against a real local server."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from .server import ScriptedServer

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "client.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_guide_has_its_examples() -> None:
    assert len(EXAMPLES) == 7


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_each_example_runs(server: ScriptedServer, index: int) -> None:
    code = EXAMPLES[index].replace("http://localhost:8000", server.url)
    namespace: dict[str, object] = {"__name__": f"client_md_{index}"}
    exec(compile(code, f"{GUIDE}:example {index}", "exec"), namespace)
    for seen in server.seen:
        # Every example guards its client: unsafe requests carry a key, all a request ID.
        assert seen.header("x-request-id") is not None
        if seen.method == "POST":
            key = seen.header("idempotency-key")
            assert key is not None and len(key) in (36, 64)  # a UUIDv4, or a derived key
            if len(key) == 36:
                assert uuid.UUID(key).version == 4
