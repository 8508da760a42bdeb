"""The pure retry decisions: what is retried, how long to wait, and reading Retry-After."""

from __future__ import annotations

import math
import ssl
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idemsdk import ConfigurationError
from idemsdk.client import RetryPolicy
from idemsdk.client._retry import (
    backoff_delay,
    parse_retry_after,
    refused_certificate,
    retryable_status,
)

NOW = 1_700_000_000.0


def fixed(draw: float = 0.5, attempts: int = 10, **options: float) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, jitter=lambda: draw, clock=lambda: NOW, **options)


def test_409_429_and_every_5xx_are_retryable_and_nothing_else() -> None:
    retryable = {status for status in range(100, 600) if retryable_status(status)}
    assert retryable == {409, 429, *range(500, 600)}


@pytest.mark.parametrize("status", [400, 422])
def test_400_and_422_are_never_retried_even_with_attempts_and_retry_after_left(
    status: int,
) -> None:
    assert fixed().after_response(1, status, "1") is None


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304])
def test_successes_and_redirects_are_the_answer(status: int) -> None:
    assert fixed().after_response(1, status, None) is None


def test_the_wait_doubles_from_backoff_until_the_cap() -> None:
    almost_one = math.nextafter(1.0, 0.0)
    policy = fixed(draw=almost_one, backoff=0.25, cap=3.0)
    waits = [policy.after_response(attempt, 503, None) for attempt in range(1, 7)]
    ceilings = [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert waits == pytest.approx(ceilings)
    assert all(
        wait is not None and wait < ceiling for wait, ceiling in zip(waits, ceilings, strict=True)
    )


@given(
    retry=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0, max_value=1e6),
    cap=st.floats(min_value=0, max_value=1e6),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_full_jitter_stays_within_zero_and_the_capped_exponential(
    retry: int, base: float, cap: float, draw: float
) -> None:
    delay = backoff_delay(retry, base, cap, draw)
    assert 0 <= delay <= min(cap, base * 2.0 ** min(retry, 1000))


def test_full_jitter_spreads_over_the_whole_range() -> None:
    assert backoff_delay(3, 1.0, 100.0, 0.0) == 0.0
    assert backoff_delay(3, 1.0, 100.0, 0.5) == 4.0


def test_errors_retry_when_transient_only() -> None:
    policy = fixed(draw=1.0, attempts=3, backoff=1.0)
    assert policy.after_error(1, True) == 1.0
    assert policy.after_error(2, True) == 2.0
    assert policy.after_error(3, True) is None  # the last attempt: raise
    assert policy.after_error(1, False) is None


def test_no_retry_after_the_last_attempt() -> None:
    policy = fixed(attempts=3)
    assert policy.after_response(2, 503, "1") == 1.0
    assert policy.after_response(3, 503, "1") is None
    assert RetryPolicy(attempts=1).after_response(1, 503, "1") is None
    assert RetryPolicy(attempts=1).after_error(1, True) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("86400", 86400.0),
        (formatdate(NOW + 30, usegmt=True), 30.0),  # IMF-fixdate
        (formatdate(NOW + 30), 30.0),  # "-0000": GMT all the same
        (formatdate(NOW - 30, usegmt=True), 0.0),  # in the past: now
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value", [None, "", "soon", "-3", "+3", "1e3", "inf", "nan", "0x10", "Tue, 99 Nov 2023"]
)
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_is_capped_and_replaces_the_backoff() -> None:
    policy = fixed(draw=0.5, backoff=100.0, cap=10.0)
    assert policy.after_response(1, 409, "3") == 3.0  # not 0.5 * 100
    assert policy.after_response(1, 429, "3600") == 10.0
    assert policy.after_response(1, 503, formatdate(NOW + 3600, usegmt=True)) == 10.0
    assert policy.after_response(1, 409, "later") == 10.0 * 0.5  # garbage: backoff, capped


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"attempts": 2.0},
        {"attempts": True},
        {"backoff": -0.1},
        {"backoff": math.nan},
        {"cap": math.inf},
        {"cap": "1"},
        {"cap": -1},
    ],
)
def test_settings_that_cannot_work_are_refused_when_made(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_policies_compare_by_their_settings() -> None:
    assert RetryPolicy(attempts=4, backoff=1, cap=5) == RetryPolicy(
        attempts=4, backoff=1.0, cap=5.0
    )
    assert "attempts=4" in repr(RetryPolicy(attempts=4))


def test_a_refused_certificate_is_found_however_deeply_it_is_wrapped() -> None:
    def wrapped(inner: BaseException, *, explicit: bool) -> BaseException:
        """``inner`` wrapped as ``raise ... from inner`` does, or as raising in ``except``."""
        outer = ConnectionError("outer")
        if explicit:
            outer.__cause__ = inner
        else:
            outer.__context__ = inner
        return outer

    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert refused_certificate(refused)
    assert refused_certificate(wrapped(wrapped(refused, explicit=True), explicit=False))
    assert not refused_certificate(wrapped(ssl.SSLEOFError(8, "EOF"), explicit=True))
    assert not refused_certificate(TimeoutError())
    looped = ConnectionError("a cycle")
    looped.__context__ = ValueError()
    looped.__context__.__context__ = looped
    assert not refused_certificate(looped)
