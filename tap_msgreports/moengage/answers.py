"""What MoEngage's answers mean: a file's life, its own refusals, and everyone else's.

MoEngage answers a file that is missing, not generated yet or expired, and a wrong app id,
with 400 and ``{"error": {"message": ..., "type": "BAD REQUEST"}}`` (api-notes 5.4). Any
other 4xx comes from a wrong ``moengage_api_url`` or a proxy.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

from tap_msgreports.http import HTTP_CLIENT_ERROR, url_origin

if t.TYPE_CHECKING:
    import requests

#: The vendor refuses a report "older than 7 days" (api-notes 5.4): the file dated today - 7
#: is the oldest still served. A 400 for it is never a failure (the vendor's day may be ahead
#: of the tap's): a warning that names it, and the date is skipped.
FILE_LIFE_DAYS = 7
#: How a 400 says that a report is too old: "older than 7 days" (api-notes 5.4), "expired".
EXPIRED_TEXT = re.compile(r"older than|expire", re.IGNORECASE)


def oldest_served(today: dt.date) -> dt.date:
    """The oldest file date the vendor still serves: ``FILE_LIFE_DAYS`` before today."""
    return today - dt.timedelta(days=FILE_LIFE_DAYS)


def oldest_refused(name: str, day: dt.date, message: str) -> str:
    """Why the file of the oldest date was refused: expired, or none was made (a weekly one)."""
    if EXPIRED_TEXT.search(message):
        return f"{name}: the file of {day} has expired ({message})"
    return f"no file {name} ({message})"


#: The ``type`` of MoEngage's 400 envelope (api-notes 5.4), whatever the cause.
VENDOR_REFUSAL_TYPE = "BAD REQUEST"


def foreign_refusal(response: requests.Response) -> str | None:
    """What a 4xx that is not MoEngage's own 400 is, or None for MoEngage's (its body read).

    MoEngage is not known to answer 404: anything else comes from a wrong ``moengage_api_url``
    or a proxy, and taken for "no file" would move the bookmark past files that then expire.
    Named by status and origin only: the path and query hold the app id and maybe the signature.
    """
    if response.status_code == HTTP_CLIENT_ERROR and _is_vendor_envelope(response):
        return None
    return (
        f"HTTP {response.status_code} from {url_origin(response.url)} "
        f"({_body_kind(response.content)}), not MoEngage's answer for a missing file"
    )


def _is_vendor_envelope(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and str(error.get("type", "")).upper() == VENDOR_REFUSAL_TYPE
    )


def _body_kind(content: bytes) -> str:
    start = content.lstrip()[:1]
    if not start:
        return "an empty body"
    if start == b"<":
        return "an HTML page"
    if start in {b"{", b"["}:
        return "a JSON body that is not MoEngage's error"
    return "a text body"


def file_of(response: requests.Response) -> str:
    """The file a download is of: the last segment of its path, without the query."""
    return response.url.rsplit("/", 1)[-1].split("?", 1)[0]
