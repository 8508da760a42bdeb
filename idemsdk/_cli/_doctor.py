"""``idemsdk doctor``: ask Redis what idemsdk needs to know, then judge (``_checks``).

One server (``redis://``), a cluster (``redis+cluster://``: every node) or a Sentinel setup
(``redis+sentinel://``: the sentinels, then the primary they name and its replicas).
"""

from __future__ import annotations

import argparse
import sys

from ._checks import evaluate, verdict
from ._cluster import gather_cluster
from ._cluster_checks import evaluate_cluster
from ._connect import check_timeout
from ._gather import gather_from
from ._options import add_json_option, add_server_options
from ._report import report_json, report_text
from ._sentinel_checks import evaluate_sentinel
from ._sentinels import gather_sentinel
from ._topology import Diagnosis, Section
from ._urls import check_url, cluster_url, redacted, sentinel_url

__all__ = ["add_parser", "diagnose", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``doctor``."""
    parser = commands.add_parser(
        "doctor",
        help="check that Redis (a server, a cluster or a Sentinel setup) is fit for idemsdk",
        description="Check Redis for idemsdk: version, mode, scripts, round trip, eviction, "
        "persistence, replicas; for a cluster, its slots and every node; for Sentinel, the "
        "sentinels' view, then the primary and its replicas. Exit 0 without failures, 1 with "
        "any (with --strict, warnings too), 2 for usage errors.",
    )
    add_server_options(parser)
    parser.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the findings; return the exit status."""
    diagnosis = diagnose(args.url, args.timeout)
    status = verdict(diagnosis.findings, strict=args.strict)
    report = report_json if args.json else report_text
    sys.stdout.write(report(redacted(args.url), diagnosis, status) + "\n")
    return status


def diagnose(url: str, timeout: float) -> Diagnosis:
    """Every finding for the Redis ``url`` names, grouped by node."""
    check_timeout(timeout)
    check_url(url)
    cluster = cluster_url(url)
    if cluster is not None:
        return evaluate_cluster(gather_cluster(url, cluster, timeout))
    sentinel = sentinel_url(url)
    if sentinel is not None:
        return evaluate_sentinel(gather_sentinel(url, sentinel, timeout))
    facts = gather_from(url, timeout)
    return Diagnosis(facts.info.get("redis_mode", "standalone"), [Section("", evaluate(facts))])
