"""Window planning and splitting: the rules every stream relies on."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_msgreports.windows import Window, plan_day_windows, plan_windows, resume_point

BASE = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
offsets = st.integers(min_value=0, max_value=10_000_000)  # seconds
sizes = st.integers(min_value=1, max_value=3_000_000)


@given(start=offsets, size=sizes, data=st.data())
def test_windows_cover_the_range_exactly(start: int, size: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(0, size * 500))  # at most 500 windows
    begin = BASE + dt.timedelta(seconds=start)
    end = begin + dt.timedelta(seconds=length)
    windows = plan_windows(begin, end, dt.timedelta(seconds=size))
    if length == 0:
        assert windows == []
        return
    assert windows[0].start == begin
    assert windows[-1].end == end
    for earlier, later in itertools.pairwise(windows):
        assert earlier.end == later.start  # no gap, no overlap
    assert all(w.length <= dt.timedelta(seconds=size) for w in windows)
    assert all(w.length > dt.timedelta(0) for w in windows)


@given(
    first=st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1)),
    days=st.integers(0, 800),
    size=st.integers(1, 92),
)
def test_day_windows_cover_every_day_once(first: dt.date, days: int, size: int) -> None:
    last = first + dt.timedelta(days=days)
    windows = plan_day_windows(first, last, size)
    covered = [
        w.first_day + dt.timedelta(days=i)
        for w in windows
        for i in range((w.last_day - w.first_day).days + 1)
    ]
    assert covered == [first + dt.timedelta(days=i) for i in range(days + 1)]
    assert all((w.last_day - w.first_day).days < size for w in windows)


def test_day_windows_of_a_reversed_range_are_empty() -> None:
    assert plan_day_windows(dt.date(2026, 1, 2), dt.date(2026, 1, 1), 7) == []


@given(
    start=offsets,
    units=st.integers(1, 10_000),
    resolution=st.sampled_from([1, 60, 86_400]),
    parts=st.integers(2, 70),
)
def test_split_pieces_cover_the_window_on_the_resolution(
    start: int, units: int, resolution: int, parts: int
) -> None:
    step = dt.timedelta(seconds=resolution)
    begin = BASE + dt.timedelta(seconds=start)
    window = Window(begin, begin + units * step)
    pieces = window.split(step, parts)
    if units == 1:
        assert pieces is None
        return
    assert pieces is not None
    assert len(pieces) == max(2, min(parts, units))
    assert (pieces[0].start, pieces[-1].end) == (window.start, window.end)
    for earlier, later in itertools.pairwise(pieces):
        assert earlier.end == later.start
    assert all((p.start - begin) % step == dt.timedelta(0) for p in pieces)
    lengths = [p.length for p in pieces]
    assert max(lengths) - min(lengths) <= step  # as equal as the resolution allows


def test_day_window_boundaries() -> None:
    window = Window.of_days(dt.date(2026, 2, 27), dt.date(2026, 3, 2))
    assert (window.first_day, window.last_day) == (dt.date(2026, 2, 27), dt.date(2026, 3, 2))
    assert window.describe() == "2026-02-27..2026-03-02"
    pieces = window.split(dt.timedelta(days=1))
    assert pieces is not None
    left, right = pieces
    assert (left.last_day, right.first_day) == (dt.date(2026, 2, 28), dt.date(2026, 3, 1))


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty window"):
        Window(BASE, BASE)


@given(bookmark=st.none() | offsets, start=offsets, lookback=st.integers(0, 5_000_000))
def test_resume_point_is_bookmark_minus_lookback_never_before_start(
    bookmark: int | None, start: int, lookback: int
) -> None:
    begin = BASE + dt.timedelta(seconds=start)
    mark = None if bookmark is None else BASE + dt.timedelta(seconds=bookmark)
    point = resume_point(start=begin, bookmark=mark, lookback=dt.timedelta(seconds=lookback))
    assert point >= begin
    if mark is None:
        assert point == begin
    else:
        assert point == max(begin, mark - dt.timedelta(seconds=lookback))
