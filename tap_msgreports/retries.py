"""How long to wait before retrying a request: ``Retry-After`` first, else backoff.

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

if t.TYPE_CHECKING:
    from collections.abc import Generator

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


def retry_waits(
    *,
    initial: float,
    maximum: float,
    rng: random.Random | None = None,
) -> Generator[float, BaseException | None, None]:
    """Yield the wait before each retry.

    A ``Retry-After`` is honoured as sent (capped at ``maximum``). Otherwise the wait
    grows exponentially from ``initial`` with "equal jitter": half the step is fixed,
    half random, so clients that failed together do not retry together.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    exception = yield 0.0  # primed by backoff with send(None)
    step = initial
    while True:
        asked = retry_after_seconds(exception)
        if asked is not None:
            wait = min(asked, maximum)
        else:
            capped = min(step, maximum)
            wait = capped / 2 + rng.uniform(0, capped / 2)
            step *= 2
        exception = yield wait
