"""The client side of idemsdk's HTTP support: keys on outgoing requests, and safe retries.

::

    import httpx
    from idemsdk.client import IdempotencyTransport, RetryPolicy

    client = httpx.Client(transport=IdempotencyTransport(retry=RetryPolicy(attempts=4)))

POST and PATCH requests get an ``Idempotency-Key`` (derived from the running idempotent
call's key inside one, so a retried parent sends the same keys again; random outside), an
``X-Request-ID`` and the W3C trace context; retries, off by default, resend them with the
same headers. httpx and requests are optional: ``IdempotencyTransport`` and
``AsyncIdempotencyTransport`` need the ``httpx`` extra, ``IdempotencyAdapter`` the
``requests`` extra, and are imported on first use. docs/client.md is the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._keys import key_for, new_key
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from ._httpx import AsyncIdempotencyTransport, IdempotencyTransport
    from ._requests import IdempotencyAdapter

__all__ = [
    "AsyncIdempotencyTransport",
    "IdempotencyAdapter",
    "IdempotencyTransport",
    "RetryPolicy",
    "key_for",
    "new_key",
]

# Each integration's module imports its HTTP library, so it is imported when first asked for:
# `import idemsdk.client` works with neither installed.
_LAZY = {
    "AsyncIdempotencyTransport": "._httpx",
    "IdempotencyAdapter": "._requests",
    "IdempotencyTransport": "._httpx",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
