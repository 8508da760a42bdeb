"""Client keys, the public names, and ``import idemsdk.client`` without httpx or requests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

import idemsdk.client
from idemsdk import ConfigurationError, make_key
from idemsdk.client import IdempotencyTransport, key_for, new_key


def test_new_key_is_a_random_uuid4_string() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert str(uuid.UUID(key)) == key and uuid.UUID(key).version == 4


def test_key_for_is_the_servers_key_format() -> None:
    payload = {"order": "ord-1", "amount": 1250, "items": [{"sku": "A", "qty": 2}]}
    key = key_for(payload, tenant="shop", scope="charges")
    assert key == make_key(payload, tenant="shop", scope="charges")
    assert key.startswith("idem:shop:charges:") and len(key.rsplit(":", 1)[1]) == 64


def test_key_for_does_not_depend_on_dict_order() -> None:
    reordered = {"items": [{"qty": 2, "sku": "A"}], "amount": 1250.0, "order": "ord-1"}
    payload = {"order": "ord-1", "amount": 1250, "items": [{"sku": "A", "qty": 2}]}
    assert key_for(reordered, tenant="shop", scope="charges") == key_for(
        payload, tenant="shop", scope="charges"
    )
    assert key_for({**payload, "amount": 1251}, tenant="shop", scope="charges") != key_for(
        payload, tenant="shop", scope="charges"
    )


def test_the_public_names_are_curated_and_sorted() -> None:
    assert idemsdk.client.__all__ == [
        "AsyncIdempotencyTransport",
        "IdempotencyAdapter",
        "IdempotencyTransport",
        "RetryPolicy",
        "key_for",
        "new_key",
    ]
    for name in idemsdk.client.__all__:
        assert getattr(idemsdk.client, name).__doc__
    assert set(idemsdk.client.__all__) <= set(dir(idemsdk.client))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = idemsdk.client.Nope


@pytest.mark.parametrize("methods", ["POST", [""], [7]])
def test_methods_must_be_an_iterable_of_names(methods: object) -> None:
    with pytest.raises(ConfigurationError, match="method names"):
        IdempotencyTransport(methods=methods)  # type: ignore[arg-type]


def test_retry_must_be_a_policy() -> None:
    with pytest.raises(ConfigurationError, match="RetryPolicy"):
        IdempotencyTransport(retry=3)  # type: ignore[arg-type]


def run_without(package: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing ``package`` fails."""
    script = f"import sys\nsys.modules[{package!r}] = None\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


def test_without_httpx_the_package_imports_and_the_transports_name_the_extra() -> None:
    result = run_without(
        "httpx",
        """
        import idemsdk.client
        from idemsdk.client import IdempotencyAdapter, RetryPolicy, key_for, new_key
        assert key_for({"a": 1}, tenant="t", scope="s").startswith("idem:t:s:")
        IdempotencyAdapter(retry=RetryPolicy())
        for name in ("IdempotencyTransport", "AsyncIdempotencyTransport"):
            try:
                getattr(idemsdk.client, name)
            except ImportError as exc:
                print(exc)
            else:
                raise SystemExit(f"{name} imported without httpx")
        """,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "pip install 'idemsdk[httpx]'" in line
        assert "IdempotencyTransport" in line


def test_without_requests_the_adapter_names_the_extra() -> None:
    result = run_without(
        "requests",
        """
        from idemsdk.client import IdempotencyTransport
        IdempotencyTransport()
        from idemsdk.client import IdempotencyAdapter
        """,
    )
    assert result.returncode == 1
    assert "ImportError: IdempotencyAdapter needs requests: pip install 'idemsdk[requests]'" in (
        result.stderr
    )
