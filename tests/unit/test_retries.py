"""Waits between tries: Retry-After when sent, short when busy, else backoff with jitter."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import typing as t

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports.http import StatusError
from tap_msgreports.retries import (
    BUSY_SHORT_WAITS,
    BUSY_WAIT_SECONDS,
    retry_after_seconds,
    retry_waits,
)

if t.TYPE_CHECKING:
    from collections.abc import Generator


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


def status_failure(status: int, *, reported: int | None = None) -> RetriableAPIError:
    """A retried status without Retry-After; ``reported`` is one a 200's body gave."""
    response = requests.Response()
    response.status_code = status
    return StatusError(f"HTTP {status}", response, reported or status)


def busy_waits(**kwargs: float) -> Generator[float, BaseException | None, None]:
    waits = retry_waits(busy=frozenset({429}), rng=random.Random(3), **kwargs)  # noqa: S311
    next(waits)
    return waits


def test_busy_answers_wait_short_and_jittered_then_back_off() -> None:
    waits = busy_waits(initial=4.0, maximum=120.0)
    short = [waits.send(status_failure(429)) for _ in range(BUSY_SHORT_WAITS)]
    low, high = BUSY_WAIT_SECONDS
    assert all(low <= wait <= high for wait in short), short
    assert len(set(short)) == len(short), "jittered: requests refused together spread out"
    # The 4th busy answer in a row: the backoff, at the step the short waits moved it to.
    step = 4.0 * 2**BUSY_SHORT_WAITS
    assert step / 2 <= waits.send(status_failure(429)) <= step


def test_a_busy_answer_reported_in_a_200_body_is_busy_too() -> None:
    waits = busy_waits(initial=8.0, maximum=120.0)
    assert waits.send(status_failure(200, reported=429)) <= BUSY_WAIT_SECONDS[1]


def test_another_failure_ends_a_run_of_busy_answers() -> None:
    waits = busy_waits(initial=4.0, maximum=120.0)
    for _ in range(BUSY_SHORT_WAITS):
        assert waits.send(status_failure(429)) <= BUSY_WAIT_SECONDS[1]
    assert waits.send(status_failure(503)) >= 4.0 * 2**BUSY_SHORT_WAITS / 2
    assert waits.send(status_failure(429)) <= BUSY_WAIT_SECONDS[1]


def test_a_short_wait_is_capped_by_the_longest_wait() -> None:
    waits = busy_waits(initial=0.01, maximum=0.3)
    assert all(waits.send(status_failure(429)) <= 0.3 for _ in range(6))


def test_retry_after_wins_over_a_busy_status() -> None:
    waits = busy_waits(initial=1.0, maximum=120.0)
    assert waits.send(failure("30")) == 30.0
    assert waits.send(failure("30")) == 30.0


def test_without_busy_statuses_a_429_backs_off_as_before() -> None:
    """Vendors that name no busy status (Messangi, MoEngage), and other statuses: unchanged."""
    for busy, status in ((frozenset[int](), 429), (frozenset({429}), 503)):
        old = retry_waits(initial=1.0, maximum=10.0, rng=random.Random(5))  # noqa: S311
        new = retry_waits(initial=1.0, maximum=10.0, busy=busy, rng=random.Random(5))  # noqa: S311
        next(old), next(new)
        for _ in range(6):
            assert new.send(status_failure(status)) == old.send(TimeoutError())


def test_busy_waits_keep_the_total_within_the_tries() -> None:
    """Busy or not, one wait per retry, each at most the longest wait."""
    waits = busy_waits(initial=1.0, maximum=10.0)
    seen = [waits.send(status_failure(429)) for _ in range(8)]
    assert sum(seen) <= 8 * 10.0
    assert sum(seen[:BUSY_SHORT_WAITS]) <= BUSY_SHORT_WAITS * BUSY_WAIT_SECONDS[1]
