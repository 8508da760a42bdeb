"""The running call's key, and the keys its outgoing requests derive from it.

While an idempotent function (or a request the HTTP middleware claimed) runs, its key is in
a context variable. An outgoing request made there gets a key derived from it: a hash of
the parent key and a label, by default the request's position among the call's requests
("0", "1", ...). When the parent is retried after a crash and makes the same requests in
the same order, they carry the same keys, so the services downstream deduplicate them too.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from blake3 import blake3

__all__ = ["current_key", "derive_key", "enter", "leave"]


class _Running:
    """A running call: its key and how many derived keys it has handed out."""

    __slots__ = ("count", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0


_running: ContextVar[_Running | None] = ContextVar("idemsdk_running_call", default=None)


def current_key() -> str | None:
    """The key of the idempotent call running in this context, or None outside one."""
    running = _running.get()
    return None if running is None else running.key


def derive_key(label: str | None = None) -> str | None:
    """A key for a request the running call makes: the same on every retry of that call.

    With a ``label`` (for example ``"charge-card"``) the key depends on it alone; without,
    on how many keys this call derived before. None outside an idempotent call.
    """
    running = _running.get()
    if running is None:
        return None
    if label is None:
        label, running.count = f"#{running.count}", running.count + 1
    else:
        label = f"={label}"  # never equal to a counted label
    return blake3(f"{running.key}\n{label}".encode()).hexdigest()


def enter(key: str) -> Token[_Running | None]:
    """Mark ``key`` as the running call's, until :func:`leave` with the returned token."""
    return _running.set(_Running(key))


def leave(token: Token[_Running | None]) -> None:
    """End what :func:`enter` began."""
    _running.reset(token)
