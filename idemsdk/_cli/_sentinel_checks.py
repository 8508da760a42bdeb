"""``doctor``'s judgement of a Sentinel setup: what the sentinels say of the service, no I/O.

The sentinels must agree on one primary that is up, be enough to fail over (CKQUORUM, and
three or more, so that losing one leaves a majority), and have a replica to promote. The
primary they name is then judged as one server (``_checks.evaluate``), its replicas as
replicas (``_checks.evaluate_replica``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._checks import Facts, Finding, Level
from ._topology import Diagnosis, Node, Section, node_findings
from ._urls import address

__all__ = ["SentinelFacts", "SentinelReply", "evaluate_sentinel", "known", "listed"]

#: Fewer, and losing one sentinel (or a partition) can leave no majority to fail over.
MIN_SENTINELS = 3
#: Flags of a server a sentinel sees down: subjectively (itself) or objectively (a quorum).
#: CKQUORUM counts the sentinels without them; a link still being made is not down.
_DOWN = frozenset({"s_down", "o_down"})
#: Flags of a replica Sentinel would not promote (sentinelSelectSlave skips them).
_UNPROMOTABLE = _DOWN | {"disconnected"}


@dataclass(frozen=True, slots=True)
class SentinelReply:
    """What one sentinel said of the service."""

    #: The sentinel, ``host:port``.
    sentinel: str
    #: SENTINEL MASTER's fields; ``None`` when this sentinel does not know the service.
    primary: Mapping[str, str] | None
    #: SENTINEL REPLICAS: each replica's fields.
    replicas: Sequence[Mapping[str, str]] = ()
    #: SENTINEL SENTINELS: each other sentinel watching the service.
    sentinels: Sequence[Mapping[str, str]] = ()
    #: SENTINEL CKQUORUM's answer, or its error.
    quorum: str = ""
    quorum_ok: bool = False
    #: The services it does watch (SENTINEL MASTERS), to suggest when it lacks this one.
    services: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SentinelFacts:
    """What the sentinels said, and the facts of the primary they name and its replicas."""

    service: str
    #: The sentinels that answered, in the URL's order.
    replies: Sequence[SentinelReply]
    #: The URL's sentinels that did not answer, and why, by address.
    silent: Mapping[str, str] = field(default_factory=dict)
    #: The primary's and the replicas' facts by address; why one could not be asked in
    #: ``errors``.
    facts: Mapping[str, Facts] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def known(replies: Sequence[SentinelReply]) -> SentinelReply | None:
    """The first reply from a sentinel that knows the service: the view doctor follows."""
    return next((reply for reply in replies if reply.primary is not None), None)


def listed(server: Mapping[str, str]) -> tuple[str, int]:
    """(host, port) of a primary or replica as SENTINEL MASTER / REPLICAS list it."""
    return server.get("ip", "?"), int(server.get("port", "0"))


def evaluate_sentinel(facts: SentinelFacts) -> Diagnosis:
    """The sentinels' findings, then the primary's, then each replica's."""
    total = len(facts.replies) + len(facts.silent)
    heading = f"sentinels of service {facts.service!r}: {len(facts.replies)} of {total} answered"
    view = known(facts.replies)
    if view is None or view.primary is None:
        findings = [_sentinels(facts, None), _unknown_service(facts)]
        return Diagnosis("sentinel", [Section(heading, findings)])
    primary = address(*listed(view.primary))
    checks = [
        _sentinels(facts, view),
        _primary(facts, view.primary),
        _quorum(view, view.primary),
        _failover(view),
    ]
    sections = [
        Section(heading, checks),
        Section(
            f"primary {primary}, as the sentinels name it",
            _findings(facts, primary, primary=True),
            Node(primary, "primary"),
        ),
    ]
    for replica in view.replicas:
        shown = address(*listed(replica))
        sections.append(
            Section(
                f"replica {shown} of {primary}",
                _findings(facts, shown, primary=False),
                Node(shown, "replica", primary=primary),
            )
        )
    return Diagnosis("sentinel", sections)


def _findings(facts: SentinelFacts, node: str, *, primary: bool) -> list[Finding]:
    error = facts.errors.get(node, "not asked")
    return node_findings(facts.facts.get(node), error, primary=primary)


def _sentinels(facts: SentinelFacts, view: SentinelReply | None) -> Finding:
    problems = []
    if facts.silent:
        problems.append(
            f"{len(facts.silent)} of the URL's sentinels did not answer "
            f"({'; '.join(facts.silent.values())})"
        )
    lost = [reply.sentinel for reply in facts.replies if reply.primary is None]
    if view is not None and lost:
        problems.append(f"{', '.join(lost)} {_does(len(lost))} not watch {facts.service!r}")
    if view is None or view.primary is None:
        answered = f"{len(facts.replies)} of {len(facts.replies) + len(facts.silent)} answered"
        if problems:
            return Finding("sentinels", Level.WARN, f"{'; '.join(problems)}; {answered}")
        return Finding("sentinels", Level.OK, answered)
    others = [_flags(other) & _DOWN for other in view.sentinels]
    watching = 1 + others.count(set())
    count = f"{watching} {'sentinel watches' if watching == 1 else 'sentinels watch'} the primary"
    if len(others) + 1 > watching:
        count += f" ({len(others) + 1 - watching} more known, but down)"
    if watching < MIN_SENTINELS:
        problems.append(
            f"{count}: with fewer than {MIN_SENTINELS}, losing one (or a network partition) "
            "can leave no majority to agree on a failover; run 3 or more, on separate machines"
        )
        return Finding("sentinels", Level.WARN, "; ".join(problems))
    if problems:
        return Finding("sentinels", Level.WARN, f"{'; '.join(problems)}; {count}")
    return Finding("sentinels", Level.OK, f"{count}, and every sentinel of the URL answered")


def _unknown_service(facts: SentinelFacts) -> Finding:
    watched = sorted({name for reply in facts.replies for name in reply.services})
    they = f"they watch {', '.join(map(repr, watched))}" if watched else "they watch none"
    return Finding(
        "primary",
        Level.FAIL,
        f"no sentinel knows the service {facts.service!r} ({they}): check the name after "
        "the hosts in the URL; other checks skipped",
    )


def _primary(facts: SentinelFacts, fields: Mapping[str, str]) -> Finding:
    named: dict[str, list[str]] = {}
    for reply in facts.replies:
        if reply.primary is not None:
            named.setdefault(address(*listed(reply.primary)), []).append(reply.sentinel)
    if len(named) > 1:
        views = "; ".join(f"{primary} (by {', '.join(by)})" for primary, by in named.items())
        return Finding(
            "primary",
            Level.FAIL,
            f"the sentinels disagree on the primary: {views}; clients asking different "
            "sentinels would write to different servers (rerun once a failover ends)",
        )
    primary = address(*listed(fields))
    down = sorted(_flags(fields) & _DOWN)
    if down:
        return Finding(
            "primary",
            Level.FAIL,
            f"the sentinels see the primary {primary} down ({', '.join(down)}): calls fail "
            "until a failover completes",
        )
    by = len(next(iter(named.values())))
    return Finding(
        "primary",
        Level.OK,
        f"{primary}, named by {by} of the {len(facts.replies)} sentinels that answered",
    )


def _quorum(view: SentinelReply, fields: Mapping[str, str]) -> Finding:
    quorum = fields.get("quorum", "?")
    if view.quorum_ok:
        return Finding("quorum", Level.OK, f"quorum {quorum}: {view.quorum}")
    return Finding(
        "quorum",
        Level.FAIL,
        f"quorum {quorum}: {view.quorum}: if the primary is lost, no failover happens",
    )


def _failover(view: SentinelReply) -> Finding:
    ready = [
        address(*listed(replica))
        for replica in view.replicas
        if not _flags(replica) & _UNPROMOTABLE
    ]
    if not ready:
        down = f" ({len(view.replicas)} known, all down)" if view.replicas else ""
        return Finding(
            "failover",
            Level.WARN,
            f"no replica the sentinels could promote{down}: losing the primary loses every "
            "record and nothing takes over; financial use wants one",
        )
    replicas = "replica" if len(ready) == 1 else "replicas"
    return Finding(
        "failover",
        Level.OK,
        f"{len(ready)} {replicas} the sentinels can promote ({', '.join(ready)})",
    )


def _does(count: int) -> str:
    return "does" if count == 1 else "do"


def _flags(server: Mapping[str, str]) -> set[str]:
    return set(server.get("flags", "").split(","))
