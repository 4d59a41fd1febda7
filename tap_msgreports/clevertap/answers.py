"""What a CleverTap answer says: a failure inside an HTTP 200, and its code."""

from __future__ import annotations

import typing as t

from tap_msgreports.http import HTTP_CLIENT_ERROR, HTTP_OK

if t.TYPE_CHECKING:
    import requests

MAX_HTTP_STATUS = 599


def fail_code(body: t.Any) -> int | None:  # noqa: ANN401
    """The code of a ``"status": "fail"`` body (any case), 0 without a usable one, else None.

    A usable code is an HTTP error status (400 to 599), as a number or three digits.
    """
    if not isinstance(body, dict) or lower_text(body.get("status")) != "fail":
        return None
    code = body.get("code")
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) == len("429"):
        code = int(code)
    if type(code) is int and HTTP_CLIENT_ERROR <= code <= MAX_HTTP_STATUS:
        return code
    return 0


def answer_text(response: requests.Response) -> str:
    """``HTTP 400``, or ``HTTP 200 "status": "fail" (code 404)`` for a failure in a 200."""
    if response.status_code != HTTP_OK:
        return f"HTTP {response.status_code}"
    try:
        code = fail_code(response.json())
    except ValueError:
        code = None
    return f'HTTP 200 "status": "fail" ({f"code {code}" if code else "no usable code"})'


def lower_text(value: object) -> str | None:
    """A text compared without regard to case; None for anything else."""
    return value.lower() if isinstance(value, str) else None
