"""An order service on FastAPI, made safe to retry by idemsdk's ASGI middleware.

    pip install 'idemsdk[dev]'         # or: idemsdk fastapi uvicorn
    python docs/examples/fastapi_app.py  # REDIS_URL=redis://... to use Redis

    curl -si -X POST localhost:8002/orders -H 'Idempotency-Key: order-1' \
         -H 'Content-Type: application/json' -d '{"sku": "SKU-1", "qty": 2}'

Send the same request twice: the second answer is the first one, replayed
(`Idempotent-Replayed: true`), and the order is created once.
"""

from __future__ import annotations

import itertools
import os

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from idemsdk import AsyncRedisStore, Idempotency, MemoryStore
from idemsdk.http import IdempotencyMiddleware


class NewOrder(BaseModel):
    sku: str
    qty: int = 1


class Order(NewOrder):
    id: int


def build(idempotency: Idempotency) -> FastAPI:
    """The service, with every POST and PATCH guarded by an Idempotency-Key."""
    app = FastAPI()
    numbers = itertools.count(1)
    orders: dict[int, Order] = {}

    @app.post("/orders", status_code=201)
    async def create_order(new: NewOrder) -> Order:
        number = next(numbers)  # the side effect a retry must not repeat
        orders[number] = Order(id=number, **new.model_dump())
        return orders[number]

    @app.get("/orders")
    async def count_orders() -> dict[str, int]:
        return {"orders": len(orders)}

    app.add_middleware(IdempotencyMiddleware, idempotency=idempotency, required=True)
    return app


def main() -> None:
    """Serve on 127.0.0.1:8002, on Redis if REDIS_URL is set, else in memory."""
    url = os.environ.get("REDIS_URL")
    store = AsyncRedisStore.from_url(url) if url else MemoryStore()
    uvicorn.run(build(Idempotency(store, tenant="shop")), host="127.0.0.1", port=8002)


if __name__ == "__main__":
    main()
