"""The demo behind ``python -m idemsdk demo``: the four behaviours that matter, on a MemoryStore."""

from __future__ import annotations

import threading
import time

from ._errors import PayloadMismatch, RequestInProgress
from ._idempotency import Idempotency
from ._memory import MemoryStore

__all__ = ["run"]


def run() -> int:
    """Print a first call, a replay, a concurrent duplicate and a refused payload."""
    idem = Idempotency(MemoryStore(), tenant="demo")
    charges: list[str] = []
    started = threading.Event()

    @idem.idempotent(key="order_id")
    def charge(order_id: str, amount_cents: int, slow: bool = False) -> dict[str, object]:
        charges.append(order_id)
        if slow:
            started.set()
            time.sleep(0.3)
        return {"charge": f"ch_{len(charges)}", "order": order_id, "amount_cents": amount_cents}

    print("1. first call runs the function:")
    print("   charge('ord-1', 1999) ->", charge("ord-1", 1999))
    print("2. a duplicate replays the stored result; the function does not run:")
    print("   charge('ord-1', 1999) ->", charge("ord-1", 1999))

    print("3. a duplicate arriving while the first call still runs is told to retry:")
    first = threading.Thread(target=charge, args=("ord-2", 500), kwargs={"slow": True})
    first.start()
    started.wait()
    try:
        charge("ord-2", 500, slow=True)
    except RequestInProgress as exc:
        print(f"   RequestInProgress: retry after {exc.retry_after:.2f}s")
    first.join()
    print("   after it finishes, the duplicate gets its result:", charge("ord-2", 500, slow=True))

    print("4. the same key with another payload is refused; nothing runs:")
    try:
        charge("ord-1", 99999)
    except PayloadMismatch as exc:
        print(f"   PayloadMismatch: {exc.message}")

    print(f"the function ran {len(charges)} times for 6 calls: {charges}")
    return 0
