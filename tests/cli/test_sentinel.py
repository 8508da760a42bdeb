"""``doctor`` and ``inspect`` on ``redis+sentinel://`` URLs, against real Sentinel setups.

Tests that only read use the session's setup (a primary, a replica, 3 sentinels); those
that change a setup's settings share a lone sentinel watching a primary without replica,
and put it back; those that stop a primary have a setup of their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
import redis

from idemsdk.testing import RedisSentinelServer, free_port

from ..conftest import sentinel_of
from .conftest import Cli, run_module, wait_for
from .test_inspect import charge_function, fields

pytestmark = pytest.mark.redis

PRIMARY_CHECKS = ["version", "mode", "scripts", "round-trip", "eviction", "persistence", "replicas"]
SERVICE = "idemsdk"  # RedisSentinelServer's default


@pytest.fixture(scope="module")
def lone() -> Iterator[RedisSentinelServer]:
    """A primary without replica, watched by 1 sentinel; tests that change it restore it."""
    with sentinel_of(replicas=0, sentinels=1) as setup:
        yield setup


def hosts(setup: RedisSentinelServer) -> str:
    """The sentinels of a setup as a URL lists them."""
    return ",".join(f"{host}:{port}" for host, port in setup.sentinels)


@contextmanager
def first_sentinel(
    setup: RedisSentinelServer, password: str | None = None
) -> Iterator[redis.Redis]:
    """A client on the setup's first sentinel."""
    host, port = setup.sentinels[0]
    client = redis.Redis(host, port, password=password)
    try:
        yield client
    finally:
        client.close()


def test_doctor_asks_the_sentinels_then_checks_the_primary_and_its_replica(
    cli: Cli, sentinel: RedisSentinelServer
) -> None:
    outcome = cli("doctor", "--url", sentinel.url)
    primary = f"127.0.0.1:{sentinel.primary.port}"
    [replica] = [server for server in sentinel.servers if server is not sentinel.primary]
    assert outcome.headings() == [
        f"sentinels of service '{SERVICE}': 3 of 3 answered",
        f"primary {primary}, as the sentinels name it",
        f"replica 127.0.0.1:{replica.port} of {primary}",
    ]
    view = outcome.section("sentinels")
    assert {view.level(check) for check in ("sentinels", "primary", "quorum", "failover")} == {
        "OK"
    }, outcome.out
    assert "3 sentinels watch the primary, and every sentinel of the URL answered" in view.out
    assert f"{primary}, named by 3 of the 3 sentinels that answered" in view.line("primary")
    assert "quorum 2: OK 3 usable Sentinels" in view.line("quorum")
    assert f"1 replica the sentinels can promote (127.0.0.1:{replica.port})" in view.out
    checked = outcome.section("primary")
    assert [line.split()[1] for line in checked.out.splitlines()] == PRIMARY_CHECKS
    assert checked.line("mode").endswith("standalone master")
    assert checked.level("scripts") == "OK"
    replica_checks = outcome.section("replica").out.splitlines()
    assert [line.split()[1] for line in replica_checks] == ["version", "eviction", "persistence"]
    levels = [line.split()[0] for line in outcome.out.splitlines() if line.startswith("  ")]
    assert outcome.status == (1 if "FAIL" in levels else 0)


def test_doctor_json_says_sentinel_mode_and_names_each_server(
    sentinel: RedisSentinelServer,
) -> None:
    outcome = run_module("doctor", "--url", sentinel.url, "--json")
    document = json.loads(outcome.out)
    primary = f"127.0.0.1:{sentinel.primary.port}"
    assert document["mode"] == "sentinel"
    assert document["url"] == sentinel.url
    assert [(node["role"], node["primary"]) for node in document["nodes"]] == [
        ("primary", None),
        ("replica", primary),
    ]
    assert document["nodes"][0]["address"] == primary
    sentinel_checks = [f["check"] for f in document["findings"] if f["node"] is None]
    assert sentinel_checks == ["sentinels", "primary", "quorum", "failover"]
    assert [f["check"] for f in document["findings"] if f["node"] == primary] == PRIMARY_CHECKS


def test_an_unknown_service_fails_and_names_those_the_sentinels_watch(
    cli: Cli, sentinel: RedisSentinelServer
) -> None:
    url = f"redis+sentinel://{hosts(sentinel)}/payments"
    outcome = cli("doctor", "--url", url)
    assert outcome.status == 1
    assert outcome.headings() == ["sentinels of service 'payments': 3 of 3 answered"]
    found = outcome.line("primary")
    assert found.split()[0] == "FAIL"
    assert f"no sentinel knows the service 'payments' (they watch '{SERVICE}')" in found
    inspect = cli("inspect", "--url", url, "some:key")
    assert inspect.status == 1
    assert f"no sentinel of {url} knows the service 'payments'" in inspect.err


def test_a_sentinel_that_does_not_answer_warns(cli: Cli, sentinel: RedisSentinelServer) -> None:
    silent = f"127.0.0.1:{free_port()}"
    url = f"redis+sentinel://{silent},{hosts(sentinel)}/{SERVICE}"
    outcome = cli("doctor", "--url", url)
    found = outcome.line("sentinels")
    assert found.split()[0] == "WARN"
    assert f"1 of the URL's sentinels did not answer (cannot reach sentinel {silent}: " in found
    assert outcome.level("primary") == "OK"


def test_when_no_sentinel_answers_doctor_and_inspect_exit_1_naming_each(cli: Cli) -> None:
    silent = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    url = f"redis+sentinel://{','.join(silent)}/{SERVICE}"
    began = time.monotonic()
    for argv in (["doctor", "--url", url], ["inspect", "--url", url, "some:key"]):
        outcome = cli(*argv)
        assert outcome.status == 1
        assert outcome.out == ""
        assert outcome.err.startswith(f"idemsdk {argv[0]}: error: no sentinel of {url} answered")
        assert all(f"cannot reach sentinel {address}: " in outcome.err for address in silent)
    assert time.monotonic() - began < 3


def test_inspect_reads_the_key_from_the_primary_the_sentinels_name(
    cli: Cli, sentinel: RedisSentinelServer
) -> None:
    charge = charge_function(sentinel.primary.url, "sentinel")
    charge("o-1", 1999)
    key = charge.key_for("o-1", 1999)
    outcome = cli("inspect", "--url", sentinel.url, key)
    assert outcome.status == 0, outcome.err
    assert fields(outcome)["status"] == "completed"
    document = json.loads(cli("inspect", "--url", sentinel.url, key, "--json").out)
    assert document["result"]["charge"] == "ch_o-1"
    missing = cli("inspect", "--url", sentinel.url, "sentinel:shop:nothing")
    assert missing.status == 1
    assert "no key 'sentinel:shop:nothing'" in missing.err


def test_one_sentinel_and_no_replica_warn(cli: Cli, lone: RedisSentinelServer) -> None:
    outcome = cli("doctor", "--url", lone.url)
    view = outcome.section("sentinels")
    assert view.level("sentinels") == "WARN"
    assert "1 sentinel watches the primary: with fewer than 3" in view.line("sentinels")
    assert view.level("failover") == "WARN"
    assert "no replica the sentinels could promote" in view.line("failover")
    assert outcome.section("primary").level("replicas") == "WARN"
    assert outcome.status == 0
    assert cli("doctor", "--url", lone.url, "--strict").status == 1


def test_a_quorum_the_sentinels_cannot_reach_fails(cli: Cli, lone: RedisSentinelServer) -> None:
    with first_sentinel(lone) as client:
        client.sentinel_set(SERVICE, "quorum", 2)  # 2 of 1 sentinel: never reached
        try:
            outcome = cli("doctor", "--url", lone.url)
        finally:
            client.sentinel_set(SERVICE, "quorum", 1)
    found = outcome.line("quorum")
    assert found.split()[0] == "FAIL"
    assert "quorum 2: NOQUORUM 1 usable Sentinels" in found
    assert outcome.status == 1


def test_the_sentinels_password_comes_from_the_url_and_is_never_shown(
    cli: Cli, lone: RedisSentinelServer
) -> None:
    url = f"redis+sentinel://{hosts(lone)}/{SERVICE}"
    with first_sentinel(lone) as client:
        client.acl_setuser("default", enabled=True, passwords=["+s3cret"])
    try:
        refused = cli("doctor", "--url", url)
        wrong = cli("doctor", "--url", f"{url}?sentinel_password=wrong")
        right = cli("doctor", "--url", f"{url}?sentinel_password=s3cret")
    finally:
        with first_sentinel(lone, password="s3cret") as client:
            client.acl_setuser("default", enabled=True, reset_passwords=True, nopass=True)
    assert refused.status == 1
    assert f"no sentinel of {url} answered: sentinel " in refused.err
    assert "refused the credentials" in refused.err
    assert wrong.status == 1
    assert "wrong" not in wrong.err
    assert "sentinel_password=***" in wrong.err
    assert right.out.startswith(f"idemsdk doctor {url}?sentinel_password=***\n")
    assert right.level("primary") == "OK"
    assert "s3cret" not in right.out + right.err


def primary_flags(setup: RedisSentinelServer) -> set[str]:
    """The flags the first sentinel gives the primary (``s_down``, ``o_down``...)."""
    with first_sentinel(setup) as client:
        state = cast("dict[str, Any]", client.sentinel_master(SERVICE))
    return set(str(state["flags"]).split(","))


def test_a_primary_the_sentinels_see_down_fails(cli: Cli) -> None:
    with sentinel_of(replicas=0, sentinels=1) as setup:
        setup.kill_primary()
        wait_for(lambda: "o_down" in primary_flags(setup), "the sentinel to see the primary down")
        outcome = cli("doctor", "--url", setup.url)
        inspect = cli("inspect", "--url", setup.url, "some:key")
    primary = f"127.0.0.1:{setup.primary.port}"
    found = outcome.section("sentinels").line("primary")
    assert found.split()[0] == "FAIL"
    assert f"the sentinels see the primary {primary} down (o_down, s_down)" in found
    assert outcome.section("primary").level("connect") == "FAIL"
    assert f"cannot reach redis://{primary}/0: " in outcome.section("primary").line("connect")
    assert outcome.status == 1
    assert inspect.status == 1
    assert f"cannot reach redis://{primary}/0" in inspect.err


@pytest.mark.slow
def test_doctor_and_inspect_follow_the_sentinels_to_a_new_primary(cli: Cli) -> None:
    with sentinel_of() as setup:
        old = f"127.0.0.1:{setup.primary.port}"
        charge = charge_function(setup.primary.url, "failover")
        charge("o-1", 100)
        key = charge.key_for("o-1", 100)
        primary = redis.Redis.from_url(setup.primary.url)
        assert primary.wait(1, 5000) == 1  # the record is on the replica before the crash
        primary.close()
        setup.kill_primary()
        new = f"127.0.0.1:{setup.wait_failover().port}"
        outcome = cli("doctor", "--url", setup.url)
        inspect = cli("inspect", "--url", setup.url, key)
    assert f"primary {new}, as the sentinels name it" in outcome.headings()
    assert outcome.section("primary").line("mode").endswith("standalone master")
    # The old primary is now a replica the sentinels see down: nothing left to promote.
    assert f"replica {old} of {new}" in outcome.headings()
    assert outcome.section("replica").level("connect") == "WARN"
    assert outcome.section("sentinels").level("failover") == "WARN"
    assert "(1 known, all down)" in outcome.section("sentinels").line("failover")
    assert inspect.status == 0, inspect.err
    assert fields(inspect)["status"] == "completed"
