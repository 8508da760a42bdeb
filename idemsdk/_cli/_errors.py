"""What a command can fail with, and the exit status each failure means.

The command line's errors sit under :class:`~idemsdk.IdempotencyError` like every other
idemsdk error, so ``main`` catches one root. The exit statuses are a contract for scripts:

    0  done (``doctor``: no failure; warnings allowed unless ``--strict``)
    1  the command ran and found a problem: a failed check, an unreachable server, an
       unknown key, a value that is not an idemsdk record
    2  the command was asked the wrong thing: options, URL, payload, tenant, scope, secret
"""

from __future__ import annotations

from .._errors import CanonicalizationError, ConfigurationError, IdempotencyError, InvalidKey

__all__ = ["FAILED", "OK", "USAGE", "KeyNotFound", "UsageError", "exit_status"]

OK = 0
FAILED = 1
USAGE = 2


class UsageError(ConfigurationError):
    """Options that cannot work: a malformed URL, missing or conflicting arguments."""


class KeyNotFound(IdempotencyError):
    """Nothing is stored under the key (expired, never written, or another namespace)."""


def exit_status(error: IdempotencyError) -> int:
    """The exit status for a command that raised ``error``."""
    # A bad tenant, scope or payload is the caller's input, like a bad option: fixing the
    # command line fixes it, which is what status 2 tells a script.
    if isinstance(error, (ConfigurationError, InvalidKey, CanonicalizationError)):
        return USAGE
    return FAILED
