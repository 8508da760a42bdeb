"""When to retry a request and how long to wait first: pure code, shared by every driver.

The httpx transports and the requests adapter only do I/O: send, ask :class:`RetryPolicy`
what the outcome means, sleep as long as it says, send again with the same headers. What is
retried is decided here alone:

* transport failures the driver calls transient (connection errors, timeouts);
* 409 (an idemsdk server's "the first request with this key is still running"), 429, 5xx;
* never another 4xx: 400 or 422 say the request itself is wrong, and resending it cannot help.

A response's ``Retry-After`` (seconds or an HTTP date) is honoured, up to the policy's cap;
without one, the wait is exponential backoff with full jitter.
"""

from __future__ import annotations

import math
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime

from idemsdk._errors import ConfigurationError

__all__ = [
    "ONCE",
    "RetryPolicy",
    "backoff_delay",
    "parse_retry_after",
    "refused_certificate",
    "retryable_status",
]

CONFLICT, TOO_MANY_REQUESTS = 409, 429

# RFC 9110 delta-seconds is digits only; a fraction costs nothing to accept and some servers
# send one. A sign, an exponent, "inf" or "nan" are garbage.
_SECONDS = re.compile(r"\s*(\d+(?:\.\d*)?)\s*")
# 2.0 ** 1024 overflows; by then any sane cap was passed long ago.
_MAX_EXPONENT = 64


def retryable_status(status: int) -> bool:
    """True for the statuses worth resending with the same key: 409, 429 and 5xx."""
    return status in (CONFLICT, TOO_MANY_REQUESTS) or 500 <= status <= 599


def refused_certificate(exc: BaseException) -> bool:
    """True if a certificate check failed somewhere in ``exc``'s chain: it will fail again.

    Both httpx and requests report it as a connection error, wrapped two or three times.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait that a ``Retry-After`` value asks for; None if absent or unreadable.

    ``now`` (seconds since the epoch) is what an HTTP date is measured from; a date in the
    past means "now" (0).
    """
    if value is None:
        return None
    seconds = _SECONDS.fullmatch(value)
    if seconds is not None:
        return float(seconds.group(1))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):  # the exceptions differ across Pythons
        return None
    if when.tzinfo is None:  # "-0000" and RFC 850 dates: HTTP dates are always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def backoff_delay(retry: int, base: float, cap: float, draw: float) -> float:
    """Full jitter: ``draw`` (in [0, 1)) of ``min(cap, base * 2**retry)``; retry 0 is the first.

    A uniform wait, rather than the exponential ceiling itself, spreads clients that failed
    together so they do not come back together.
    """
    return draw * min(cap, base * 2.0 ** min(retry, _MAX_EXPONENT))


def _duration(value: object, name: str) -> float:
    """``value`` as float seconds if it is a finite number >= 0, else ConfigurationError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    raise ConfigurationError(f"{name} must be a finite number of seconds >= 0, not {value!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a request may be sent, and how long to wait between attempts.

    ``attempts`` counts every send, the first included (1: no retry). Before retry ``n``
    (0 for the first) the wait is uniform in ``[0, min(cap, backoff * 2**n)]``, or the
    response's ``Retry-After`` capped at ``cap``. ``jitter`` draws the uniform numbers in
    [0, 1) and ``clock`` says what time it is for ``Retry-After`` dates: tests pass their own.
    """

    attempts: int = 3
    backoff: float = 0.5
    cap: float = 30.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError(f"attempts must be an int, not {self.attempts!r}")
        if self.attempts < 1:
            raise ConfigurationError(f"attempts counts the first send, so >= 1: {self.attempts}")
        # Stored as floats so that equal policies compare equal whatever number type was given.
        object.__setattr__(self, "backoff", _duration(self.backoff, "backoff"))
        object.__setattr__(self, "cap", _duration(self.cap, "cap"))

    def after_response(self, attempt: int, status: int, retry_after: str | None) -> float | None:
        """Seconds to wait before resending after attempt ``attempt`` (1-based) got ``status``.

        None: do not resend, the response is the answer.
        """
        if attempt >= self.attempts or not retryable_status(status):
            return None
        asked = parse_retry_after(retry_after, self.clock())
        if asked is not None:
            return min(asked, self.cap)
        return backoff_delay(attempt - 1, self.backoff, self.cap, self.jitter())

    def after_error(self, attempt: int, transient: bool) -> float | None:
        """Seconds to wait before resending after attempt ``attempt`` failed; None: raise.

        ``transient`` is the driver's verdict on the error: a connection that failed or
        dropped, or a timeout, is; a refused certificate or a malformed URL is not.
        """
        if attempt >= self.attempts or not transient:
            return None
        return backoff_delay(attempt - 1, self.backoff, self.cap, self.jitter())


#: One send, no retry: for requests that may not be resent, and when retries are off.
ONCE = RetryPolicy(attempts=1)
