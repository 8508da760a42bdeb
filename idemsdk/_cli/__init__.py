"""The operator command line behind ``idemsdk`` / ``python -m idemsdk``: one module per command.

Pure modules judge and format (``_checks``, ``_cluster_checks``, ``_sentinel_checks``,
``_topology``, ``_report``, ``_view``, ``_render``, ``_payload``, ``_times``, ``_urls``); the
modules that talk to Redis (``_connect``, ``_gather``, ``_cluster``, ``_sentinels``) only
gather what those judge, and the commands (``_doctor``, ``_inspect``) put the two together.
"""

from __future__ import annotations

from . import _doctor, _inspect, _keygen
from ._errors import FAILED, OK, USAGE, exit_status

__all__ = ["COMMANDS", "FAILED", "OK", "USAGE", "exit_status"]

#: Each command module's ``add_parser``, in the order ``--help`` lists them.
COMMANDS = (_doctor.add_parser, _inspect.add_parser, _keygen.add_parser)
