"""The HTTP rules, written once: which statuses are retried, refused or stop the run.

Also the texts of failures, free of URLs and headers (which may hold a signature), and the
vendor's own error message. :mod:`tap_msgreports.sending` applies these rules to requests.
"""

from __future__ import annotations

import enum
import typing as t
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports.bodies import BROKEN_MID_BODY, TIMED_OUT, UNDECODABLE, SlowBodyError

#: Failures worth another try: the SDK's list (a malformed body is a RetriableAPIError).
RETRIABLE_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
HTTP_CLIENT_ERROR = 400
HTTP_OK = 200
ERROR_BODY_BYTES = 1 << 20  # an error message is short; more is not read
AUTH_STATUSES = frozenset({401, 403})


class StatusError(RetriableAPIError):
    """A retried status, with the status that counts (a 200 body may report its own)."""

    def __init__(self, message: str, response: requests.Response, status: int) -> None:
        """Keep ``status``: the response's own is 200 when its body reported the failure."""
        super().__init__(message, response)
        self.status = status


class Status(enum.Enum):
    """What a status means for the request that got it."""

    OK = "ok"  # 2xx, or a 3xx the caller refuses as a redirect
    RETRY = "retry"  # 429 and 5xx: worth another try
    AUTH = "auth"  # 401, 403: the credentials are refused; the run stops
    REFUSED = "refused"  # any other 4xx: the vendor's to say what it means


def status_rule(status: int) -> Status:
    """The one rule: 429 and 5xx are retried, 401/403 stop the run, other 4xx are refusals."""
    if status == HTTP_TOO_MANY_REQUESTS or status >= HTTP_SERVER_ERROR:
        return Status.RETRY
    if status in AUTH_STATUSES:
        return Status.AUTH
    return Status.REFUSED if status >= HTTP_CLIENT_ERROR else Status.OK


def require_objects(items: list[t.Any], what: str) -> None:
    """Refuse a list of records holding anything but objects, as a malformed body (retried).

    Such a list is a broken body (a proxy, a truncated rewrite), not fewer records: dropping
    the other values would lose rows without a word.
    """
    if others := sum(type(item) is not dict for item in items):
        msg = f"malformed body: {others} of {len(items)} {what} are not objects"
        raise RetriableAPIError(msg)


def vendor_message(response: requests.Response, *paths: tuple[str, ...]) -> str:
    """The vendor's error text: the first field found at ``paths`` in a JSON body.

    Each vendor keeps it elsewhere (CleverTap ``error``, Messangi ``meta.explain``, MoEngage
    ``error.message``); without one, the start of the body is the message.
    """
    try:
        body = response.json()
    except ValueError:
        return short_text(response)
    return text_at(body, *paths) or short_text(response)


def text_at(body: t.Any, *paths: tuple[str, ...]) -> str | None:  # noqa: ANN401
    """The first non-empty field found at one of ``paths`` in a parsed body, as text."""
    for path in paths:
        value = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            return str(value)
    return None


def status_text(response: requests.Response, status: int) -> str:
    """``HTTP 429``, or ``HTTP 200 reporting 429`` for a status a 200 body gave."""
    if status == response.status_code:
        return f"HTTP {status}"
    return f"HTTP {response.status_code} reporting {status}"


def url_origin(url: str) -> str:
    """Scheme, host and port of a URL, without its path and query (which may hold a signature)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "another address"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def short_text(response: requests.Response, limit: int = 300) -> str:
    """The start of a response body, on one line, for error messages."""
    text = response.text.replace("\n", " ").strip()
    return text[:limit] + ("..." if len(text) > limit else "") if text else "(empty body)"


#: Failures whose text may hold a URL or a header: the reason shown instead, first match.
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (requests.exceptions.Timeout, TIMED_OUT),
    (requests.exceptions.ChunkedEncodingError, BROKEN_MID_BODY),
    (requests.exceptions.ContentDecodingError, UNDECODABLE),
    ((requests.exceptions.ConnectionError, ConnectionResetError), "connection failed or dropped"),
)


def failure_reason(exception: BaseException | None) -> str:
    """A one-line reason for a failed try, free of URLs and headers."""
    if isinstance(exception, RetriableAPIError | SlowBodyError):
        return str(exception)  # our own text
    for kinds, reason in _REASONS:
        if isinstance(exception, kinds):
            return reason
    return type(exception).__name__ if exception is not None else "unknown error"
