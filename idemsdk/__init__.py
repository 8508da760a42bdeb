"""idemsdk: make any Python function safe to retry.

The first call with a key runs and its result is stored; every duplicate, from any thread,
process or machine, gets the stored result back without running again.
"""

from ._breaker import CircuitBreaker
from ._canonical import canonicalize
from ._codecs import Codec, JsonCodec, ProtobufCodec
from ._errors import (
    CanonicalizationError,
    ConfigurationError,
    IdempotencyError,
    InvalidKey,
    LeaseLost,
    NotReplicated,
    PayloadMismatch,
    RecordCorrupted,
    ReplayedErrorUnavailable,
    RequestInProgress,
    ResultTooLarge,
    SerializationError,
    StoreError,
    StoreUnavailable,
)
from ._idempotency import (
    Idempotency,
    IdempotentFunction,
    IdempotentSettings,
    configure,
    idempotent,
)
from ._keys import make_key
from ._memory import MemoryStore
from ._propagation import current_key, derive_key
from ._record import ClaimResult, Record, Status
from ._redis import AsyncRedisStore, RedisStore
from ._store import AsyncStore, ReplicatedStore, Store
from ._version import __version__

__all__ = [
    "AsyncRedisStore",
    "AsyncStore",
    "CanonicalizationError",
    "CircuitBreaker",
    "ClaimResult",
    "Codec",
    "ConfigurationError",
    "Idempotency",
    "IdempotencyError",
    "IdempotentFunction",
    "IdempotentSettings",
    "InvalidKey",
    "JsonCodec",
    "LeaseLost",
    "MemoryStore",
    "NotReplicated",
    "PayloadMismatch",
    "ProtobufCodec",
    "Record",
    "RecordCorrupted",
    "RedisStore",
    "ReplayedErrorUnavailable",
    "ReplicatedStore",
    "RequestInProgress",
    "ResultTooLarge",
    "SerializationError",
    "Status",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "__version__",
    "canonicalize",
    "configure",
    "current_key",
    "derive_key",
    "idempotent",
    "make_key",
]
