"""What every integration does, checked on each against a real server on a loopback port.

The httpx transport, the async httpx transport and the requests adapter run every test
here (the ``connect`` fixture); a driver in drivers.py hides their differences.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from idemsdk.client import RetryPolicy
from idemsdk.testing import free_port

from .conftest import Connect
from .drivers import CHUNKS
from .server import Drop, Reply, ScriptedServer, Stall

KEY = "idempotency-key"
REQUEST_ID = "x-request-id"
NOW = 1_700_000_000.0


def policy(attempts: int = 4, **options: float) -> RetryPolicy:
    """A policy with a fixed clock whose jitter draws 0.5: delays are exactly known."""
    return RetryPolicy(attempts=attempts, jitter=lambda: 0.5, clock=lambda: NOW, **options)


def is_uuid4(value: str | None) -> bool:
    return value is not None and uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


def test_post_and_patch_get_a_key_other_methods_do_not(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect()
    for method in ("POST", "PATCH", "GET", "PUT", "DELETE", "OPTIONS"):
        assert client.send(method, server.url).status == 200
    keys = {seen.method: seen.header(KEY) for seen in server.seen}
    assert is_uuid4(keys.pop("POST")) and is_uuid4(keys.pop("PATCH"))
    assert keys == {"GET": None, "PUT": None, "DELETE": None, "OPTIONS": None}
    assert len({seen.header(REQUEST_ID) for seen in server.seen}) == 6
    assert all(is_uuid4(seen.header(REQUEST_ID)) for seen in server.seen)


def test_the_keyed_methods_are_configurable(server: ScriptedServer, connect: Connect) -> None:
    client = connect(methods=["put", "DELETE"])
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        client.send(method, server.url)
    keyed = [seen.method for seen in server.seen if seen.header(KEY) is not None]
    assert keyed == ["PUT", "DELETE"]


def test_a_key_and_request_id_the_caller_set_are_kept(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy())
    server.script(Reply(503))
    headers = {"Idempotency-Key": "order-42", "X-Request-ID": "req-7"}
    assert client.send("POST", server.url, headers=headers).status == 200
    assert [(seen.header(KEY), seen.header(REQUEST_ID)) for seen in server.seen] == [
        ("order-42", "req-7"),
        ("order-42", "req-7"),
    ]


def test_retries_are_off_by_default(server: ScriptedServer, connect: Connect) -> None:
    client = connect()
    server.script(Reply(503), Reply(409, {"Retry-After": "1"}))
    assert client.send("POST", server.url).status == 503
    assert client.send("GET", server.url).status == 409
    assert len(server.seen) == 2
    assert client.sleeps == []


def test_every_retry_sends_the_same_key_request_id_and_body(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy(attempts=4))
    server.script(Reply(500), Reply(502), Reply(503), Reply(201, body=b"created"))
    answer = client.send("POST", server.url, body=b'{"amount": 5}')
    assert (answer.status, answer.body) == (201, b"created")
    assert len(server.seen) == 4
    assert len({seen.header(KEY) for seen in server.seen}) == 1
    assert is_uuid4(server.seen[0].header(KEY))
    assert len({seen.header(REQUEST_ID) for seen in server.seen}) == 1
    assert {seen.body for seen in server.seen} == {b'{"amount": 5}'}


def test_backoff_is_full_jitter_doubling_up_to_the_cap(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy(attempts=5, backoff=1.0, cap=3.0))
    server.script(Reply(500), Reply(500), Reply(500), Reply(500))
    client.send("POST", server.url)
    # jitter draws 0.5 of min(cap, backoff * 2**n)
    assert client.sleeps == [0.5, 1.0, 1.5, 1.5]


@pytest.mark.parametrize("status", [409, 429, 503])
@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("2", 2.0), (formatdate(NOW + 7, usegmt=True), 7.0), ("120", 10.0)],
    ids=["seconds", "http-date", "capped"],
)
def test_retry_after_is_honoured_up_to_the_cap(
    server: ScriptedServer, connect: Connect, status: int, retry_after: str, expected: float
) -> None:
    client = connect(retry=policy(cap=10.0))
    server.script(Reply(status, {"Retry-After": retry_after}))
    assert client.send("POST", server.url).status == 200
    assert client.sleeps == [expected]
    assert server.seen[0].header(KEY) == server.seen[1].header(KEY)


def test_an_unreadable_retry_after_falls_back_to_backoff(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy(backoff=2.0))
    server.script(Reply(409, {"Retry-After": "soon"}))
    assert client.send("POST", server.url).status == 200
    assert client.sleeps == [1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 412, 422])
def test_other_4xx_are_never_retried(server: ScriptedServer, connect: Connect, status: int) -> None:
    client = connect(retry=policy())
    server.script(Reply(status, {"Retry-After": "1"}))
    assert client.send("POST", server.url).status == status
    assert len(server.seen) == 1
    assert client.sleeps == []


def test_the_last_response_is_returned_after_the_last_attempt(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy(attempts=3))
    server.script(Reply(503, body=b"1"), Reply(503, body=b"2"), Reply(503, body=b"3"))
    answer = client.send("POST", server.url)
    assert (answer.status, answer.body) == (503, b"3")
    assert len(server.seen) == 3
    assert len(client.sleeps) == 2


def test_dropped_connections_are_retried_with_the_same_key(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect(retry=policy())
    server.script(Drop(), Drop())
    assert client.send("POST", server.url, body=b"x").status == 200
    assert len(server.seen) == 3
    assert len({(seen.header(KEY), seen.header(REQUEST_ID)) for seen in server.seen}) == 1


def test_timeouts_are_retried_with_the_same_key(server: ScriptedServer, connect: Connect) -> None:
    client = connect(retry=policy())
    server.script(Stall())
    assert client.send("PATCH", server.url, timeout=0.2).status == 200
    assert len(server.seen) == 2
    assert server.seen[0].header(KEY) == server.seen[1].header(KEY) is not None


def test_the_last_error_is_raised_after_the_last_attempt(connect: Connect) -> None:
    client = connect(retry=policy(attempts=3))
    with pytest.raises(client.failure):
        client.send("POST", f"http://127.0.0.1:{free_port()}/")  # nothing listens there
    assert len(client.sleeps) == 2


def test_a_drop_is_raised_when_retries_are_off(server: ScriptedServer, connect: Connect) -> None:
    client = connect()
    server.script(Drop())
    with pytest.raises(client.failure):
        client.send("POST", server.url)
    assert len(server.seen) == 1


def test_a_post_without_a_key_is_never_retried(server: ScriptedServer, connect: Connect) -> None:
    client = connect(methods=(), retry=policy())
    server.script(Reply(503), Drop())
    assert client.send("POST", server.url).status == 503
    with pytest.raises(client.failure):
        client.send("POST", server.url)
    assert [seen.header(KEY) for seen in server.seen] == [None, None]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_idempotent_methods_are_retried_without_a_key(
    server: ScriptedServer, connect: Connect, method: str
) -> None:
    client = connect(retry=policy())
    server.script(Reply(503), Drop())
    assert client.send(method, server.url).status == 200
    assert len(server.seen) == 3
    assert {seen.header(KEY) for seen in server.seen} == {None}
    assert len({seen.header(REQUEST_ID) for seen in server.seen}) == 1


def test_a_streamed_body_is_sent_once(server: ScriptedServer, connect: Connect) -> None:
    client = connect(retry=policy())
    server.script(Reply(503))
    assert client.send("POST", server.url, streamed=True).status == 503
    assert [seen.body for seen in server.seen] == [b"".join(CHUNKS)]
    assert is_uuid4(server.seen[0].header(KEY))


def test_traceparent_carries_the_current_span(server: ScriptedServer, connect: Connect) -> None:
    client = connect(retry=policy())
    server.script(Reply(503))
    tracer = TracerProvider().get_tracer("client-tests")
    with tracer.start_as_current_span("checkout") as span:
        client.send("POST", server.url)
    context = span.get_span_context()
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert [seen.header("traceparent") for seen in server.seen] == [expected, expected]


def test_no_span_no_traceparent_and_a_callers_traceparent_is_kept(
    server: ScriptedServer, connect: Connect
) -> None:
    client = connect()
    client.send("POST", server.url)
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    tracer = TracerProvider().get_tracer("client-tests")
    with trace.use_span(tracer.start_span("checkout"), end_on_exit=True):
        client.send("POST", server.url, headers={"traceparent": theirs})
    assert [seen.header("traceparent") for seen in server.seen] == [None, theirs]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ScriptedServer]:
    """An HTTPS server whose self-signed certificate no client trusts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a self-signed certificate")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with ScriptedServer(tls=(cert, key)) as running:
        yield running


def test_a_refused_certificate_is_not_retried(tls_server: ScriptedServer, connect: Connect) -> None:
    client = connect(retry=policy())
    with pytest.raises(client.failure):
        client.send("POST", tls_server.url)
    assert client.sleeps == []
