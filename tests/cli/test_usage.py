"""The command line as a whole: usage errors, help, URLs, and the demo it already had."""

from __future__ import annotations

import pytest

from idemsdk._cli._errors import USAGE
from idemsdk._cli._urls import check_url, redacted

from .conftest import Cli, run_module


def test_help_exits_0_and_lists_every_command(cli: Cli) -> None:
    outcome = cli("--help")
    assert outcome.status == 0
    for command in ("demo", "doctor", "inspect", "keygen"):
        assert command in outcome.out


def test_no_command_or_an_unknown_one_exits_2(cli: Cli) -> None:
    assert cli().status == USAGE
    unknown = cli("repair")
    assert unknown.status == USAGE
    assert "invalid choice: 'repair'" in unknown.err


def test_a_missing_url_exits_2(cli: Cli) -> None:
    outcome = cli("doctor")
    assert outcome.status == 2
    assert "the following arguments are required: --url" in outcome.err


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://x", "is not a Redis URL"),
        ("localhost:6379", "is not a Redis URL"),
        ("redis://", "names no host"),
        ("redis://127.0.0.1:port/0", "has an invalid port"),
        ("redis://127.0.0.1:99999/0", "has an invalid port"),
        ("redis://127.0.0.1:6379/x", "the database 'x' is not a number"),
        ("unix://", "names no socket path"),
        ("redis://[::1/0", "is not a valid URL"),
        ("redis+cluster://", "a node without a host"),
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:x/", "bad node '127.0.0.1:x'"),
        ("redis+cluster://127.0.0.1:7000/1", "a Redis Cluster has only database 0"),
        ("redis+sentinel://127.0.0.1:26379", "names the service after the hosts"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/x", "the database 'x' is not a number"),
        ("redis+sentinel://127.0.0.1:99999/mymaster", "bad node '127.0.0.1:99999'"),
    ],
)
def test_a_bad_url_exits_2_with_the_reason(cli: Cli, url: str, problem: str) -> None:
    outcome = cli("doctor", "--url", url)
    assert outcome.status == 2
    assert outcome.err.startswith("idemsdk doctor: error: ")
    assert problem in outcome.err
    assert outcome.out == ""


def test_a_bad_timeout_exits_2(cli: Cli) -> None:
    assert cli("doctor", "--url", "redis://127.0.0.1:1/0", "--timeout", "0").status == 2
    assert cli("doctor", "--url", "redis://127.0.0.1:1/0", "--timeout", "soon").status == 2


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://admin:hunter2@127.0.0.1:6379/x", "redis://admin:***@127.0.0.1:6379/x"),
        ("redis+cluster://:hunter2@127.0.0.1:1,h:x/", "redis+cluster://:***@127.0.0.1:1,h:x/"),
        (
            "redis+sentinel://127.0.0.1:1/s/x?sentinel_password=hunter2",
            "redis+sentinel://127.0.0.1:1/s/x?sentinel_password=***",
        ),
    ],
)
def test_passwords_never_reach_the_output(cli: Cli, url: str, shown: str) -> None:
    outcome = cli("doctor", "--url", url)
    assert outcome.status == 2
    assert "hunter2" not in outcome.err
    assert shown in outcome.err


def test_good_urls_pass_unchanged() -> None:
    for url in (
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "rediss://user:pw@cache.internal:6380/2",
        "redis://[::1]:6379",
        "unix:///run/redis.sock?db=1",
        "redis+cluster://127.0.0.1:7000,127.0.0.1:7001/",
        "rediss+cluster://user:pw@cache.internal:6380",
        "redis+sentinel://127.0.0.1:26379,[::1]/mymaster/2?sentinel_password=pw",
    ):
        assert check_url(url) == url


def test_redaction_hides_only_the_password() -> None:
    assert redacted("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redacted("rediss://u:p%40ss@h/0") == "rediss://u:***@h/0"
    assert redacted("redis://h:1/0") == "redis://h:1/0"
    assert redacted("redis://user@h:1/0") == "redis://user@h:1/0"


def test_the_demo_still_runs(cli: Cli) -> None:
    outcome = cli("demo")
    assert outcome.status == 0
    assert "the function ran 2 times for 6 calls" in outcome.out


def test_usage_errors_exit_2_from_a_real_process() -> None:
    outcome = run_module("doctor", "--url", "http://x")
    assert outcome.status == 2
    assert outcome.err == (
        "idemsdk doctor: error: 'http://x' is not a Redis URL: use redis://host:port/db, "
        "rediss://host:port/db (TLS), unix:///path/to/socket, "
        "redis+cluster://host:port,host:port/ or redis+sentinel://host:26379/service\n"
    )
