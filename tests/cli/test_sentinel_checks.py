"""Doctor's judgement of a Sentinel setup, pure: what the sentinels said, to findings."""

from __future__ import annotations

from typing import Any

from idemsdk._cli._checks import Level
from idemsdk._cli._sentinel_checks import SentinelFacts, SentinelReply, evaluate_sentinel
from idemsdk._cli._topology import Diagnosis, Node

from .samples import facts

PRIMARY = {"name": "pay", "ip": "10.0.0.1", "port": "6379", "flags": "master", "quorum": "2"}
REPLICA = {"ip": "10.0.0.2", "port": "6379", "flags": "slave"}
OTHERS = [{"ip": "10.0.0.9", "port": "26379", "flags": "sentinel"}] * 2
QUORUM = "OK 3 usable Sentinels. Quorum and failover authorization can be reached"


def reply(sentinel: str = "10.0.0.7:26379", **changes: Any) -> SentinelReply:
    """A sentinel that sees a healthy primary with one replica and two other sentinels."""
    values: dict[str, Any] = {
        "sentinel": sentinel,
        "primary": PRIMARY,
        "replicas": [REPLICA],
        "sentinels": OTHERS,
        "quorum": QUORUM,
        "quorum_ok": True,
    }
    values.update(changes)
    return SentinelReply(**values)


def setup(*replies: SentinelReply, **changes: Any) -> SentinelFacts:
    """Sentinels answering ``replies`` (one healthy one by default), the servers healthy."""
    values: dict[str, Any] = {
        "service": "pay",
        "replies": replies or [reply()],
        "facts": {"10.0.0.1:6379": facts(), "10.0.0.2:6379": facts()},
    }
    values.update(changes)
    return SentinelFacts(**values)


def level(diagnosis: Diagnosis, check: str, heading: str = "sentinels") -> tuple[Level, str]:
    """The level and reason of ``check`` in the section whose heading starts so."""
    [section] = [s for s in diagnosis.sections if s.heading.startswith(heading)]
    [finding] = [f for f in section.findings if f.check == check]
    return finding.level, finding.reason


def test_a_healthy_setup_is_the_sentinels_view_then_the_primary_then_its_replicas() -> None:
    diagnosis = evaluate_sentinel(setup())
    assert diagnosis.mode == "sentinel"
    assert [section.heading for section in diagnosis.sections] == [
        "sentinels of service 'pay': 1 of 1 answered",
        "primary 10.0.0.1:6379, as the sentinels name it",
        "replica 10.0.0.2:6379 of 10.0.0.1:6379",
    ]
    sentinels, primary, replica = diagnosis.sections
    assert [(f.check, f.level) for f in sentinels.findings] == [
        ("sentinels", Level.OK),
        ("primary", Level.OK),
        ("quorum", Level.OK),
        ("failover", Level.OK),
    ]
    assert len(primary.findings) == 7
    assert [f.check for f in replica.findings] == ["version", "eviction", "persistence"]
    assert diagnosis.nodes == [
        Node("10.0.0.1:6379", "primary"),
        Node("10.0.0.2:6379", "replica", primary="10.0.0.1:6379"),
    ]
    assert level(diagnosis, "quorum") == (Level.OK, f"quorum 2: {QUORUM}")


def test_an_unknown_service_fails_naming_the_services_they_watch() -> None:
    lost = reply(primary=None, replicas=[], sentinels=[], services=["payments", "cache"])
    diagnosis = evaluate_sentinel(setup(lost))
    assert len(diagnosis.sections) == 1
    found, reason = level(diagnosis, "primary")
    assert found is Level.FAIL
    assert reason.startswith("no sentinel knows the service 'pay' (they watch 'cache', 'payments')")
    assert level(diagnosis, "sentinels") == (Level.OK, "1 of 1 answered")


def test_fewer_than_three_sentinels_warn() -> None:
    lonely = reply(sentinels=[OTHERS[0]])
    found, reason = level(evaluate_sentinel(setup(lonely)), "sentinels")
    assert found is Level.WARN
    assert reason.startswith("2 sentinels watch the primary: with fewer than 3")
    # A link being made (disconnected) is not down: CKQUORUM counts that sentinel too.
    linking = reply(sentinels=[OTHERS[0], {**OTHERS[1], "flags": "sentinel,disconnected"}])
    assert level(evaluate_sentinel(setup(linking)), "sentinels")[0] is Level.OK
    down = reply(sentinels=[OTHERS[0], {**OTHERS[1], "flags": "s_down,sentinel"}])
    found, reason = level(evaluate_sentinel(setup(down)), "sentinels")
    assert found is Level.WARN
    assert "2 sentinels watch the primary (1 more known, but down)" in reason


def test_sentinels_that_did_not_answer_or_lack_the_service_warn() -> None:
    silent = {"10.0.0.8:26379": "cannot reach sentinel 10.0.0.8:26379: refused"}
    other = reply("10.0.0.6:26379", primary=None, services=["cache"])
    found, reason = level(evaluate_sentinel(setup(reply(), other, silent=silent)), "sentinels")
    assert found is Level.WARN
    assert reason == (
        "1 of the URL's sentinels did not answer (cannot reach sentinel 10.0.0.8:26379: "
        "refused); 10.0.0.6:26379 does not watch 'pay'; 3 sentinels watch the primary"
    )


def test_sentinels_naming_different_primaries_fail() -> None:
    moved = reply("10.0.0.6:26379", primary={**PRIMARY, "ip": "10.0.0.2"})
    found, reason = level(evaluate_sentinel(setup(reply(), moved)), "primary")
    assert found is Level.FAIL
    assert reason.startswith(
        "the sentinels disagree on the primary: 10.0.0.1:6379 (by 10.0.0.7:26379); "
        "10.0.0.2:6379 (by 10.0.0.6:26379)"
    )


def test_a_primary_the_sentinels_see_down_fails() -> None:
    down = reply(primary={**PRIMARY, "flags": "master,s_down,o_down"})
    found, reason = level(evaluate_sentinel(setup(down)), "primary")
    assert found is Level.FAIL
    assert "down (o_down, s_down)" in reason


def test_no_quorum_fails_with_the_sentinels_words() -> None:
    refused = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the quorum"
    diagnosis = evaluate_sentinel(setup(reply(quorum=refused, quorum_ok=False)))
    found, reason = level(diagnosis, "quorum")
    assert found is Level.FAIL
    assert reason.startswith(f"quorum 2: {refused}")


def test_no_replica_to_promote_warns() -> None:
    found, reason = level(evaluate_sentinel(setup(reply(replicas=[]))), "failover")
    assert found is Level.WARN
    assert reason.startswith("no replica the sentinels could promote: losing the primary")
    gone = reply(replicas=[{**REPLICA, "flags": "slave,disconnected"}])
    found, reason = level(evaluate_sentinel(setup(gone)), "failover")
    assert found is Level.WARN
    assert "(1 known, all down)" in reason


def test_a_server_the_sentinels_name_but_doctor_cannot_reach_is_a_finding() -> None:
    errors = {
        "10.0.0.1:6379": "cannot reach redis://10.0.0.1:6379/0: refused",
        "10.0.0.2:6379": "redis://10.0.0.2:6379/0 did not answer in time",
    }
    diagnosis = evaluate_sentinel(setup(facts={}, errors=errors))
    assert level(diagnosis, "connect", "primary") == (Level.FAIL, errors["10.0.0.1:6379"])
    assert level(diagnosis, "connect", "replica") == (Level.WARN, errors["10.0.0.2:6379"])
