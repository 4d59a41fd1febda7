"""Date windows: where a run starts, how the range is cut, how a window is split.

Every stream reads its range as a list of half-open windows ``[start, end)``. Day-based
APIs (CleverTap) use naive local midnights and a one-day resolution; time-based APIs
(Messangi) use aware UTC datetimes and a finer resolution. The rules are the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ONE_DAY = dt.timedelta(days=1)
#: The years a date of a setting, a bookmark or a vendor value may fall in. Python's calendar
#: ends at years 1 and 9999; date arithmetic near those ends overflows (a lookback before
#: 0001-01-01, a time zone past 9999-12-31), and no messaging report lies there: such a date
#: is a typo, a placeholder or a hostile value, refused with a clear message.
FIRST_YEAR = 1900
LAST_YEAR = 2999
CALENDAR_TEXT = f"{FIRST_YEAR}-01-01..{LAST_YEAR}-12-31"


def in_calendar(moment: dt.date) -> bool:
    """Whether a date or time lies in the years ``FIRST_YEAR`` to ``LAST_YEAR``."""
    return FIRST_YEAR <= moment.year <= LAST_YEAR


@dataclass(frozen=True, order=True)
class Window:
    """A half-open time range ``[start, end)`` that one request reads."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        """Refuse empty or reversed windows: they would read nothing or everything."""
        if self.end <= self.start:
            msg = f"empty window: {self.start.isoformat()} .. {self.end.isoformat()}"
            raise ValueError(msg)

    @classmethod
    def of_days(cls, first_day: dt.date, last_day: dt.date) -> Window:
        """The window of whole days ``first_day`` to ``last_day``, both inclusive."""
        midnight = dt.time()
        return cls(
            dt.datetime.combine(first_day, midnight),
            dt.datetime.combine(last_day + ONE_DAY, midnight),
        )

    def __contains__(self, other: object) -> bool:
        """Whether ``other`` (a window) lies within this one."""
        return isinstance(other, Window) and self.start <= other.start and other.end <= self.end

    @property
    def length(self) -> dt.timedelta:
        """How long the window is."""
        return self.end - self.start

    @property
    def first_day(self) -> dt.date:
        """The first day the window touches."""
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        """The last day the window touches (its end is exclusive)."""
        return (self.end - dt.timedelta(microseconds=1)).date()

    def split(self, resolution: dt.timedelta, parts: int = 2) -> list[Window] | None:
        """Cut the window into ``parts`` consecutive pieces aligned to ``resolution``.

        The pieces are as equal as the resolution allows; there are fewer of them when the
        window holds fewer units. Returns None when the window is a single unit of
        ``resolution`` and cannot be cut any further: the caller has reached the limit.
        """
        units = self.length // resolution
        if units < 2:  # noqa: PLR2004 - two units is the least that splits
            return None
        parts = max(2, min(parts, units))
        bounds = [self.start + (units * i // parts) * resolution for i in range(parts)]
        return [Window(a, b) for a, b in zip(bounds, [*bounds[1:], self.end], strict=True)]

    def describe(self) -> str:
        """A short human form for logs and errors: days for day windows, else ISO times."""
        if self.start.time() == self.end.time() == dt.time() and self.start.tzinfo is None:
            return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def plan_windows(start: dt.datetime, end: dt.datetime, size: dt.timedelta) -> list[Window]:
    """Cut ``[start, end)`` into consecutive windows of ``size`` (the last may be shorter).

    The windows cover the range exactly: no gap, no overlap, none longer than ``size``.
    An empty or reversed range gives no windows.
    """
    if size <= dt.timedelta(0):
        msg = f"window size must be positive, got {size}"
        raise ValueError(msg)
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        window_end = min(cursor + size, end)
        windows.append(Window(cursor, window_end))
        cursor = window_end
    return windows


def plan_day_windows(first_day: dt.date, last_day: dt.date, days: int) -> list[Window]:
    """Cut the days ``first_day`` to ``last_day`` (inclusive) into windows of ``days`` days."""
    if last_day < first_day:
        return []
    whole = Window.of_days(first_day, last_day)
    return plan_windows(whole.start, whole.end, dt.timedelta(days=days))


def resume_point(
    *, start: dt.datetime, bookmark: dt.datetime | None, lookback: dt.timedelta
) -> dt.datetime:
    """Where a run starts reading: ``bookmark - lookback``, never before ``start``.

    Without a bookmark the run starts at ``start`` (the configured ``start_date``). The
    lookback is never subtracted from a bookmark it would take past ``start``: near the
    start of the calendar that subtraction would underflow.
    """
    if bookmark is None or bookmark - start <= lookback:
        return start
    return bookmark - lookback
