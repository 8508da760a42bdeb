"""An order service on Starlette, made safe to retry by idemsdk's ASGI middleware.

    pip install 'idemsdk[dev]'           # or: idemsdk starlette uvicorn
    python docs/examples/starlette_app.py  # REDIS_URL=redis://... to use Redis

    curl -si -X POST localhost:8000/orders -H 'Idempotency-Key: order-1' \
         -H 'Content-Type: application/json' -d '{"sku": "SKU-1", "qty": 2}'

Send the same request twice: the second answer is the first one, replayed
(`Idempotent-Replayed: true`), and the order is created once. FastAPI apps take the
middleware the same way: `app.add_middleware(IdempotencyMiddleware, idempotency=idem)`.
"""

from __future__ import annotations

import itertools
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from idemsdk import AsyncRedisStore, Idempotency, MemoryStore
from idemsdk.http import IdempotencyMiddleware


def build(idempotency: Idempotency) -> Starlette:
    """The service, with every POST and PATCH guarded by an Idempotency-Key."""
    numbers = itertools.count(1)
    orders: dict[int, dict[str, object]] = {}

    async def create_order(request: Request) -> JSONResponse:
        number = next(numbers)  # the side effect a retry must not repeat
        orders[number] = {"id": number, **await request.json()}
        return JSONResponse(orders[number], status_code=201)

    async def count_orders(request: Request) -> JSONResponse:  # noqa: ARG001 - Starlette passes it
        return JSONResponse({"orders": len(orders)})

    app = Starlette(
        routes=[
            Route("/orders", create_order, methods=["POST"]),
            Route("/orders", count_orders, methods=["GET"]),
        ]
    )
    app.add_middleware(IdempotencyMiddleware, idempotency=idempotency, required=True)
    return app


def main() -> None:
    """Serve on 127.0.0.1:8000, on Redis if REDIS_URL is set, else in memory."""
    url = os.environ.get("REDIS_URL")
    store = AsyncRedisStore.from_url(url) if url else MemoryStore()
    uvicorn.run(build(Idempotency(store, tenant="shop")), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
