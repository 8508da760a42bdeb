"""What a guarded request carries before its first send: pure, shared by every driver.

The decision for one request, made once so that every retry sends the same headers:

* ``Idempotency-Key``: kept if the caller set one; else, for the guarded methods (POST and
  PATCH by default) or a request given a label, a key derived from the running idempotent
  call's (:func:`idemsdk.derive_key`), or a random one outside such a call.
* ``X-Request-ID``: kept, else a random UUIDv4; on every request, keyed or not.
* W3C trace context (``traceparent``, ``tracestate``, and baggage): injected through the
  global OpenTelemetry propagator when the caller set no ``traceparent``; with no span
  current it injects nothing.

and whether the retry policy may resend it: a request with a key may be resent (the server
deduplicates it), and so may the methods RFC 9110 calls idempotent; any other may not.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import NamedTuple

from opentelemetry import propagate

from idemsdk._errors import ConfigurationError
from idemsdk._propagation import derive_key

from ._keys import new_key
from ._retry import ONCE, RetryPolicy

__all__ = [
    "DEFAULT_METHODS",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENT_METHODS",
    "LABEL",
    "REQUEST_ID",
    "Guard",
    "Outgoing",
]

IDEMPOTENCY_KEY = "Idempotency-Key"
REQUEST_ID = "X-Request-ID"
TRACEPARENT = "traceparent"
#: The httpx request extension that labels a request's derived key.
LABEL = "idempotency_label"

DEFAULT_METHODS = ("POST", "PATCH")
# RFC 9110 section 9.2.2: sending these twice has the effect of sending them once, so they
# may be retried without a key, as urllib3 does by default.
IDEMPOTENT_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"})


class Outgoing(NamedTuple):
    """The headers to add to a request, and the policy its sends follow."""

    headers: dict[str, str]
    policy: RetryPolicy


def _methods(methods: Iterable[str]) -> frozenset[str]:
    """The method names, upper-cased; ConfigurationError for anything else."""
    # A bare "POST" would iterate as "P", "O", "S", "T": refuse it rather than key nothing.
    names = None if isinstance(methods, str) else tuple(methods)
    if names is None or not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(
            f"methods must be an iterable of method names like ('POST',), not {methods!r}"
        )
    return frozenset(name.upper() for name in names)


class Guard:
    """One transport's or adapter's settings: which methods get keys, and the retry policy."""

    __slots__ = ("methods", "retry")

    def __init__(self, methods: Iterable[str], retry: RetryPolicy | None) -> None:
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy or None, not {retry!r}")
        self.methods = _methods(methods)
        self.retry = ONCE if retry is None else retry

    def __repr__(self) -> str:
        return f"Guard(methods={sorted(self.methods)!r}, retry={self.retry!r})"

    def outgoing(
        self, method: str, headers: Container[str], label: str | None, replayable: bool
    ) -> Outgoing:
        """What to add to a request with these (case-insensitive) ``headers``, and its policy.

        ``replayable``: the driver can send the body again (it is held in memory); a
        streamed body is sent once whatever the method.
        """
        added: dict[str, str] = {}
        method = method.upper()
        if IDEMPOTENCY_KEY in headers:
            resendable = True
        elif label is not None or method in self.methods:
            # Derived once per request, here: a retry must not take the next counted key.
            added[IDEMPOTENCY_KEY] = derive_key(label) or new_key()
            resendable = True
        else:
            resendable = method in IDEMPOTENT_METHODS
        if REQUEST_ID not in headers:
            added[REQUEST_ID] = new_key()
        if TRACEPARENT not in headers:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            added.update((name, value) for name, value in carrier.items() if name not in headers)
        return Outgoing(added, self.retry if resendable and replayable else ONCE)
