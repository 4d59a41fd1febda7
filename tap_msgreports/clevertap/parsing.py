"""CleverTap's dates and figures, turned into values a warehouse can use.

Vendor values are kept as sent; these functions compute the parsed companions.
Month names are matched here rather than with ``strptime`` so that the result does
not depend on the machine's locale.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
#: "Oct 18, 4:08 PM": the documented example; no year, 12-hour clock.
_NO_YEAR = re.compile(
    r"^(?P<mon>[A-Za-z]{3})[a-z]*\.? (?P<day>\d{1,2}), "
    r"(?P<h>\d{1,2}):(?P<m>\d{2}) ?(?P<ampm>[AaPp][Mm])$"
)
#: "18 Oct, 2023 16:08:00": seen in public client code.
_WITH_YEAR = re.compile(
    r"^(?P<day>\d{1,2}) (?P<mon>[A-Za-z]{3})[a-z]*\.?, (?P<year>\d{4}) "
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$"
)
FIGURES = ("sent", "viewed", "clicked")
TWELVE = 12


def parse_start_date(
    raw: str | None, *, first_day: dt.date, last_day: dt.date, tz: dt.tzinfo
) -> dt.datetime | None:
    """The start time of a message, aware in the account's zone, or None if unknown.

    CleverTap matches messages by start date, so a message listed for a window started
    inside it: when the year is missing, the year that puts the date inside the window,
    or nearest to it, is taken (this also works across a year boundary).
    """
    text = (raw or "").strip()
    if match := _WITH_YEAR.match(text):
        return _build(match, int(match["year"]), tz, hour=int(match["h"]))
    if match := _NO_YEAR.match(text):
        hour = int(match["h"]) % TWELVE + (TWELVE if match["ampm"].lower() == "pm" else 0)
        candidates = [
            found
            for year in range(first_day.year - 1, last_day.year + 2)
            if (found := _build(match, year, tz, hour=hour))
        ]
        return min(
            candidates,
            key=lambda found: _days_outside(found.date(), first_day, last_day),
            default=None,
        )
    return None


def _days_outside(day: dt.date, first_day: dt.date, last_day: dt.date) -> int:
    """How far ``day`` lies outside ``first_day..last_day``: 0 inside.

    The vendor's day boundary may differ from the account's time zone by a few hours, so
    a start date can fall just outside the window read; the nearest year is still right.
    """
    return max((first_day - day).days, (day - last_day).days, 0)


def _build(match: re.Match[str], year: int, tz: dt.tzinfo, *, hour: int) -> dt.datetime | None:
    month = MONTHS.get(match["mon"][:3].lower())
    if month is None:
        return None
    second = int(match.groupdict().get("s") or 0)
    try:
        return dt.datetime(year, month, int(match["day"]), hour, int(match["m"]), second, tzinfo=tz)
    except ValueError:  # Feb 29 in a year without it, 25:00, ...
        return None


def parse_scheduled_on(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    """``scheduled_on`` (YYYYMMDDHHMM, account-local) as an aware datetime, or None."""
    text = str(value) if value is not None else ""
    if not re.fullmatch(r"\d{12}", text):
        return None
    try:
        naive = dt.datetime.strptime(text, "%Y%m%d%H%M")  # noqa: DTZ007 - zone added below
    except ValueError:
        return None
    return naive.replace(tzinfo=tz)


def totals(data: object) -> dict[str, int]:
    """Sum ``sent``, ``viewed`` and ``clicked`` over the elements of ``data``."""
    sums = dict.fromkeys(FIGURES, 0)
    for element in data if isinstance(data, list) else []:
        if not isinstance(element, dict):
            continue
        for figure in FIGURES:
            value = element.get(figure)
            if isinstance(value, int | float) and not isinstance(value, bool):
                sums[figure] += int(value)
    return sums


def zone(name: str) -> dt.tzinfo:
    """The account's time zone (names are validated with the settings)."""
    return zoneinfo.ZoneInfo(name)


def utc_text(moment: dt.datetime | None) -> str | None:
    """An aware time as ISO-8601 in UTC, or None.

    Warehouse targets often store timestamps without a zone (target-postgres drops the
    offset as it loads): UTC is the one reading that stays right everywhere. The local
    time as sent stays in the raw field beside it.
    """
    return moment.astimezone(dt.timezone.utc).isoformat() if moment else None


def yyyymmdd(day: dt.date) -> str:
    """A date as CleverTap writes it in requests."""
    return day.strftime("%Y%m%d")
