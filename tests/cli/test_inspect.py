"""``idemsdk inspect`` on records written by real decorated calls on the real server."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis

from idemsdk import Idempotency, IdempotentFunction, RedisStore
from idemsdk.testing import free_port

from .conftest import Cli, Outcome, StartRedis, run_module, wait_for

pytestmark = pytest.mark.redis

TENANT = "shop"
SCOPE = "billing.charge"


class Declined(Exception):
    """A business error the function caches."""


def charge_function(
    redis_url: str, prefix: str, codec: str = "json"
) -> IdempotentFunction[[str, int], dict[str, object]]:
    """A decorated charge storing its records on the real server under ``prefix``."""
    idem = Idempotency(
        RedisStore.from_url(redis_url),
        tenant=TENANT,
        codec=codec,
        prefix=prefix,
        ttl=3600,
        telemetry=False,
    )

    @idem.idempotent(scope=SCOPE, cache_errors=(Declined,))
    def charge(order_id: str, amount_cents: int) -> dict[str, object]:
        if amount_cents < 0:
            raise Declined(f"refused amount {amount_cents}")
        # Large orders carry a long receipt, so their records are compressed.
        receipt = "line item\n" * (3000 if amount_cents > 100_000 else 1)
        return {"charge": f"ch_{order_id}", "amount_cents": amount_cents, "receipt": receipt}

    return charge


def raw_hash(client: redis.Redis, key: str) -> dict[bytes, bytes]:
    """HGETALL as bytes (the client does not decode)."""
    reply = client.hgetall(key)
    return {k: v for k, v in reply.items() if isinstance(k, bytes) and isinstance(v, bytes)}


def fields(outcome: Outcome) -> dict[str, str]:
    """The ``name  value`` lines of inspect's text output."""
    rows = (line.split("  ", 1) for line in outcome.out.splitlines() if "  " in line)
    return {name: value.strip() for name, value in rows if name and not name.startswith(" ")}


@pytest.mark.parametrize("codec", ["json", "protobuf"])
def test_a_completed_record_shows_everything(
    cli: Cli, redis_url: str, prefix: str, redis_client: redis.Redis, codec: str
) -> None:
    charge = charge_function(redis_url, prefix, codec)
    charge("o-1", 1999)
    key = charge.key_for("o-1", 1999)
    outcome = cli("inspect", "--url", redis_url, key)
    assert outcome.status == 0, outcome.err
    shown = fields(outcome)
    stored = raw_hash(redis_client, key)
    assert shown["key"] == key
    assert shown["status"] == "completed"
    assert 3590 <= int(shown["ttl"].split()[0]) <= 3600
    assert shown["token"] == stored[b"token"].decode()
    assert shown["fingerprint"] == stored[b"fp"].decode()
    assert shown["codec"] == f"{codec}/1"
    assert shown["body"].startswith(f"{len(stored[b'body'])} bytes stored; the result is ")
    assert shown["created"].endswith("ago)")
    assert shown["next call"].startswith("a duplicate replays this result")
    result = outcome.out.split("result:\n", 1)[1]
    assert json.loads(result) == charge("o-1", 1999)
    assert '\n  "charge": "ch_o-1",\n' in result  # pretty, two-space indented


def test_a_compressed_record_names_its_compression(cli: Cli, redis_url: str, prefix: str) -> None:
    charge = charge_function(redis_url, prefix)
    charge("o-big", 500_000)
    outcome = cli("inspect", "--url", redis_url, charge.key_for("o-big", 500_000))
    assert outcome.status == 0
    shown = fields(outcome)
    assert shown["codec"] == "json/1+zstd"  # zstandard is a dev dependency
    sizes = re.fullmatch(r"(\d+) bytes stored; the result is (\d+) bytes of JSON", shown["body"])
    assert sizes is not None
    stored, result = int(sizes[1]), int(sizes[2])
    assert stored < 2000 < 30_000 < result


def test_a_cached_error_is_shown(cli: Cli, redis_url: str, prefix: str) -> None:
    charge = charge_function(redis_url, prefix, "protobuf")
    with pytest.raises(Declined):
        charge("o-2", -5)
    outcome = cli("inspect", "--url", redis_url, charge.key_for("o-2", -5))
    assert outcome.status == 0
    shown = fields(outcome)
    assert shown["status"] == "failed"
    assert shown["error"] == f"{__name__}.Declined: refused amount -5"
    assert "re-raises" in shown["next call"]
    assert "result:" not in outcome.out


def test_an_in_progress_record_shows_its_owner_and_lease(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    idem = Idempotency(
        RedisStore.from_url(redis_url), tenant=TENANT, prefix=prefix, lease=30, telemetry=False
    )
    seen: list[Outcome] = []

    @idem.idempotent(scope=SCOPE)
    def slow(order_id: str) -> str:
        # Inspect from inside the call: the record is in progress, owned by this call.
        seen.append(cli("inspect", "--url", redis_url, slow.key_for(order_id)))
        return "done"

    slow("o-3")
    outcome = seen[0]
    assert outcome.status == 0
    shown = fields(outcome)
    assert shown["status"] == "in_progress"
    assert shown["lease until"].endswith("s)")
    seconds = float(shown["lease until"].split("(in ")[1].split(" s)")[0])
    assert 25 < seconds <= 30
    assert "RequestInProgress" in shown["next call"]
    assert "codec" not in shown


def test_a_lapsed_lease_says_the_next_call_takes_over(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    idem = Idempotency(
        RedisStore.from_url(redis_url), tenant=TENANT, prefix=prefix, lease=0.05, telemetry=False
    )
    seen: list[Outcome] = []

    @idem.idempotent(scope=SCOPE, heartbeat=False)
    def stuck(order_id: str) -> str:
        time.sleep(0.15)
        seen.append(cli("inspect", "--url", redis_url, stuck.key_for(order_id), "--json"))
        return "done"

    stuck("o-4")
    document = json.loads(seen[0].out)
    assert document["status"] == "in_progress"
    assert document["lease_deadline"]["seconds_from_now"] < 0
    assert document["next_call"].startswith("the lease lapsed")


def test_json_output_is_machine_readable(
    cli: Cli, redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    charge = charge_function(redis_url, prefix)
    value = charge("o-5", 700)
    key = charge.key_for("o-5", 700)
    document = json.loads(cli("inspect", "--url", redis_url, key, "--json").out)
    assert document["key"] == key
    assert document["status"] == "completed"
    assert document["token"] == int(raw_hash(redis_client, key)[b"token"])
    assert 3590 < document["ttl_seconds"] <= 3600
    assert document["codec"] == "json/1"
    assert document["result"] == value
    assert document["result_json_bytes"] == len(json.dumps(value, separators=(",", ":")))
    assert document["error"] is None
    assert document["problem"] is None
    assert document["done"]["utc"].endswith("Z")


def test_the_key_can_be_computed_from_tenant_scope_and_payload(
    cli: Cli, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    charge = charge_function(redis_url, prefix)
    charge("o-6", 250)
    # The default key is the payload: the arguments by name, defaults applied.
    payload = tmp_path / "payload.json"
    payload.write_text('{"amount_cents": 250, "order_id": "o-6"}')
    options = ["--tenant", TENANT, "--scope", SCOPE, "--prefix", prefix]
    outcome = cli("inspect", "--url", redis_url, *options, "--payload-json", str(payload))
    assert outcome.status == 0, outcome.err
    assert fields(outcome)["key"] == charge.key_for("o-6", 250)
    stdin = b'{"order_id": "o-6", "amount_cents": 250}'
    from_stdin = cli("inspect", "--url", redis_url, *options, "--payload-json", "-", stdin=stdin)
    assert from_stdin.status == 0
    assert fields(from_stdin)["key"] == fields(outcome)["key"]


def test_an_unknown_key_exits_1(cli: Cli, redis_url: str, prefix: str) -> None:
    outcome = cli("inspect", "--url", redis_url, f"{prefix}:shop:nothing:here")
    assert outcome.status == 1
    assert outcome.out == ""
    assert outcome.err.startswith(f"idemsdk inspect: error: no key '{prefix}:shop:nothing:here'")


@pytest.mark.parametrize(
    ("kind", "write"),
    [
        ("string", lambda client, key: client.set(key, "hello")),
        ("list", lambda client, key: client.rpush(key, "a")),
        ("set", lambda client, key: client.sadd(key, "a")),
    ],
)
def test_a_value_of_another_type_exits_1(
    cli: Cli,
    redis_url: str,
    prefix: str,
    redis_client: redis.Redis,
    kind: str,
    write: object,
) -> None:
    key = f"{prefix}:shop:other"
    assert callable(write)
    write(redis_client, key)
    outcome = cli("inspect", "--url", redis_url, key)
    assert outcome.status == 1
    assert f"holds a Redis {kind}, not an idemsdk record" in outcome.err


def test_a_foreign_hash_exits_1(
    cli: Cli, redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    key = f"{prefix}:shop:user"
    redis_client.hset(key, mapping={"name": "Ada", "email": "ada@example.com"})
    outcome = cli("inspect", "--url", redis_url, key)
    assert outcome.status == 1
    assert "without idemsdk's status, token, fp (its fields: email, name)" in outcome.err


def test_a_garbage_body_is_shown_and_exits_1(
    cli: Cli, redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    charge = charge_function(redis_url, prefix)
    charge("o-7", 100)
    key = charge.key_for("o-7", 100)
    redis_client.hset(key, "body", b"json/1\n\xff\xfe not a record")
    outcome = cli("inspect", "--url", redis_url, key)
    assert outcome.status == 1
    shown = fields(outcome)
    assert shown["status"] == "completed"  # what can be read is still shown
    assert shown["problem"].startswith("the body cannot be read: the JSON record is malformed")
    assert outcome.err.startswith("idemsdk inspect: error: the body cannot be read")
    as_json = cli("inspect", "--url", redis_url, key, "--json")
    assert as_json.status == 1
    assert json.loads(as_json.out)["problem"].startswith("the body cannot be read")


def test_usage_errors_exit_2(cli: Cli, redis_url: str, tmp_path: Path) -> None:
    both = cli("inspect", "--url", redis_url, "k", "--tenant", "t", "--scope", "s")
    assert both.status == 2
    assert "not both" in both.err
    neither = cli("inspect", "--url", redis_url)
    assert neither.status == 2
    assert "give KEY, or --tenant, --scope and --payload-json" in neither.err
    partial = cli("inspect", "--url", redis_url, "--tenant", "t", "--scope", "s")
    assert partial.status == 2
    options = ["--url", redis_url, "--tenant", "t", "--scope", "s", "--payload-json"]
    missing = cli("inspect", *options, str(tmp_path / "absent.json"))
    assert missing.status == 2
    assert "cannot read --payload-json" in missing.err
    assert "No such file or directory" in missing.err
    bad = tmp_path / "bad.json"
    bad.write_text("{'order_id': 1}")
    invalid = cli("inspect", *options, str(bad))
    assert invalid.status == 2
    assert f"{bad} is not valid JSON" in invalid.err


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "redis://127.0.0.1:6379/zero",
        "redis+cluster://127.0.0.1:7000/2",
        "redis+sentinel://127.0.0.1:26379/",
    ],
)
def test_a_bad_url_exits_2(cli: Cli, url: str) -> None:
    outcome = cli("inspect", "--url", url, "some:key")
    assert outcome.status == 2
    assert outcome.err.startswith("idemsdk inspect: error: ")


def test_an_unreachable_server_exits_1(cli: Cli) -> None:
    outcome = cli("inspect", "--url", f"redis://127.0.0.1:{free_port()}/0", "some:key")
    assert outcome.status == 1
    assert "cannot reach" in outcome.err


def test_inspect_runs_as_a_real_process(redis_url: str, prefix: str) -> None:
    charge = charge_function(redis_url, prefix)
    charge("o-8", 42)
    key = charge.key_for("o-8", 42)
    outcome = run_module("inspect", "--url", redis_url, key)
    assert outcome.status == 0
    assert fields(outcome)["status"] == "completed"
    missing = run_module("inspect", "--url", redis_url, f"{prefix}:shop:none")
    assert missing.status == 1
    assert "no key" in missing.err


def test_a_key_on_another_cluster_node_names_that_node(cli: Cli, start_redis: StartRedis) -> None:
    nodes = [
        start_redis("--cluster-enabled", "yes", "--cluster-port", str(free_port())) for _ in "ab"
    ]
    first, second = (redis.Redis.from_url(node.url) for node in nodes)
    first.cluster("ADDSLOTSRANGE", 0, 8191)
    second.cluster("ADDSLOTSRANGE", 8192, 16383)
    bus = second.config_get("cluster-port")["cluster-port"]
    first.cluster("MEET", "127.0.0.1", nodes[1].port, bus)
    wait_for(
        lambda: all(node.cluster("INFO")["cluster_state"] == "ok" for node in (first, second)),
        "the two-node cluster",
    )
    first.close()
    second.close()
    outcome = cli("inspect", "--url", nodes[0].url, "x")  # slot 16287: the second node's
    assert outcome.status == 1
    assert f"slot 16287: the cluster node 127.0.0.1:{nodes[1].port} does" in outcome.err
