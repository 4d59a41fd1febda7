"""A tiny HTTP server on 127.0.0.1 whose answers a test scripts, for hostile or odd replies."""

from __future__ import annotations

import contextlib
import http.server
import threading
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Answer = t.Callable[["Handler"], None]


class Handler(http.server.BaseHTTPRequestHandler):
    """Hands every request to the server's ``answer``, and records what it was sent."""

    server: Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers.items())))
        self.server.answer(self)

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, *args: t.Any) -> None:
        """Quiet."""


class Server(http.server.ThreadingHTTPServer):
    """A threading server with a scripted answer and the requests it got."""

    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer: Answer = answer
        self.seen: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(answer: Callable[[Handler], None]) -> Iterator[Server]:
    """A running :class:`Server`, shut down on exit (its threads are daemons)."""
    server = Server(answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
