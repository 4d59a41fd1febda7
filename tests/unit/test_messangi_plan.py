"""Messangi windows: UTC, lookback from the bookmark, never the newest minutes."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_msgreports.messangi.settings import MAX_WINDOW_HOURS
from tap_msgreports.messangi.streams import MlogItemsStream
from tap_msgreports.tap import TapMsgReports

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 20, 12, 34, 56, tzinfo=UTC)
CONFIG = {
    "messangi_api_url": "https://api.example.com",
    "messangi_api_key": "k-123456",
    "start_date": "2026-01-01",
    "messangi_window_hours": 24,
}


class FrozenMlog(MlogItemsStream):
    def now(self) -> dt.datetime:
        return NOW


def stream(state: dict[str, t.Any] | None = None, **changes: t.Any) -> FrozenMlog:
    return FrozenMlog(TapMsgReports(config={**CONFIG, **changes}, state=state))


def test_first_run_reads_from_start_date_to_now_minus_settle() -> None:
    windows = stream().plan({"channel": "S"})
    assert windows[0].start == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert windows[-1].end == NOW - dt.timedelta(minutes=10)
    assert all(w.length <= dt.timedelta(hours=24) for w in windows)


def test_end_date_in_the_past_ends_at_its_midnight() -> None:
    windows = stream(end_date="2026-01-10").plan({"channel": "S"})
    assert windows[-1].end == dt.datetime(2026, 1, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lookback", "first"),
    [(3, dt.datetime(2026, 1, 15, 6, tzinfo=UTC)), (0, dt.datetime(2026, 1, 18, 6, tzinfo=UTC))],
)
def test_later_runs_start_lookback_days_before_the_bookmark(
    lookback: int, first: dt.datetime
) -> None:
    state = {
        "bookmarks": {
            "mlog_items": {
                "partitions": [
                    {
                        "context": {"channel": "S"},
                        "replication_key": "date",
                        "replication_key_value": "2026-01-18T06:00:00.000Z",
                    }
                ]
            }
        }
    }
    windows = stream(state, messangi_lookback_days=lookback).plan({"channel": "S"})
    assert windows[0].start == first
    # The other channel has no bookmark yet: it starts at start_date.
    other = stream(state, messangi_lookback_days=lookback).plan({"channel": "E"})
    assert other[0].start == dt.datetime(2026, 1, 1, tzinfo=UTC)


def test_the_longest_window_allowed_is_exactly_92_days() -> None:
    longest: dict[str, t.Any] = {
        **CONFIG,
        "start_date": "2025-09-01",
        "messangi_window_hours": MAX_WINDOW_HOURS,
    }
    assert MAX_WINDOW_HOURS == 92 * 24
    assert TapMsgReports.config_problems(longest) == []
    assert stream(**longest).plan({"channel": "S"})[0].length == dt.timedelta(days=92)
    (problem,) = TapMsgReports.config_problems(
        {**longest, "messangi_window_hours": MAX_WINDOW_HOURS + 1}
    )
    assert problem == "messangi_window_hours must be 1 to 2208 (92 days), got 2209"
