"""Sockets and HTTP/1.1 framing: read a request, hand it to a dispatcher, write the reply.

Everything the emulator decides (routing, faults, limits) happens in the dispatcher; this module
only knows how to read a body, write a reply, drop or truncate it, and close connections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from tap_msgreports_emulator.vendor import Reply, Request, Response, json_response

if TYPE_CHECKING:
    from pathlib import Path

LOGGER = logging.getLogger(__name__)
# An idle keep-alive connection is closed after this long, so no handler thread waits forever.
KEEP_ALIVE_SECONDS = 30


class Dispatcher(Protocol):
    """What answers the requests a `LoopbackHTTPServer` reads."""

    def dispatch(self, request: Request) -> Reply:
        """Answer one request.

        Args:
            request: The request.
        """


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server that knows its dispatcher and its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: Dispatcher) -> None:
        """Bind the socket (IPv6 when the host is an IPv6 address).

        Args:
            address: (host, port); port 0 picks a free port.
            app: What answers the requests.
        """
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the DNS lookup that `HTTPServer.server_bind` makes for the host name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def add_connection(self, connection: socket.socket) -> None:
        """Remember an open connection, to close it on shutdown.

        Args:
            connection: The accepted socket.
        """
        with self._connections_lock:
            self._connections.add(connection)

    def remove_connection(self, connection: socket.socket) -> None:
        """Forget a connection that has ended.

        Args:
            connection: The accepted socket.
        """
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake every handler still waiting on a keep-alive connection, so it ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401 - base signature
        """Log, at debug level only, a connection that ended with an error.

        Args:
            request: The socket.
            client_address: The client's address.
        """
        # A client that hangs up early is normal here (timeouts, dropped-connection faults);
        # errors of the emulator itself are logged where they happen, in _Handler._serve.
        del request
        LOGGER.debug("connection from %s ended: %r", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the dispatcher answer it, writes the reply."""

    protocol_version = "HTTP/1.1"
    server_version = "tap-msgreports-emulator"
    timeout = KEEP_ALIVE_SECONDS
    # Headers and body go out in two writes; with Nagle's algorithm the second one waits for
    # the client's delayed ACK, which adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    @property
    def _httpd(self) -> LoopbackHTTPServer:
        return cast("LoopbackHTTPServer", self.server)

    def setup(self) -> None:
        super().setup()
        self._httpd.add_connection(self.connection)

    def finish(self) -> None:
        self._httpd.remove_connection(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - base signature
        # Only the request line and status: headers (passcodes) never reach a log.
        LOGGER.debug(format, *args)

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except ValueError:
            self.close_connection = True
            self._send(Reply(json_response(400, {"error": "unreadable request"})))
            return
        try:
            reply = self._httpd.app.dispatch(request)
        except Exception:  # a bug must still get an answer, and be logged
            LOGGER.exception("emulator failed on %s %s", request.method, request.path)
            reply = Reply(json_response(500, {"error": "emulator error"}))
        self._send(reply)
        if reply.after is not None:
            reply.after()

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        return Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline().strip():
            pass  # trailer fields, up to the blank line
        return b"".join(chunks)

    def _send(self, reply: Reply) -> None:
        response = reply.response
        if response is None:
            # A dropped connection: nothing is written and the socket is closed.
            self.close_connection = True
            return
        if response.file is not None:
            self._send_file(response, response.file, truncate=reply.truncate)
            return
        body = response.body[: len(response.body) // 2] if reply.truncate else response.body
        self._send_head(response, len(response.body), truncate=reply.truncate)
        self.wfile.write(body)

    def _send_file(self, response: Response, path: Path, *, truncate: bool) -> None:
        with path.open("rb") as body:
            length = os.fstat(body.fileno()).st_size
            self._send_head(response, length, truncate=truncate)
            count = length // 2 if truncate else length
            if count:  # socket.sendfile takes no count as "to the end of the file"
                self.connection.sendfile(body, 0, count)

    def _send_head(self, response: Response, length: int, *, truncate: bool) -> None:
        """Send the status line and headers; a truncated reply still promises `length`."""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        for name, value in response.headers:
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
