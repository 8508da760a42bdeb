"""The README tells the truth: its example runs and its two commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.redis


def test_readme_example_runs_against_redis(redis_url: str, prefix: str) -> None:
    text = README.read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert example is not None
    code = example.group(1).replace("redis://localhost:6379/0", redis_url)
    code = code.replace('tenant="shop"', f'tenant="shop", prefix="{prefix}"')
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["charges"] == ["ord-1"]
    client = redis.Redis.from_url(redis_url)
    assert len(list(client.scan_iter(f"{prefix}:shop:*"))) == 2  # the charge and the webhook
    client.close()


def test_readme_names_the_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install -e '.[dev]' && python -m idemsdk demo" in text
    assert "pip install -e '.[dev]' && pytest" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev]' && pytest" in ci
