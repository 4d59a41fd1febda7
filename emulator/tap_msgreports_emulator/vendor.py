"""What the server hands a vendor emulation, what it gets back, and the interface a vendor fills.

The server owns sockets, latency, faults, concurrency counting and the control endpoints; a
vendor module only turns a `Request` into a `Response` and describes itself. A new vendor is one
module with one `VendorAPI` subclass, added to `EmulatorServer`'s default vendors.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import date
    from pathlib import Path


@dataclass(frozen=True)
class Request:
    """One HTTP request, already read from the socket.

    Attributes:
        method: Upper-case HTTP method.
        path: URL path without the query string.
        query: Query parameters, each with all its values.
        headers: Header values by lower-case name (HTTP header names are case-insensitive).
        body: The raw request body.
    """

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return a header value, whatever the case of its name.

        Args:
            name: Header name.

        Returns:
            The value, or None if the header is missing.
        """
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """Return the first value of a query parameter.

        Args:
            name: Parameter name.

        Returns:
            The value, or None if the parameter is missing.
        """
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:  # noqa: ANN401 - a JSON body can be any JSON value
        """Parse the body as JSON.

        Returns:
            The parsed value.

        Raises:
            ValueError: If the body is not UTF-8 JSON.
        """
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Response:
    """One HTTP response to send.

    Attributes:
        status: HTTP status code.
        body: The body, sent with a Content-Length.
        content_type: The Content-Type header.
        headers: Extra headers, in order.
        file: A file whose bytes are the body instead of `body`, sent from disk in chunks
            (report files can be far larger than what should be held in memory).
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    file: Path | None = None


@dataclass(frozen=True)
class Reply:
    """What the handler sends back for one request.

    Attributes:
        response: The response, or None to close the socket without answering.
        truncate: Send the full Content-Length but only half the body, then close.
        after: Called once the reply is sent.
    """

    response: Response | None
    truncate: bool = False
    after: Callable[[], None] | None = None


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """Build a JSON response.

    Args:
        status: HTTP status code.
        payload: Any JSON-serialisable value.
        headers: Extra headers.

    Returns:
        The response.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers)


class VendorAPI(ABC):
    """The emulation of one vendor's API.

    Attributes:
        name: Vendor name used in status counters and fault plans, e.g. `"clevertap"`.
        streams: Tap streams whose truth this vendor can tell.
        max_concurrency: Requests allowed in flight per concurrency key; None for no limit.
    """

    name: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ()
    max_concurrency: int | None = None

    @abstractmethod
    def handles(self, path: str) -> bool:
        """Say whether a URL path belongs to this vendor.

        Args:
            path: URL path without the query string.
        """

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer a request for one of this vendor's paths.

        Args:
            request: The request.
        """

    @abstractmethod
    def error_response(self, status: int, retry_after: int | None = None) -> Response:
        """Build the vendor's error response for a status (injected faults, rate limits).

        Args:
            status: HTTP status code (429, 500, 503, ...).
            retry_after: Seconds for a `Retry-After` header, or None for no header.
        """

    def failure_in_ok(self, kind: str) -> Response | None:
        """Build the vendor's HTTP 200 that reports a failure, for a kind of `FAILURES_IN_OK`.

        Args:
            kind: The injected fault kind, e.g. `"200-429"`.

        Returns:
            The response, or None when the vendor never reports failures inside a 200 (the
            default) or the kind is not such a failure.
        """
        del kind
        return None

    @abstractmethod
    def tap_config(self, base_url: str) -> dict[str, Any]:
        """Return the tap settings that point this vendor's streams at the emulator.

        Args:
            base_url: The emulator's URL, e.g. `http://127.0.0.1:8765`.
        """

    def close(self) -> None:  # noqa: B027 - an optional hook: most vendors hold nothing
        """Release what the emulation holds, such as temporary files; the server calls it on stop.

        A vendor may be used again after `close()`; it then builds what it needs anew.
        """

    def stream_of(self, request: Request) -> str | None:
        """Name the tap stream a request reads: by default, the vendor's only stream.

        The server logs it with each request and fault plans can be limited to streams.

        Args:
            request: The request.

        Returns:
            A name from `streams`, or None when the vendor cannot tell.
        """
        del request
        return self.streams[0] if len(self.streams) == 1 else None

    def issued_secrets(self) -> dict[str, str]:
        """Return every secret this emulation has handed out or computed, with what it is.

        Tests scan what the tap printed and logged for these; the description names the
        secret without showing it.

        Returns:
            Secret -> description, e.g. `{"emu-...": "Messangi API key"}`.
        """
        return {}

    def concurrency_key(self, request: Request) -> str | None:
        """Name what the vendor counts concurrent requests by: by default, the vendor.

        A vendor that limits requests per account returns the account instead. Either way
        tests can read the most requests seen in flight at once.

        Args:
            request: The request.

        Returns:
            The key, or None when the request is not counted.
        """
        del request
        return self.name

    def truth(
        self, stream: str, start: date, end: date, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the records a correct tap holds for a stream and a day range.

        Args:
            stream: One of `streams`.
            start: First day, inclusive.
            end: Last day, inclusive.
            account_id: Only this account's records, or None for all.

        Raises:
            KeyError: Always, for a vendor that tells no truth.
        """
        del start, end, account_id
        raise KeyError(stream)
