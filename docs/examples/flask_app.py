"""An order service on Flask, made safe to retry by idemsdk's WSGI middleware.

    pip install 'idemsdk[dev]'       # or: idemsdk flask
    python docs/examples/flask_app.py  # REDIS_URL=redis://... to use Redis

    curl -si -X POST localhost:8001/orders -H 'Idempotency-Key: order-1' \
         -H 'Content-Type: application/json' -d '{"sku": "SKU-1", "qty": 2}'

Send the same request twice: the second answer is the first one, replayed
(`Idempotent-Replayed: true`), and the order is created once.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from flask import Flask, jsonify, request

from idemsdk import Idempotency, MemoryStore, RedisStore
from idemsdk.http import WSGIIdempotencyMiddleware


def build(idempotency: Idempotency) -> Flask:
    """The service, with every POST and PATCH guarded by an Idempotency-Key."""
    app = Flask(__name__)
    numbers = itertools.count(1)
    orders: dict[int, dict[str, object]] = {}

    @app.post("/orders")
    def create_order() -> Any:
        number = next(numbers)  # the side effect a retry must not repeat
        orders[number] = {"id": number, **request.get_json()}
        return jsonify(orders[number]), 201

    @app.get("/orders")
    def count_orders() -> Any:
        return jsonify(orders=len(orders))

    app.wsgi_app = WSGIIdempotencyMiddleware(app.wsgi_app, idempotency, required=True)  # type: ignore[method-assign]
    return app


def main() -> None:
    """Serve on 127.0.0.1:8001, on Redis if REDIS_URL is set, else in memory."""
    url = os.environ.get("REDIS_URL")
    store = RedisStore.from_url(url) if url else MemoryStore()
    build(Idempotency(store, tenant="shop")).run(host="127.0.0.1", port=8001, threaded=True)


if __name__ == "__main__":
    main()
