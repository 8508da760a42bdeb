"""Every error idemsdk raises, under one root.

::

    IdempotencyError                 root; carries tenant, scope and key digest
    ├── InvalidKey                   (also ValueError) a bad tenant, scope, prefix or key path
    ├── CanonicalizationError        (also TypeError) a payload value with no canonical JSON form
    ├── ConfigurationError           (also ValueError) a setting that cannot work
    ├── SerializationError           (also TypeError) a result the codec cannot encode
    │   └── ResultTooLarge           the encoded result exceeds max_result_bytes
    ├── RequestInProgress            the first call with this key is still running (HTTP 409)
    ├── PayloadMismatch              the key was used before with another payload (HTTP 422)
    ├── LeaseLost                    another caller took over this call's claim
    ├── ReplayedErrorUnavailable     a cached error whose type is no longer in cache_errors
    └── StoreError                   the store failed
        ├── StoreUnavailable         the store could not be reached; the function did not run
        │   └── NotReplicated        too few replicas acknowledged a claim or a result in time
        └── RecordCorrupted          the stored value is not a record this code can read

Errors never carry the payload, only its digest: payloads hold card numbers and addresses,
and exceptions end up in logs and error trackers.
"""

from __future__ import annotations

__all__ = [
    "CanonicalizationError",
    "ConfigurationError",
    "IdempotencyError",
    "InvalidKey",
    "LeaseLost",
    "NotReplicated",
    "PayloadMismatch",
    "RecordCorrupted",
    "ReplayedErrorUnavailable",
    "RequestInProgress",
    "ResultTooLarge",
    "SerializationError",
    "StoreError",
    "StoreUnavailable",
]


class IdempotencyError(Exception):
    """Root of every idemsdk error; carries the tenant, scope and key digest when known."""

    def __init__(
        self,
        message: str,
        *,
        tenant: str | None = None,
        scope: str | None = None,
        digest: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.tenant = tenant
        self.scope = scope
        self.digest = digest

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("tenant", self.tenant),
                ("scope", self.scope),
                ("key", self.digest),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message


class InvalidKey(IdempotencyError, ValueError):
    """A tenant, scope or prefix outside the allowed alphabet or length."""


class CanonicalizationError(IdempotencyError, TypeError):
    """A payload value that has no canonical JSON form; ``path`` names where it is."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ConfigurationError(IdempotencyError, ValueError):
    """A setting that cannot work, reported when it is made rather than on the first call."""


class SerializationError(IdempotencyError, TypeError):
    """A function result the codec cannot encode; the claim was released, nothing was stored."""


class ResultTooLarge(SerializationError):
    """The encoded result exceeds ``max_result_bytes``; the claim was released."""


class RequestInProgress(IdempotencyError):
    """The first call with this key is still running; retry after ``retry_after`` seconds.

    ``lease_remaining`` is how long its owner may still run before another caller can take
    over (seconds); ``retry_after`` is that, capped at one second: most calls finish long
    before their lease ends, and a retry that comes early costs one round trip.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float = 1.0,
        lease_remaining: float | None = None,
        tenant: str | None = None,
        scope: str | None = None,
        digest: str | None = None,
    ) -> None:
        super().__init__(message, tenant=tenant, scope=scope, digest=digest)
        self.retry_after = retry_after
        self.lease_remaining = retry_after if lease_remaining is None else lease_remaining


class PayloadMismatch(IdempotencyError):
    """The key was first used with another payload; nothing ran."""


class LeaseLost(IdempotencyError):
    """This call's lease ran out and another caller took over; its result was not stored."""


class ReplayedErrorUnavailable(IdempotencyError):
    """A cached error was found, but its type is not among the function's ``cache_errors``."""


class StoreError(IdempotencyError):
    """The store failed."""


class StoreUnavailable(StoreError):
    """The store could not be reached."""


class RecordCorrupted(StoreError):
    """The value under the key is not an idemsdk record this code can read."""


class NotReplicated(StoreUnavailable):
    """Fewer replicas than ``wait_replicas`` acknowledged a write within ``wait_timeout``.

    For a claim, the claim was released and the function did not run. For a completion, the
    function ran and its result is on the primary, but a failover before the replicas catch
    up may lose it, and a retry would then run the function again. ``acknowledged`` is how
    many replicas did, ``wanted`` how many were asked for.
    """

    def __init__(
        self,
        message: str,
        *,
        acknowledged: int,
        wanted: int,
        tenant: str | None = None,
        scope: str | None = None,
        digest: str | None = None,
    ) -> None:
        super().__init__(message, tenant=tenant, scope=scope, digest=digest)
        self.acknowledged = acknowledged
        self.wanted = wanted
