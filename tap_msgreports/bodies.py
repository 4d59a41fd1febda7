"""Reading a streamed body: within a size limit, within a deadline, whole.

A hostile or broken server could declare or send a body of any size, drip it a byte at a
time, or end it short of its ``Content-Length``: every body the tap reads goes through here.
"""

from __future__ import annotations

import http.client
import time
import typing as t

import requests
import urllib3

from tap_msgreports.errors import SourceError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

READ_CHUNK = 1 << 20
TIMED_OUT = "timed out"
BROKEN_MID_BODY = "connection broken mid-body"
UNDECODABLE = "the body does not decode (Content-Encoding)"


class SlowBodyError(requests.exceptions.ReadTimeout):
    """A body still arriving past its deadline: a timeout, retried as one."""


def load_capped(response: requests.Response, limit: int, what: str, seconds: float) -> None:
    """Read a streamed body into ``response.content``: at most ``limit`` bytes, in time."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        msg = f"{what} declares {int(declared) >> 20} MB, over the {limit >> 20} MB limit"
        raise SourceError(msg)
    body = bytearray()
    with response:
        for chunk in arriving_chunks(response, seconds, what):
            body += chunk
            if len(body) > limit:
                msg = f"{what} grew beyond the {limit >> 20} MB limit"
                raise SourceError(msg)
    response._content = bytes(body)  # noqa: SLF001 - what requests does when it reads a body


def arriving_chunks(response: requests.Response, seconds: float, what: str) -> Iterator[bytes]:
    """A streamed body, decoded, in the pieces it arrives in, whole and within its deadline.

    ``iter_content`` waits for a whole chunk, so a body sent a byte at a time would hold it
    for ever; each read here returns what the connection has. The HTTP timeout bounds each
    wait, the :class:`BodyDeadline` the whole body. A body short of its ``Content-Length`` is
    broken, whoever reads it. Failures are those ``iter_content`` raises, so retries treat
    both alike.
    """
    raw = response.raw
    deadline = BodyDeadline(seconds, what)
    decoded = 0
    try:
        while chunk := raw.read1(READ_CHUNK, decode_content=True):
            decoded += len(chunk)
            deadline.check(_bytes_received(raw, decoded))
            yield chunk
    except urllib3.exceptions.ReadTimeoutError:
        raise requests.exceptions.ReadTimeout(TIMED_OUT) from None
    except (urllib3.exceptions.ProtocolError, http.client.IncompleteRead):
        raise requests.exceptions.ChunkedEncodingError(BROKEN_MID_BODY) from None
    except urllib3.exceptions.DecodeError:
        raise requests.exceptions.ContentDecodingError(UNDECODABLE) from None
    _check_whole(response, deadline.received)


#: After its first ``request_timeout`` seconds, a body must keep arriving at this rate on
#: average: a slow link passes (a 10 MB file may take 160 s more), a drip or a stall does not.
MIN_BODY_RATE = 64 << 10  # bytes per second


class BodyDeadline:
    """When a body must have arrived: ``request_timeout``, plus the time its bytes justify.

    Every byte received buys ``1 / MIN_BODY_RATE`` seconds, so a large file on a slow link
    is given the time it needs while a body dripped a byte at a time ends soon after
    ``request_timeout``. The check runs as each piece arrives: a body ends within its
    deadline plus one ``request_timeout`` (a read that waits in vain).
    """

    def __init__(self, seconds: float, what: str) -> None:
        """Start the clock now; ``what`` names the body in the error."""
        self.seconds, self.what = seconds, what
        self.started = time.monotonic()
        self.received = 0

    def check(self, received: int) -> None:
        """Note that ``received`` bytes are in; raise once the body is past its deadline."""
        self.received = received
        elapsed = time.monotonic() - self.started
        if elapsed > self.seconds + received / MIN_BODY_RATE:
            msg = (
                f"{self.what} was still arriving after {elapsed:.0f} s, past its deadline "
                f"(request_timeout {self.seconds:g} s, plus 1 s per {MIN_BODY_RATE >> 10} KB "
                "received)"
            )
            raise SlowBodyError(msg)


def _bytes_received(raw: t.Any, decoded: int) -> int:  # noqa: ANN401 - urllib3's, or a stand-in
    """Bytes received so far as sent (compressed): inflating earns a body no extra time."""
    tell = getattr(raw, "tell", None)
    return int(tell()) if callable(tell) else decoded


def _check_whole(response: requests.Response, received: int) -> None:
    """Raise if the body ended before the ``Content-Length`` it declared.

    urllib3 checks this too (``enforce_content_length``); checked here as well, so that no
    reader depends on how a session or a version of urllib3 is set up: a short plain CSV has
    nothing else (no CRC, no trailer) that would tell it is cut.
    """
    declared = response.headers.get("Content-Length", "")
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
    if declared.isdigit() and not chunked and received < int(declared):
        raise requests.exceptions.ChunkedEncodingError(BROKEN_MID_BODY)
