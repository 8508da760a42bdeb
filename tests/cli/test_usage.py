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
        ("redis+cluster://127.0.0.1:7000", "talk to one node"),
        ("redis://[::1/0", "is not a valid URL"),
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


def test_passwords_never_reach_the_output(cli: Cli) -> None:
    outcome = cli("doctor", "--url", "redis://admin:hunter2@127.0.0.1:6379/x")
    assert outcome.status == 2
    assert "hunter2" not in outcome.err
    assert "redis://admin:***@127.0.0.1:6379/x" in outcome.err


def test_good_urls_pass_unchanged() -> None:
    for url in (
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "rediss://user:pw@cache.internal:6380/2",
        "redis://[::1]:6379",
        "unix:///run/redis.sock?db=1",
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
        "rediss://host:port/db (TLS) or unix:///path/to/socket\n"
    )
