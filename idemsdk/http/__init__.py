"""HTTP server side: middleware that enforces ``Idempotency-Key`` on ASGI and WSGI apps.

Plain ASGI 3 and WSGI, so no web framework is needed: ``IdempotencyMiddleware`` wraps an
ASGI app (Starlette, FastAPI), ``WSGIIdempotencyMiddleware`` a WSGI app (Flask, Django).
See docs/http.md.
"""

from ._core import HttpRequest, StoredResponse
from .asgi import IdempotencyMiddleware
from .wsgi import WSGIIdempotencyMiddleware

__all__ = ["HttpRequest", "IdempotencyMiddleware", "StoredResponse", "WSGIIdempotencyMiddleware"]
