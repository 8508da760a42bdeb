"""What the ASGI and WSGI middleware decide, written once and free of I/O.

A guarded request (an unsafe method, by default POST and PATCH) carrying an
``Idempotency-Key`` becomes a :class:`~idemsdk._engine.Call`: its key is the hash of the
tenant, method, route and the client's key (the raw client key is never a store key), its
fingerprint the canonical form of the body plus the selected headers. The engine then runs
the app once per key, exactly as it runs a decorated function, and the response is the
stored result. Everything that is not the app's own response is an RFC 9457 problem.

docs/http.md is the user's reference for every status code and header.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, TypeVar

import orjson

from .._canonical import canonicalize
from .._engine import Call, Policy
from .._errors import (
    ConfigurationError,
    IdempotencyError,
    InvalidKey,
    LeaseLost,
    PayloadMismatch,
    RequestInProgress,
    StoreUnavailable,
)
from .._idempotency import Idempotency, IdempotentSettings, make_policy
from .._keys import check_scope, check_tenant, digest
from .._results import ResultType

__all__ = [
    "HEADER",
    "BodyTooLarge",
    "Guard",
    "HttpRequest",
    "Middleware",
    "Reply",
    "StoredResponse",
    "Unstored",
    "problem",
]

HEADER: Final = "idempotency-key"
REPLAYED: Final = ("idempotent-replayed", "true")
NOT_STORED: Final = ("idempotency-stored", "false")
MAX_KEY_LENGTH: Final = 255
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
# Not stored with a response, so never replayed: they describe one connection (RFC 9110
# section 7.6.1), or hand one client's session to another.
_UNSTORED_HEADERS: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "set-cookie",
    }
)
PROBLEM_TYPE: Final = "urn:idemsdk:problem:"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What ``tenant_from`` and ``route_from`` see of a request, in ASGI and WSGI alike."""

    method: str
    path: str
    #: Lowercase header names; repeated headers joined with ", ".
    headers: Mapping[str, str]
    #: The ASGI scope or the WSGI environ, for what the fields above do not say.
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as the store keeps it: replayed byte for byte, headers in order."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A response the middleware sends itself: a replay, a stored first run, or a problem."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


class Unstored(Exception):
    """Raised from inside the run to release the claim: this response is not to be stored."""

    def __init__(self, response: StoredResponse | None) -> None:
        super().__init__("the response is not stored")
        #: The response, when the app completed one (a 5xx); None when it was passed through.
        self.response = response


class BodyTooLarge(Exception):
    """A request body over ``max_body_bytes``: it cannot be fingerprinted (413)."""


def problem(
    status: int, kind: str, title: str, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> Reply:
    """An ``application/problem+json`` reply (RFC 9457)."""
    body = orjson.dumps(
        {"type": PROBLEM_TYPE + kind, "title": title, "status": status, "detail": detail}
    )
    return Reply(
        status,
        [("content-type", "application/problem+json"), *headers],
        body,
    )


def client_key(value: str | None) -> str | None:
    """The key a client sent, unquoted; InvalidKey when it is malformed."""
    if value is None:
        return None
    # The draft's syntax is a Structured Field string ("..."); bare tokens are common too.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value:
        raise InvalidKey("the Idempotency-Key header is empty")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidKey(f"the Idempotency-Key header is over {MAX_KEY_LENGTH} characters")
    if not _VISIBLE_ASCII.fullmatch(value):
        raise InvalidKey("the Idempotency-Key header holds characters outside visible ASCII")
    return value


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _body_form(body: bytes, content_type: str) -> object:
    """The body as the fingerprint sees it: JSON canonically, anything else as its hash."""
    if _is_json(content_type):
        try:
            # Parsed, then canonicalized: whitespace and key order do not change a payload.
            return {"json": orjson.loads(body)}
        except orjson.JSONDecodeError:
            pass  # the app will refuse it; the bytes still identify it
    return {"bytes": digest(body)}


@dataclass(slots=True)
class Guard:
    """One middleware's settings, and the decisions it makes per request."""

    idempotency: Idempotency
    methods: frozenset[str] = frozenset({"POST", "PATCH"})
    required: bool = False
    fingerprint_headers: tuple[str, ...] = ()
    tenant_from: Callable[[HttpRequest], str] | None = None
    route_from: Callable[[HttpRequest], str] | None = None
    scope: str = "http"
    store_server_errors: bool = False
    max_body_bytes: int = 1 << 20
    policy: Policy = field(init=False)

    def __post_init__(self) -> None:
        self.methods = frozenset(method.upper() for method in self.methods)
        self.fingerprint_headers = tuple(name.lower() for name in self.fingerprint_headers)
        self.scope = check_scope(self.scope)
        if self.max_body_bytes < 1:
            raise ConfigurationError("max_body_bytes must be positive")
        settings = IdempotentSettings(
            scope=self.scope,
            key=None,
            exclude=(),
            ttl=None,
            lease=None,
            heartbeat=True,
            on_in_progress="raise",  # a busy key is a 409 now, not a wait
            wait_timeout=None,
            cache_errors=(),
        )
        self.policy = make_policy(self.idempotency, settings, ResultType.of_type(StoredResponse))

    def claims(self, method: str, headers: Mapping[str, str]) -> bool:
        """Whether a request goes through the protocol: a guarded method, with a key or not
        allowed to go without one. Other requests reach the app untouched."""
        return method in self.methods and (self.required or HEADER in headers)

    def too_large(self) -> Reply:
        """The problem for a request body over the limit: it cannot be fingerprinted."""
        return problem(
            413,
            "body-too-large",
            "Request body too large",
            f"requests with an Idempotency-Key are limited to {self.max_body_bytes} bytes",
        )

    def identify(self, request: HttpRequest, body: bytes) -> Call | Reply:
        """The call for a claimed request, or the 400 problem for its missing or bad key."""
        try:
            key = client_key(request.headers.get(HEADER))
        except InvalidKey as exc:
            return problem(400, "malformed-key", "Malformed Idempotency-Key", exc.message)
        if key is None:
            return problem(
                400,
                "missing-key",
                "Idempotency-Key required",
                f"{request.method} requests to this endpoint need an Idempotency-Key header",
            )
        idem = self.idempotency
        tenant = idem.tenant if self.tenant_from is None else self.tenant_from(request)
        check_tenant(tenant)
        route = request.path if self.route_from is None else self.route_from(request)
        identity = digest(canonicalize([request.method, route, key]), idem.secret)
        payload = {
            "body": _body_form(body, request.headers.get("content-type", "")),
            "headers": {name: request.headers.get(name) for name in self.fingerprint_headers},
        }
        fingerprint = digest(canonicalize(payload), idem.secret)
        store_key = f"{idem.prefix}:{tenant}:{self.scope}:{identity}"
        return Call(store_key, identity, fingerprint, tenant, self.scope, self.policy)

    def keep(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> StoredResponse:
        """The response to store; raises :class:`Unstored` for one that is not to be."""
        response = StoredResponse(
            status,
            [(name, value) for name, value in headers if name.lower() not in _UNSTORED_HEADERS],
            body,
        )
        if status >= 500 and not self.store_server_errors:
            raise Unstored(response)  # released: a retry runs the request again
        if len(body) > self.max_body_bytes:
            raise Unstored(response)
        return response

    def reply(self, call: Call, stored: StoredResponse, made: StoredResponse | None) -> Reply:
        """What to send after a run: what the app ``made``, if it ran (marked unstored if
        the store was down), else the ``stored`` response, marked as a replay."""
        if made is not None and call.bypassed:
            return unstored(made)
        if made is not None:  # cookies and all: only the stored copy leaves them out
            return Reply(made.status, made.headers, made.body)
        return Reply(stored.status, [*stored.headers, REPLAYED], stored.body)

    def refusal(self, exc: IdempotencyError) -> Reply:
        """The problem response for an error the protocol raised instead of running the app."""
        if isinstance(exc, RequestInProgress):
            wait = str(max(1, math.ceil(exc.retry_after)))
            return problem(
                409,
                "request-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry later",
                [("retry-after", wait)],
            )
        if isinstance(exc, PayloadMismatch):
            return problem(
                422,
                "key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used with another request payload",
            )
        if isinstance(exc, StoreUnavailable):
            return problem(
                503,
                "store-unavailable",
                "Idempotency store unavailable",
                "the request was not processed; retry later",
                [("retry-after", "1")],
            )
        if isinstance(exc, LeaseLost):
            return problem(
                500,
                "lease-lost",
                "Idempotency lease lost",
                "the request ran past its lease and another request took over",
            )
        return problem(500, "idempotency-error", "Idempotency error", exc.message)


App = TypeVar("App")


class Middleware(Generic[App]):
    """What both middlewares share: their options, checked once, and their Guard.

    ``methods`` are the guarded methods (POST and PATCH by default); ``required`` makes a
    missing key a 400; ``fingerprint_headers`` join the body in the fingerprint;
    ``tenant_from`` picks the tenant from the request (by default the instance's);
    ``route_from`` names the route (by default the path); ``scope`` is the scope part of the
    store keys; ``store_server_errors`` keeps 5xx responses instead of releasing the key;
    ``max_body_bytes`` bounds the request body read and the response body stored.
    """

    #: The store protocol this kind of app needs, and what to tell a user who has another.
    _store: ClassVar[type]
    _stores: ClassVar[str]

    def __init__(
        self,
        app: App,
        idempotency: Idempotency,
        *,
        methods: Iterable[str] = ("POST", "PATCH"),
        required: bool = False,
        fingerprint_headers: Iterable[str] = (),
        tenant_from: Callable[[HttpRequest], str] | None = None,
        route_from: Callable[[HttpRequest], str] | None = None,
        scope: str = "http",
        store_server_errors: bool = False,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        if not isinstance(idempotency.store, self._store):
            raise ConfigurationError(
                f"{type(self).__name__} needs {self._stores}, "
                f"not {type(idempotency.store).__name__}"
            )
        self.app = app
        self.guard = Guard(
            idempotency,
            frozenset(methods),
            required,
            tuple(fingerprint_headers),
            tenant_from,
            route_from,
            scope,
            store_server_errors,
            max_body_bytes,
        )


def unstored(response: StoredResponse) -> Reply:
    """A response sent as the app made it, marked as not stored."""
    return Reply(response.status, [*response.headers, NOT_STORED], response.body)
