"""How long to wait before retrying a request: ``Retry-After`` first, else backoff.

A status the vendor uses for "busy" (CleverTap's 429 without ``Retry-After``: too many
requests in flight, which clears as soon as one of them finishes) is retried after a short
jittered wait, a few times in a row, before the backoff takes over.

The retry loop (``WindowedReportStream.request_decorator``) drives the generator below, as
the SDK's ``backoff`` decorator would: it sends in the exception of each failed try and
waits for the value yielded back.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import typing as t
from email.utils import parsedate_to_datetime

from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports.http import StatusError

if t.TYPE_CHECKING:
    from collections.abc import Generator

#: The short wait after a "busy" answer: a slot frees within seconds; jitter spreads the
#: requests that were refused together.
BUSY_WAIT_SECONDS = (0.5, 2.0)
#: Busy answers in a row for one request that get the short wait; the next ones wait as
#: the backoff would (a limit that does not clear is treated as trouble).
BUSY_SHORT_WAITS = 3

#: delta-seconds is ASCII digits only (RFC 9110): ``str.isdigit`` also takes ``²`` or ``٣``.
_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)


def retry_after_seconds(exception: BaseException | None) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After``, or None.

    Both forms are understood: delta-seconds and an HTTP-date. Any other value (``²``, a
    date beyond the calendar) is ignored like a missing header: backoff decides the wait.
    """
    if not isinstance(exception, RetriableAPIError) or exception.response is None:
        return None
    value = exception.response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)  # a huge number is inf, capped by the caller
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def failed_status(exception: BaseException | None) -> int | None:
    """The HTTP status a failed try counts as (one a 200 body reported wins), or None."""
    if isinstance(exception, StatusError):
        return exception.status
    if isinstance(exception, RetriableAPIError) and exception.response is not None:
        return exception.response.status_code
    return None


def retry_waits(
    *,
    initial: float,
    maximum: float,
    busy: frozenset[int] = frozenset(),
    rng: random.Random | None = None,
) -> Generator[float, BaseException | None, None]:
    """Yield the wait before each retry.

    A ``Retry-After`` is honoured as sent (capped at ``maximum``). A status in ``busy``
    without one waits :data:`BUSY_WAIT_SECONDS` (jittered, capped at ``maximum``) for the
    first :data:`BUSY_SHORT_WAITS` in a row. Otherwise the wait grows exponentially from
    ``initial`` with "equal jitter": half the step is fixed, half random, so clients that
    failed together do not retry together. The step grows with short waits too: a busy
    answer that keeps coming then waits as long as any other failure would.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    exception = yield 0.0  # primed by backoff with send(None)
    step, busy_in_a_row = initial, 0
    while True:
        asked = retry_after_seconds(exception)
        if asked is not None:
            busy_in_a_row, wait = 0, min(asked, maximum)
        else:
            is_busy = failed_status(exception) in busy
            busy_in_a_row = busy_in_a_row + 1 if is_busy else 0
            if 0 < busy_in_a_row <= BUSY_SHORT_WAITS:
                wait = min(rng.uniform(*BUSY_WAIT_SECONDS), maximum)
            else:
                capped = min(step, maximum)
                wait = capped / 2 + rng.uniform(0, capped / 2)
            step *= 2
        exception = yield wait
