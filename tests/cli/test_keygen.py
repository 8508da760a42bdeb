"""``idemsdk keygen``: the key of a JSON payload on stdin, the same as the library computes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from idemsdk import Idempotency, MemoryStore, make_key

from .conftest import Cli, run_module

SECRET = bytes(range(32))


def test_the_key_is_make_keys(cli: Cli) -> None:
    payload = {"order_id": "o-1", "amount_cents": 1999, "items": [{"sku": "a", "qty": 2}]}
    stdin = b'{"order_id": "o-1", "amount_cents": 1999, "items": [{"qty": 2, "sku": "a"}]}'
    outcome = cli("keygen", "--tenant", "shop", "--scope", "billing.charge", stdin=stdin)
    assert outcome.status == 0
    assert outcome.out == make_key(payload, tenant="shop", scope="billing.charge") + "\n"
    assert outcome.out.startswith("idem:shop:billing.charge:")
    prefixed = cli("keygen", "--tenant", "t", "--scope", "s", "--prefix", "pay", stdin=b"[1, 2.0]")
    assert prefixed.out == make_key([1, 2], tenant="t", scope="s", prefix="pay") + "\n"


def test_the_key_matches_a_decorated_function(cli: Cli) -> None:
    idem = Idempotency(MemoryStore(), tenant="shop", prefix="pay", telemetry=False)

    @idem.idempotent(scope="billing.charge")
    def charge(order_id: str, amount_cents: int, currency: str = "EUR") -> None:
        """The default key: every argument by name, defaults included."""

    @idem.idempotent(scope="billing.refund", key="order_id")
    def refund(order_id: str, amount_cents: int) -> None:
        """A key path: only the order id."""

    options = ["--tenant", "shop", "--prefix", "pay", "--scope"]
    whole = b'{"order_id": "o-1", "amount_cents": 5, "currency": "EUR"}'
    assert cli("keygen", *options, "billing.charge", stdin=whole).out.strip() == (
        charge.key_for("o-1", 5)
    )
    path = cli("keygen", *options, "billing.refund", stdin=b'"o-1"')
    assert path.out.strip() == refund.key_for("o-1", 5)


def test_a_secret_comes_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEM_SECRET", SECRET.hex())
    outcome = cli(
        "keygen", "--tenant", "t", "--scope", "s", "--secret-env", "IDEM_SECRET", stdin=b"1"
    )
    assert outcome.status == 0
    assert outcome.out.strip() == make_key(1, tenant="t", scope="s", secret=SECRET)
    assert outcome.out.strip() != make_key(1, tenant="t", scope="s")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "the environment variable IDEM_SECRET is not set"),
        ("zz", "IDEM_SECRET is not hexadecimal"),
        ("00" * 16, "IDEM_SECRET holds 16 bytes; the secret is 32 (64 hex digits)"),
    ],
)
def test_a_bad_secret_exits_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, value: str | None, problem: str
) -> None:
    if value is None:
        monkeypatch.delenv("IDEM_SECRET", raising=False)
    else:
        monkeypatch.setenv("IDEM_SECRET", value)
    outcome = cli(
        "keygen", "--tenant", "t", "--scope", "s", "--secret-env", "IDEM_SECRET", stdin=b"1"
    )
    assert outcome.status == 2
    assert problem in outcome.err
    assert value is None or value not in outcome.err  # never echo a secret


@pytest.mark.parametrize(
    ("stdin", "problem"),
    [
        (b"", "standard input is empty"),
        (b"  \n", "standard input is empty"),
        (b"{'a': 1}", "standard input is not valid JSON: Expecting property name"),
        (b'{"a": 1,}', "standard input is not valid JSON"),
        (b"[1, 2] 3", "standard input is not valid JSON: Extra data"),
        (b'{"a": 1, "a": 2}', "the name 'a' appears twice in one object"),
        (b'{"a": NaN}', "NaN is not JSON"),
        (b"[Infinity]", "Infinity is not JSON"),
        (b"\xff", "standard input is not UTF-8"),
    ],
)
def test_invalid_json_exits_2(cli: Cli, stdin: bytes, problem: str) -> None:
    outcome = cli("keygen", "--tenant", "t", "--scope", "s", stdin=stdin)
    assert outcome.status == 2
    assert outcome.out == ""
    assert outcome.err.startswith("idemsdk keygen: error: ")
    assert problem in outcome.err


@pytest.mark.parametrize(
    ("stdin", "path"),
    [
        (b'{"amount": 9007199254740993}', "form: amount: int 9007199254740993 is outside"),
        (b'{"n": [1, 1e400]}', "form: n[1]: float inf has no JSON form"),
        (b'{"s": "\\ud800"}', "form: s: str contains a lone surrogate"),
    ],
)
def test_a_payload_without_canonical_form_exits_2_naming_where(
    cli: Cli, stdin: bytes, path: str
) -> None:
    outcome = cli("keygen", "--tenant", "t", "--scope", "s", stdin=stdin)
    assert outcome.status == 2
    assert "the payload in standard input has no canonical JSON form: " in outcome.err
    assert path in outcome.err


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--tenant", "a:b", "--scope", "s"], "tenant 'a:b' contains ':'"),
        (["--tenant", "t", "--scope", "s", "--prefix", ""], "prefix must not be empty"),
        (["--scope", "s"], "the following arguments are required: --tenant"),
    ],
)
def test_bad_key_parts_exit_2(cli: Cli, options: list[str], problem: str) -> None:
    outcome = cli("keygen", *options, stdin=b"{}")
    assert outcome.status == 2
    assert problem in outcome.err


def test_keygen_runs_as_a_real_process() -> None:
    outcome = run_module("keygen", "--tenant", "t", "--scope", "s", stdin=b'{"b": 2, "a": 1}')
    assert outcome.status == 0
    assert outcome.out == make_key({"a": 1, "b": 2}, tenant="t", scope="s") + "\n"
    invalid = run_module("keygen", "--tenant", "t", "--scope", "s", stdin=b"{")
    assert invalid.status == 2
    assert "is not valid JSON" in invalid.err


def test_a_closed_output_pipe_is_no_traceback() -> None:
    # Like `idemsdk keygen ... | head -c0`: the reader is gone before anything is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "idemsdk", "keygen", "--tenant", "t", "--scope", "s"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(b"{}", timeout=60)
    assert process.returncode == 1
    assert err == b""
