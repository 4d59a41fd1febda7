"""CleverTap's display dates and scheduled times."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from tap_msgreports.clevertap.parsing import parse_scheduled_on, parse_start_date, totals, utc_text

UTC = dt.timezone.utc
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse(raw: str, first: dt.date, last: dt.date, tz: dt.tzinfo = UTC) -> dt.datetime | None:
    return parse_start_date(raw, first_day=first, last_day=last, tz=tz)


def displayed(moment: dt.datetime) -> str:
    """A start time as the documented example writes it: ``Oct 18, 4:08 PM``."""
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{MONTHS[moment.month - 1]} {moment.day}, {hour12}:{moment.minute:02d} {meridiem}"


def test_documented_format_without_year_takes_the_window_year() -> None:
    found = parse("Oct 18, 4:08 PM", dt.date(2025, 10, 14), dt.date(2025, 10, 20))
    assert found == dt.datetime(2025, 10, 18, 16, 8, tzinfo=UTC)


def test_format_with_year_and_24_hour_clock() -> None:
    found = parse("18 Oct, 2023 16:08:00", dt.date(2023, 10, 1), dt.date(2023, 10, 31))
    assert found == dt.datetime(2023, 10, 18, 16, 8, tzinfo=UTC)


def test_missing_year_across_a_year_boundary() -> None:
    first, last = dt.date(2025, 12, 28), dt.date(2026, 1, 3)
    assert parse("Jan 2, 9:00 AM", first, last) == dt.datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert parse("Dec 30, 11:59 PM", first, last) == dt.datetime(2025, 12, 30, 23, 59, tzinfo=UTC)


def test_midnight_and_noon_in_twelve_hour_clock() -> None:
    day = dt.date(2026, 3, 5)
    assert parse("Mar 5, 12:00 AM", day, day) == dt.datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    assert parse("Mar 5, 12:30 PM", day, day) == dt.datetime(2026, 3, 5, 12, 30, tzinfo=UTC)


def test_leap_day_without_year() -> None:
    found = parse("Feb 29, 1:00 PM", dt.date(2028, 2, 25), dt.date(2028, 3, 2))
    assert found == dt.datetime(2028, 2, 29, 13, 0, tzinfo=UTC)


def test_offset_is_the_account_zone() -> None:
    found = parse("Oct 18, 4:08 PM", dt.date(2025, 10, 18), dt.date(2025, 10, 18), KOLKATA)
    assert found is not None
    assert found.isoformat() == "2025-10-18T16:08:00+05:30"
    assert utc_text(found) == "2025-10-18T10:38:00+00:00"  # what the record holds


def test_unknown_formats_give_none() -> None:
    for raw in ("", "2025-10-18T16:08:00", "Foo 18, 4:08 PM", "Oct 32, 4:08 PM", None):
        assert parse(raw, dt.date(2025, 10, 1), dt.date(2025, 10, 31)) is None  # type: ignore[arg-type]


@given(
    moment=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 12, 31)),
    before=st.integers(0, 40),
    after=st.integers(0, 40),
)
def test_any_start_inside_its_window_parses_back(
    moment: dt.datetime, before: int, after: int
) -> None:
    moment = moment.replace(second=0, microsecond=0)
    raw = displayed(moment)
    first = moment.date() - dt.timedelta(days=before)
    last = moment.date() + dt.timedelta(days=after)
    assert parse(raw, first, last) == moment.replace(tzinfo=UTC)


def test_a_start_just_outside_the_window_takes_the_nearest_year() -> None:
    # The vendor's day boundary can differ from the account's zone by a few hours.
    first, last = dt.date(2025, 12, 29), dt.date(2026, 1, 4)
    assert parse("Dec 28, 11:30 PM", first, last) == dt.datetime(2025, 12, 28, 23, 30, tzinfo=UTC)
    day = dt.date(2026, 1, 1)
    assert parse("Dec 31, 11:45 PM", day, day) == dt.datetime(2025, 12, 31, 23, 45, tzinfo=UTC)
    assert parse("Jan 1, 0:15 AM", dt.date(2025, 12, 31), dt.date(2025, 12, 31)) == dt.datetime(
        2026, 1, 1, 0, 15, tzinfo=UTC
    )


@given(
    moment=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 12, 31)),
    days_before_window=st.integers(-3, 3),
    length=st.integers(0, 40),
)
def test_a_start_near_its_window_gets_its_own_year(
    moment: dt.datetime, days_before_window: int, length: int
) -> None:
    moment = moment.replace(second=0, microsecond=0)
    raw = displayed(moment)
    if days_before_window >= 0:  # the window starts a few days after the start date
        first = moment.date() + dt.timedelta(days=days_before_window)
        last = first + dt.timedelta(days=length)
    else:  # the window ends a few days before it
        last = moment.date() + dt.timedelta(days=days_before_window)
        first = last - dt.timedelta(days=length)
    assert parse(raw, first, last) == moment.replace(tzinfo=UTC)


def test_scheduled_on_gets_the_account_offset() -> None:
    found = parse_scheduled_on(202601011508, KOLKATA)
    assert found is not None
    assert found.isoformat() == "2026-01-01T15:08:00+05:30"
    assert parse_scheduled_on("202613011508", UTC) is None
    assert parse_scheduled_on(None, UTC) is None
    assert parse_scheduled_on(2026010115, UTC) is None


def test_totals_sum_the_figures_of_every_element() -> None:
    data = [
        {"date": "20260101", "sent": 5, "viewed": 3, "clicked": 1},
        {"date": "20260102", "sent": 7, "viewed": None, "clicked": 2},
        "not an element",
    ]
    assert totals(data) == {"sent": 12, "viewed": 3, "clicked": 3}
    assert totals(None) == {"sent": 0, "viewed": 0, "clicked": 0}
