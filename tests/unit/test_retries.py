"""Waits between tries: Retry-After when sent, else exponential backoff with jitter."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports.retries import retry_after_seconds, retry_waits


def failure(retry_after: str | None = None) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError("HTTP 429", response)


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert retry_after_seconds(failure("7")) == 7.0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    waited = retry_after_seconds(failure(email.utils.format_datetime(later, usegmt=True)))
    assert waited is not None
    assert 25 <= waited <= 30
    assert retry_after_seconds(failure("soon")) is None
    assert retry_after_seconds(failure()) is None
    assert retry_after_seconds(TimeoutError()) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    waits = retry_waits(initial=1.0, maximum=10.0, rng=random.Random(7))  # noqa: S311
    next(waits)
    seen = [waits.send(TimeoutError()) for _ in range(6)]
    steps = [1, 2, 4, 8, 10, 10]
    for wait, step in zip(seen, steps, strict=True):
        assert step / 2 <= wait <= step


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    waits = retry_waits(initial=1.0, maximum=5.0)
    next(waits)
    assert waits.send(failure("2")) == 2.0
    assert waits.send(failure("600")) == 5.0
