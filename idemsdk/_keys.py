"""Idempotency keys: ``prefix:tenant:scope:digest``, where digest is BLAKE3 of canonical JSON.

The format is a cross-language contract, written down in docs/keys.md with test vectors.
Everything here is pure; the namespace checks are cached because they run on every call.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import blake3

from idemsdk._canonical import canonicalize
from idemsdk._errors import ConfigurationError, InvalidKey

__all__ = [
    "check_prefix",
    "check_scope",
    "check_secret",
    "check_tenant",
    "default_scope",
    "digest",
    "make_key",
]

TENANT_MAX = 64
SCOPE_MAX = 128
PREFIX_MAX = 64
SECRET_SIZE = 32

# ":" separates the four parts, so no part may contain it; the rest is what is safe in Redis
# key patterns, log lines and URLs without quoting.
_ALPHABET = re.compile(r"[A-Za-z0-9._-]+")
_NOT_ALPHABET = re.compile(r"[^A-Za-z0-9._-]")
_ALPHABET_TEXT = "ASCII letters, digits, '.', '_' and '-'"

# Successful validations, so the hot path is one dict lookup. Cleared when full: callers use
# a handful of tenants and scopes, but tenants may come from requests, and memory must not
# grow with them.
_CACHE_SIZE = 1024
_valid: dict[tuple[str, str], str] = {}
# prefix -> tenant -> scope -> "prefix:tenant:scope:". Nested rather than keyed by a tuple:
# three lookups of existing strings beat building and hashing a tuple on every call.
_heads: dict[str, dict[str, dict[str, str]]] = {}
_head_count = 0

_blake3 = blake3.blake3


def make_key(
    payload: object,
    *,
    tenant: str,
    scope: str,
    prefix: str = "idem",
    secret: bytes | None = None,
) -> str:
    """Return ``f"{prefix}:{tenant}:{scope}:{digest}"`` for the canonical JSON of ``payload``."""
    try:
        head = _heads[prefix][tenant][scope]
    except (KeyError, TypeError):  # TypeError: an unhashable "tenant" that _check refuses
        head = _head(prefix, tenant, scope)
    if secret is None:
        # digest().hex() is ~150 ns faster than hexdigest() (blake3 1.0); same text.
        return head + _blake3(canonicalize(payload)).digest().hex()
    return head + digest(canonicalize(payload), secret)


def check_secret(secret: bytes | None) -> bytes | None:
    """Return ``secret`` if it is None or exactly 32 bytes, else raise ConfigurationError."""
    if secret is not None and (type(secret) is not bytes or len(secret) != SECRET_SIZE):
        raise ConfigurationError(_secret_problem(secret))
    return secret


def digest(canonical: bytes, secret: bytes | None = None) -> str:
    """Lowercase hex BLAKE3 of ``canonical`` (32 bytes), keyed by ``secret`` when one is given."""
    if secret is None:
        return _blake3(canonical).digest().hex()
    if type(secret) is not bytes or len(secret) != SECRET_SIZE:
        raise ConfigurationError(_secret_problem(secret))
    return _blake3(canonical, key=secret).digest().hex()


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is 1-64 characters of the key alphabet, else raise InvalidKey."""
    return _check("tenant", tenant, TENANT_MAX)


def check_scope(scope: str) -> str:
    """Return ``scope`` if it is 1-128 characters of the key alphabet, else raise InvalidKey."""
    return _check("scope", scope, SCOPE_MAX)


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is 1-64 characters of the key alphabet, else raise InvalidKey."""
    return _check("prefix", prefix, PREFIX_MAX)


def default_scope(func: Callable[..., object]) -> str:
    """``module.qualname`` of ``func`` without ``<locals>``, mapped into the key alphabet."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        # functools.partial and callable instances have no name of their own; inventing one
        # (say, the type's name) would give unrelated functions the same scope.
        raise ConfigurationError(
            f"cannot derive a scope from {type(func).__qualname__!r} objects; pass scope="
        )
    # A closure's scope must not depend on where its factory was called, and "<locals>"
    # carries no information: drop it rather than keep "_locals_" in every nested name.
    parts = [part for part in f"{module}.{qualname}".split(".") if part != "<locals>"]
    name = _NOT_ALPHABET.sub("_", ".".join(parts))
    if len(name) > SCOPE_MAX:
        # Keep a readable head and make the tail unique: 111 + "-" + 16 hex digits = 128.
        tail = _blake3(name.encode("ascii")).hexdigest()[:16]
        name = f"{name[: SCOPE_MAX - 17]}-{tail}"
    return name


def _head(prefix: str, tenant: str, scope: str) -> str:
    """Validate the three namespace parts and cache ``"prefix:tenant:scope:"``."""
    global _head_count
    head = f"{check_prefix(prefix)}:{check_tenant(tenant)}:{check_scope(scope)}:"
    if _head_count >= _CACHE_SIZE:
        _heads.clear()
        _head_count = 0
    _heads.setdefault(prefix, {}).setdefault(tenant, {})[scope] = head
    _head_count += 1
    return head


def _check(field: str, value: str, limit: int) -> str:
    """Return ``value`` as a plain str if it is 1-``limit`` characters of the alphabet."""
    try:
        return _valid[field, value]
    except (KeyError, TypeError):  # TypeError: unhashable, so not a str; refused below
        pass
    if not isinstance(value, str):
        raise InvalidKey(f"{field} must be a str, not {type(value).__qualname__}")
    text = str.__str__(value)  # a subclass's __str__/__format__ must not change the key
    if not text:
        raise InvalidKey(f"{field} must not be empty")
    if len(text) > limit:
        raise InvalidKey(f"{field} {_shown(text)} is {len(text)} characters; the limit is {limit}")
    if _ALPHABET.fullmatch(text) is None:
        bad = _NOT_ALPHABET.search(text)
        assert bad is not None
        char = bad.group()
        raise InvalidKey(
            f"{field} {_shown(text)} contains {char!r} (U+{ord(char):04X}) at index {bad.start()};"
            f" allowed are {_ALPHABET_TEXT}"
        )
    if len(_valid) >= _CACHE_SIZE:
        _valid.clear()
    _valid[(field, text)] = text
    return text


def _shown(value: str, limit: int = 40) -> str:
    """``repr`` of ``value``, cut to ``limit`` characters: messages end up in logs."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}..."


def _secret_problem(secret: object) -> str:
    # Never show the secret itself, only what is wrong with its shape.
    if not isinstance(secret, bytes):
        return f"secret must be bytes (32 of them), not {type(secret).__qualname__}"
    return f"secret must be exactly {SECRET_SIZE} bytes (a BLAKE3 key), not {len(secret)}"
