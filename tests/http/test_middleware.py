"""The middleware's contract, on ASGI and WSGI, on MemoryStore and a real Redis.

Every status code of the IETF Idempotency-Key draft, what is stored and what is not, the
canonical body fingerprint, tenant isolation, and concurrent duplicates.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from opentelemetry.trace import StatusCode

from idemsdk import Idempotency, MemoryStore, RedisStore
from idemsdk.http import HttpRequest, WSGIIdempotencyMiddleware
from idemsdk.testing import free_port

from ..telemetry.otel import Otel
from .apps import BIG, Service, flask_app
from .conftest import Site

ORDER = {"sku": "SKU-1", "qty": 2}


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def problem_of(response: Any, status: int, kind: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["type"] == f"urn:idemsdk:problem:{kind}"
    assert document["status"] == status
    assert document["title"] and document["detail"]
    return document


def test_the_first_request_runs_and_a_retry_replays_it(site: Site) -> None:
    first = site.post("/orders", json=ORDER, headers=key("k-1"))
    assert first.status_code == 201
    assert first.json() == {"order": 1, "echo": ORDER}
    assert first.headers["set-cookie"] == "session=s1"  # the first response is the app's
    assert "idempotent-replayed" not in first.headers
    again = site.post("/orders", json=ORDER, headers=key("k-1"))
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-run"] == "1"
    # Never replayed: one client's session, and the first connection's settings.
    assert "set-cookie" not in again.headers
    assert "keep-alive" not in again.headers
    assert site.service.runs["orders"] == 1


def test_json_bodies_differing_in_whitespace_and_key_order_are_one_payload(site: Site) -> None:
    site.post("/orders", json={"sku": "SKU-1", "qty": 2}, headers=key("k-2"))
    spaced = b'{ "qty" : 2.0,\n  "sku": "SKU-1" }'
    again = site.post(
        "/orders", content=spaced, headers={**key("k-2"), "content-type": "application/json"}
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert site.service.runs["orders"] == 1


def test_the_same_key_with_another_payload_is_422_and_runs_nothing(site: Site) -> None:
    site.post("/orders", json=ORDER, headers=key("k-3"))
    problem_of(
        site.post("/orders", json={**ORDER, "qty": 3}, headers=key("k-3")), 422, "key-reused"
    )
    assert site.service.runs["orders"] == 1


def test_a_selected_header_joins_the_fingerprint(site: Site) -> None:
    site.mount(fingerprint_headers=["X-Currency"])
    site.post("/orders", json=ORDER, headers={**key("k-4"), "X-Currency": "EUR"})
    other = site.post("/orders", json=ORDER, headers={**key("k-4"), "X-Currency": "USD"})
    problem_of(other, 422, "key-reused")
    same = site.post("/orders", json=ORDER, headers={**key("k-4"), "X-Currency": "EUR"})
    assert same.headers["idempotent-replayed"] == "true"


def test_without_a_key_requests_pass_through_unless_one_is_required(site: Site) -> None:
    assert site.post("/orders", json=ORDER).json()["order"] == 1
    assert site.post("/orders", json=ORDER).json()["order"] == 2
    site.mount(required=True)
    missing = problem_of(site.post("/orders", json=ORDER), 400, "missing-key")
    assert "Idempotency-Key" in missing["detail"]
    assert site.service.runs["orders"] == 2


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "empty"),
        ('""', "empty"),
        ("k" * 256, "over 255"),
        ("has space", "visible ASCII"),
        ("del\x7f", "visible ASCII"),
    ],
    ids=["empty", "empty-quoted", "too-long", "space", "control"],
)
def test_a_malformed_key_is_400(site: Site, value: str, says: str) -> None:
    response = site.post("/orders", json=ORDER, headers=key(value))
    assert says in problem_of(response, 400, "malformed-key")["detail"]
    assert site.service.runs["orders"] == 0


def test_a_quoted_key_is_the_same_key_unquoted(site: Site) -> None:
    site.post("/orders", json=ORDER, headers=key("k-5"))
    quoted = site.post("/orders", json=ORDER, headers=key('"k-5"'))  # the draft's sf-string
    assert quoted.headers["idempotent-replayed"] == "true"
    assert len("k" * 255) == 255
    assert site.post("/orders", json=ORDER, headers=key("k" * 255)).status_code == 201


def test_a_duplicate_while_the_first_runs_is_409_then_gets_the_stored_response(
    site: Site,
) -> None:
    service = site.service
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(site.post, "/slow", json=ORDER, headers=key("k-7"))
        assert service.started.wait(10)
        duplicates = site.at_once([{"path": "/slow", "json": ORDER, "headers": key("k-7")}] * 3)
        for duplicate in duplicates:
            problem_of(duplicate, 409, "request-in-progress")
            assert int(duplicate.headers["retry-after"]) >= 1
        service.release.set()
        original = first.result(10)
    assert original.status_code == 201
    after = site.post("/slow", json=ORDER, headers=key("k-7"))
    assert (after.json(), after.headers["idempotent-replayed"]) == (original.json(), "true")
    assert service.runs["slow"] == 1


def test_client_errors_are_stored_and_replayed(site: Site) -> None:
    first = site.post("/reject", json=ORDER, headers=key("k-8"))
    again = site.post("/reject", json=ORDER, headers=key("k-8"))
    assert (first.status_code, again.status_code) == (400, 400)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert site.service.runs["reject"] == 1


def test_server_errors_release_the_key_so_a_retry_runs_again(site: Site) -> None:
    first = site.post("/fail", json=ORDER, headers=key("k-9"))
    assert first.status_code == 503
    assert first.headers["idempotency-stored"] == "false"
    again = site.post("/fail", json=ORDER, headers=key("k-9"))
    assert again.json() == {"run": 2}
    assert "idempotent-replayed" not in again.headers


def test_server_errors_can_be_stored_instead(site: Site) -> None:
    site.mount(store_server_errors=True)
    site.post("/fail", json=ORDER, headers=key("k-10"))
    again = site.post("/fail", json=ORDER, headers=key("k-10"))
    assert (again.json(), again.headers["idempotent-replayed"]) == ({"run": 1}, "true")


def test_an_exception_releases_the_key_so_a_retry_runs_again(site: Site) -> None:
    for _ in range(2):
        if site.kind == "asgi":  # Starlette lets the exception out to the server
            with pytest.raises(RuntimeError, match="boom"):
                site.post("/boom", json=ORDER, headers=key("k-11"))
        else:  # Flask makes it a 500 itself
            assert site.post("/boom", json=ORDER, headers=key("k-11")).status_code == 500
    assert site.service.runs["boom"] == 2


def test_streamed_and_oversized_responses_pass_through_unstored(site: Site) -> None:
    for _ in range(2):
        streamed = site.post("/stream", json=ORDER, headers=key("k-12"))
        assert streamed.content == b"part one,part two"
        assert streamed.headers["idempotency-stored"] == "false"
        big = site.post("/big", json=ORDER, headers=key("k-13"))
        assert big.content == BIG
        assert big.headers["idempotency-stored"] == "false"
    assert (site.service.runs["stream"], site.service.runs["big"]) == (2, 2)


def test_a_request_body_over_the_limit_is_413(site: Site) -> None:
    response = site.post("/orders", json={"blob": "y" * 2000}, headers=key("k-14"))
    problem_of(response, 413, "body-too-large")
    assert site.service.runs["orders"] == 0


def test_only_the_guarded_methods_are_guarded(site: Site) -> None:
    assert site.request("GET", "/orders", headers=key("k-15")).json() == {"orders": 0}
    site.request("PATCH", "/orders", json=ORDER, headers=key("k-15"))
    patched = site.request("PATCH", "/orders", json=ORDER, headers=key("k-15"))
    assert patched.headers["idempotent-replayed"] == "true"
    site.mount(methods=["POST"])
    assert site.request("PATCH", "/orders", json=ORDER, headers=key("k-15")).json()["order"] == 2


def test_the_same_client_key_on_another_route_is_another_request(site: Site) -> None:
    site.post("/orders", json=ORDER, headers=key("k-16"))
    other = site.post("/reject", json=ORDER, headers=key("k-16"))
    assert "idempotent-replayed" not in other.headers


def test_two_tenants_with_the_same_client_key_never_see_each_other(site: Site) -> None:
    def tenant_from(request: HttpRequest) -> str:
        return request.headers["x-tenant"]

    site.mount(tenant_from=tenant_from)
    acme = site.post("/orders", json=ORDER, headers={**key("k-17"), "X-Tenant": "acme"})
    globex = site.post("/orders", json=ORDER, headers={**key("k-17"), "X-Tenant": "globex"})
    assert (acme.json()["order"], globex.json()["order"]) == (1, 2)
    assert "idempotent-replayed" not in globex.headers
    again = site.post("/orders", json=ORDER, headers={**key("k-17"), "X-Tenant": "globex"})
    assert (again.json()["order"], again.headers["idempotent-replayed"]) == (2, "true")


def test_a_tenant_outside_the_key_alphabet_is_refused_not_stored(site: Site) -> None:
    site.mount(tenant_from=lambda request: "a tenant with spaces")
    problem_of(site.post("/orders", json=ORDER, headers=key("k-18")), 500, "idempotency-error")
    assert site.service.runs["orders"] == 0


@pytest.mark.redis
def test_an_unreachable_store_is_503_and_the_app_does_not_run() -> None:
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2, socket_timeout=0.2
    )
    service = Service()
    app = flask_app(service)
    app.wsgi_app = WSGIIdempotencyMiddleware(app.wsgi_app, Idempotency(store))  # type: ignore[method-assign]
    client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test")
    response = client.post("/orders", json=ORDER, headers=key("k-19"))
    assert problem_of(response, 503, "store-unavailable")
    assert response.headers["retry-after"] == "1"
    assert service.runs["orders"] == 0


def test_each_request_is_a_call_span_and_an_unstored_response_is_no_error() -> None:
    otel = Otel()
    try:
        service = Service()
        app = flask_app(service)
        idem = otel.idem(MemoryStore())
        app.wsgi_app = WSGIIdempotencyMiddleware(app.wsgi_app, idem)  # type: ignore[method-assign]
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as client:
            client.post("/orders", json=ORDER, headers=key("k-20"))
            client.post("/orders", json=ORDER, headers=key("k-20"))
            client.post("/stream", json=ORDER, headers=key("k-21"))
        calls = [span for span in otel.spans() if span.name == "idempotency http"]
        outcomes = [span.attributes["idempotency.outcome"] for span in calls if span.attributes]
        assert outcomes == ["executed", "replayed", "executed"]
        # A stream passed through unstored released its key: an outcome, not a failure.
        assert [span.status.status_code for span in calls] == [StatusCode.UNSET] * 3
    finally:
        otel.shutdown()
