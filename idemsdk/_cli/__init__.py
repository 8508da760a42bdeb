"""The operator command line behind ``idemsdk`` / ``python -m idemsdk``: one module per command.

Pure modules judge and format (``_checks``, ``_report``, ``_view``, ``_render``, ``_payload``,
``_times``, ``_urls``); only ``_connect``, ``_doctor`` and ``_inspect`` talk to Redis.
"""

from __future__ import annotations

from . import _doctor, _inspect, _keygen
from ._errors import FAILED, OK, USAGE, exit_status

__all__ = ["COMMANDS", "FAILED", "OK", "USAGE", "exit_status"]

#: Each command module's ``add_parser``, in the order ``--help`` lists them.
COMMANDS = (_doctor.add_parser, _inspect.add_parser, _keygen.add_parser)
