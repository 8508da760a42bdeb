"""A real HTTP server on a loopback port that answers from a script, for the client tests.

Each request takes the next action from the script (a 200 once it is empty) and is recorded
with its headers and body. :class:`Reply` answers; :class:`Drop` closes the connection
without a word; :class:`Stall` keeps the client waiting past its timeout, then answers.
"""

from __future__ import annotations

import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Action", "Drop", "Reply", "ScriptedServer", "Seen", "Stall"]


@dataclass(frozen=True)
class Reply:
    """Answer with this status, headers and body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (after reading the request)."""


@dataclass(frozen=True)
class Stall:
    """Answer 200 only after ``seconds`` (or when the server stops)."""

    seconds: float = 2.0


Action = Reply | Drop | Stall


@dataclass(frozen=True)
class Seen:
    """A request as the server received it; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        seen = Seen(
            self.command,
            self.path,
            {name.lower(): value for name, value in self.headers.items()},
            self._body(),
        )
        self.server.seen.append(seen)
        action = self.server.next_action()
        if isinstance(action, Drop):
            self.close_connection = True
            return
        if isinstance(action, Stall):
            self.server.stopping.wait(action.seconds)
            action = Reply()
        self.send_response(action.status)
        for name, value in action.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(action.body)))
        self.end_headers()
        self.wfile.write(action.body)

    # The names BaseHTTPRequestHandler looks up, one per method.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer  # noqa: N815

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # the tests read ``seen``, not stderr


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []
        self.script: deque[Action] = deque()
        self.stopping = threading.Event()

    def next_action(self) -> Action:
        try:
            return self.script.popleft()
        except IndexError:
            return Reply()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left makes the stalled answer fail: expected


class ScriptedServer:
    """The server, running in a thread; use it as a context manager.

    With ``tls`` (a certificate file and its key file) it speaks HTTPS.
    """

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self._server = _Server()
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        # A short poll: shutdown() waits for the loop to notice, and every test stops one.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"{scheme}://{host!s}:{port}"

    @property
    def seen(self) -> list[Seen]:
        """Every request received so far, in order."""
        return self._server.seen

    def script(self, *actions: Action) -> None:
        """Answer the next requests with ``actions``, in order (then 200s)."""
        self._server.script.extend(actions)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
