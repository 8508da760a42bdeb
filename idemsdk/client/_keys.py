"""Idempotency keys a client sends: random ones, and the server's own deterministic format."""

from __future__ import annotations

import uuid

from idemsdk._keys import make_key

__all__ = ["key_for", "new_key"]


def new_key() -> str:
    """A random key (a UUIDv4 string, URL-safe): for a request nothing else identifies."""
    return str(uuid.uuid4())


def key_for(payload: object, *, tenant: str, scope: str) -> str:
    """The key an idemsdk server computes from ``payload``: ``make_key`` with its defaults.

    A client that sends this key and a server that derives its key from the body agree on
    it, so a retry of the same payload is a duplicate on both sides.
    """
    return make_key(payload, tenant=tenant, scope=scope)
