"""Messangi Reporting API v3 emulation: `GET /v3/mlog`, as `api-notes.md` section 4 describes it.

The endpoint takes a UTC time range of at most 92 days and optional filters in the query string
and a Bearer API key, and answers one page of message log lines sorted by `date`, with the count
of all matching lines in `pagination.total`. Errors are `{"meta": {..., "explain": ...}}`.

What the vendor documents nowhere is assumed; each assumption is one constant below (the data's
own are in `messangi_data.py`), so that a real account proving one wrong is a one-line change.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from heapq import merge
from typing import TYPE_CHECKING, Any

from tap_msgreports_emulator.messangi_data import (
    CHANNELS,
    DEFAULT_LINES_PER_DAY,
    MS_PER_DAY,
    PHONE_CHANNELS,
    MlogLine,
    day_size,
    day_start_ms,
    lines_of_day,
)
from tap_msgreports_emulator.vendor import Request, Response, VendorAPI, json_response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from tap_msgreports_emulator.world import World

MLOG_PATH = "/v3/mlog"
# Assumed: the key goes in `Authorization: Bearer <key>`, as for Messangi's messaging API. The
# real header is not public: a test may demand another name, or the key without a scheme ("").
AUTH_HEADER = "Authorization"
AUTH_SCHEME = "Bearer"
# Assumed: pages are asked for with an optional 1-based `page` and `size` (the vendor documents
# "pagination" without naming its parameters). A test may rename `page`, or make it ignored.
PAGE_PARAM = "page"
SIZE_PARAM = "size"
# Assumed: exactly 92 x 24 h is allowed, anything longer is refused.
MAX_RANGE_DAYS = 92
# Assumed: `to` is inclusive, like `from`: a line sent exactly at `to` is returned. That is the
# reading that makes a tap read a line twice when its windows share their bounds.
TO_IS_INCLUSIVE = True
# Assumed: pretty mode is off unless asked for.
DEFAULT_PRETTY = False
# Assumed: a page holds at most this many items, whatever `size` asks for, and a report of more
# matching lines than the maximum is refused.
DEFAULT_MAX_ITEMS_PER_RESPONSE = 1000
DEFAULT_MAX_REPORT_LINES = 100_000
# Assumed: these errors are HTTP 400 with the text in `meta.explain`.
REFUSAL_STATUS = 400
RANGE_EXPLAIN = "The date range exceeds the allowed limit: {days}"
TOO_BIG_EXPLAIN = "The size of the report is too big. Please contact support"
# `from` and `to`: UTC, `Z`, milliseconds optional (the vendor always shows three digits).
UTC_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z")
DATETIME_EXAMPLE = "2015-03-04T00:00:00.000Z"
ERROR_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class MessangiError(Exception):
    """A request the API refuses, with the status and the `explain` it answers."""

    def __init__(self, status: int, explain: str | None = None) -> None:
        """Create the error.

        Args:
            status: HTTP status code.
            explain: The `meta.explain` text; default the usual text for the status.
        """
        self.status = status
        self.explain = explain or ERROR_TEXT.get(status, "Error")
        super().__init__(self.explain)


def meta() -> dict[str, Any]:
    """Return a response's `meta`: the server's clock in epoch ms and a fresh transaction id.

    Returns:
        `{"timestamp": ..., "transactionId": ...}`.
    """
    return {"timestamp": time.time_ns() // 1_000_000, "transactionId": str(uuid.uuid4())}


def fail(status: int, explain: str | None = None, retry_after: int | None = None) -> Response:
    """Build a Messangi error response.

    Args:
        status: HTTP status code.
        explain: The `meta.explain` text; default the usual text for the status.
        retry_after: Seconds for a `Retry-After` header, or None for none.

    Returns:
        The response.
    """
    text = explain or ERROR_TEXT.get(status, "Error")
    headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
    return json_response(status, {"meta": {**meta(), "explain": text}}, headers)


@dataclass(frozen=True)
class MlogQuery:
    """The query string of a `GET /v3/mlog`, checked.

    Attributes:
        start_ms: `from`, epoch milliseconds, inclusive.
        stop_ms: The end of the range, epoch milliseconds, exclusive (`to` + 1 ms when `to` is
            inclusive).
        channels: The channels asked for: one, or all of them.
        pretty: Readable keys instead of single letters.
        statuses: Statuses to keep, or None for all.
        campaign_id: `campaignID` to keep, or None.
        sender: Sender to keep, or None.
        recipient: Recipient to keep (phone numbers with or without `+`), or None.
        page: 1-based page number.
        size: Items per page asked for, or None for the most allowed.
    """

    start_ms: int
    stop_ms: int
    channels: tuple[str, ...] = CHANNELS
    pretty: bool = DEFAULT_PRETTY
    statuses: frozenset[str] | None = None
    campaign_id: str | None = None
    sender: str | None = None
    recipient: str | None = None
    page: int = 1
    size: int | None = None

    @property
    def filtered(self) -> bool:
        """Whether a filter other than the channel applies (then days must be scanned)."""
        return any(
            value is not None
            for value in (self.statuses, self.campaign_id, self.sender, self.recipient)
        )

    def covers(self, day: date) -> bool:
        """Say whether the range holds a whole UTC day.

        Args:
            day: The day.

        Returns:
            True if every millisecond of the day is in the range.
        """
        first = day_start_ms(day)
        return self.start_ms <= first and first + MS_PER_DAY <= self.stop_ms

    def matches(self, line: MlogLine, now_ms: int) -> bool:
        """Say whether a line passes the filters (the range and channel are not looked at).

        Args:
            line: The line.
            now_ms: The emulator's now, for the line's status.

        Returns:
            True if it passes every filter given.
        """
        return (
            (self.campaign_id is None or line.campaignid == self.campaign_id)
            and (self.sender is None or line.sender.name == self.sender)
            and (self.recipient is None or _same_recipient(line, self.recipient))
            and (self.statuses is None or line.status_at(now_ms)[0] in self.statuses)
        )


def parse_query(
    request: Request, max_range_days: int, page_param: str | None = PAGE_PARAM
) -> MlogQuery:
    """Check the query string of a `GET /v3/mlog`.

    Args:
        request: The request.
        max_range_days: The longest range allowed, in days of 24 h.
        page_param: The name of the page parameter, or None to ignore any (always page 1).

    Returns:
        The query.

    Raises:
        MessangiError: 400 with an `explain` naming what is wrong.
    """
    start_ms = _datetime_ms(request, "from")
    end_ms = _datetime_ms(request, "to")
    if end_ms <= start_ms:
        raise MessangiError(REFUSAL_STATUS, 'The parameter "to" must be after "from"')
    if end_ms - start_ms > max_range_days * MS_PER_DAY:
        raise MessangiError(REFUSAL_STATUS, RANGE_EXPLAIN.format(days=max_range_days))
    statuses = request.query_value("status")
    return MlogQuery(
        start_ms=start_ms,
        stop_ms=end_ms + 1 if TO_IS_INCLUSIVE else end_ms,
        channels=_channels(request),
        pretty=_pretty(request),
        # Comma-separated without spaces: a space is kept and matches nothing.
        statuses=None if statuses is None else frozenset(statuses.split(",")),
        campaign_id=request.query_value("campaignID"),
        sender=request.query_value("sender"),
        recipient=request.query_value("recipient"),
        page=(_positive_int(request, page_param) if page_param else None) or 1,
        size=_positive_int(request, SIZE_PARAM),
    )


@dataclass(frozen=True)
class _DayPart:
    """The matching lines of one day: how many, and how to get them in order when needed."""

    count: int
    load: Callable[[], list[MlogLine]]


class MessangiAPI(VendorAPI):
    """The Messangi Reporting API v3 `GET /v3/mlog` over a `World`'s seed and clock.

    Lines are sent at every moment up to the emulator's now, the end of `world.today` (UTC).
    The limits are plain attributes so that a test can shrink them, e.g. to make a tap split
    its windows.

    Attributes:
        world: The world the data comes from.
        lines_per_day: Average lines per channel per UTC day.
        max_items_per_response: Most items in one response, whatever `size` asks for.
        max_report_lines: Most matching lines a request may have before it is refused as too
            big.
        max_range_days: Longest `from`..`to` range, in days of 24 h.
        burst_lines: Lines of a burst within one second of every channel-day (0: none).
        page_param: The name of the page parameter it honours.
        honours_page: False to ignore any page parameter: every page is the first.
        auth_header: The header the key must come in.
        auth_scheme: The scheme before the key in it (any case), or "" for the key alone.
    """

    name = "messangi"
    streams = ("mlog_items",)

    def __init__(  # noqa: PLR0913 - every argument is a documented knob of the emulator
        self,
        world: World,
        *,
        api_key: str | None = None,
        lines_per_day: int = DEFAULT_LINES_PER_DAY,
        max_items_per_response: int = DEFAULT_MAX_ITEMS_PER_RESPONSE,
        max_report_lines: int = DEFAULT_MAX_REPORT_LINES,
        max_range_days: int = MAX_RANGE_DAYS,
    ) -> None:
        """Create the emulation.

        Args:
            world: The world the data comes from.
            api_key: A fixed API key, or None to derive one from the seed.
            lines_per_day: Average lines per channel per UTC day (0 gives empty days).
            max_items_per_response: Most items in one response.
            max_report_lines: Most matching lines before a request is refused as too big.
            max_range_days: Longest range in days of 24 h.

        Raises:
            ValueError: If lines_per_day is negative or a maximum is not positive.
        """
        if lines_per_day < 0 or min(max_items_per_response, max_report_lines, max_range_days) < 1:
            msg = "lines_per_day must be >= 0 and the maximums >= 1"
            raise ValueError(msg)
        self.world = world
        self._api_key = api_key
        self.lines_per_day = lines_per_day
        self.max_items_per_response = max_items_per_response
        self.max_report_lines = max_report_lines
        self.max_range_days = max_range_days
        self.burst_lines = 0
        self.page_param = PAGE_PARAM
        self.honours_page = True
        self.auth_header = AUTH_HEADER
        self.auth_scheme = AUTH_SCHEME

    @property
    def api_key(self) -> str:
        """The API key: the fixed one, or the one derived from the seed."""
        return self._api_key or self.world.secret("messangi")

    @property
    def now_ms(self) -> int:
        """The emulator's now: the last millisecond of `world.today`, UTC."""
        return day_start_ms(self.world.today) + MS_PER_DAY - 1

    def handles(self, path: str) -> bool:
        """Say whether a path is the endpoint.

        Args:
            path: URL path.

        Returns:
            True for `/v3/mlog`.
        """
        return path == MLOG_PATH

    def handle(self, request: Request) -> Response:
        """Answer a request for `/v3/mlog`.

        Args:
            request: The request.

        Returns:
            The vendor's answer.
        """
        try:
            if request.method != "GET":
                raise MessangiError(405)  # noqa: TRY301 - one place turns errors into responses
            self._authenticate(request)
            page_param = self.page_param if self.honours_page else None
            query = parse_query(request, self.max_range_days, page_param)
            return json_response(200, self._report(query))
        except MessangiError as error:
            return fail(error.status, error.explain)

    def error_response(self, status: int, retry_after: int | None = None) -> Response:
        """Build the vendor's error response for a status.

        Args:
            status: HTTP status code.
            retry_after: Seconds for a `Retry-After` header, or None.

        Returns:
            The response.
        """
        return fail(status, retry_after=retry_after)

    def issued_secrets(self) -> dict[str, str]:
        """Return the API key.

        Returns:
            `{key: "Messangi API key"}`.
        """
        return {self.api_key: "Messangi API key"}

    def tap_config(self, base_url: str) -> dict[str, Any]:
        """Return the Messangi settings: the emulator's URL (the tap appends `/v3/mlog`), the key.

        Args:
            base_url: The emulator's URL.

        Returns:
            `{"messangi_api_url": ..., "messangi_api_key": ...}`, and the auth header settings
            when the emulation demands another header than the tap's default.
        """
        config = {"messangi_api_url": base_url, "messangi_api_key": self.api_key}
        if (self.auth_header, self.auth_scheme) != (AUTH_HEADER, AUTH_SCHEME):
            config |= {"messangi_auth_header": self.auth_header}
            config |= {"messangi_auth_scheme": self.auth_scheme}
        return config

    def lines(
        self, start_ms: int, stop_ms: int, channels: Iterable[str] = CHANNELS
    ) -> list[MlogLine]:
        """Return the lines sent in a range, in response order.

        Args:
            start_ms: First millisecond, inclusive.
            stop_ms: Last millisecond, exclusive.
            channels: The channels.

        Returns:
            The lines, by `date` and then channel in `CHANNELS` order.
        """
        query = MlogQuery(start_ms, stop_ms, tuple(channels))
        return [line for day in self._days(query) for line in self._lines_of(day, query)]

    def truth(
        self, stream: str, start: date, end: date, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return what a correct tap holds: every line sent on the days, statuses as of now.

        Args:
            stream: `mlog_items`.
            start: First UTC day, inclusive.
            end: Last UTC day, inclusive.
            account_id: Must be None: Messangi has no accounts.

        Returns:
            The records, by `date` and then channel; duplicate lines are all there.

        Raises:
            KeyError: If the stream is not `mlog_items` or an account is given.
        """
        if stream not in self.streams:
            raise KeyError(stream)
        if account_id is not None:
            raise KeyError(account_id)
        now_ms = self.now_ms
        stop_ms = day_start_ms(end + timedelta(days=1))
        return [line.truth(now_ms) for line in self.lines(day_start_ms(start), stop_ms)]

    def _authenticate(self, request: Request) -> None:
        value = request.header(self.auth_header) or ""
        scheme, key = value.partition(" ")[::2] if self.auth_scheme else ("", value)
        if scheme.lower() != self.auth_scheme.lower() or not hmac.compare_digest(
            key.strip().encode(), self.api_key.encode()
        ):
            raise MessangiError(401)

    def _report(self, query: MlogQuery) -> dict[str, Any]:
        now_ms = self.now_ms
        parts = [self._day_part(day, query, now_ms) for day in self._days(query)]
        total = sum(part.count for part in parts)
        if total > self.max_report_lines:
            raise MessangiError(REFUSAL_STATUS, TOO_BIG_EXPLAIN)
        limit = min(query.size or self.max_items_per_response, self.max_items_per_response)
        page = _page(parts, (query.page - 1) * limit, limit)
        render = MlogLine.pretty if query.pretty else MlogLine.raw
        return {
            "meta": meta(),
            "pagination": {"total": total},
            "items": [render(line, now_ms) for line in page],
        }

    def _days(self, query: MlogQuery) -> Iterator[date]:
        first = _utc_day(query.start_ms)
        # Nothing is sent after now, the end of today.
        last = min(_utc_day(query.stop_ms - 1), self.world.today)
        for offset in range((last - first).days + 1):
            yield first + timedelta(days=offset)

    def _day_part(self, day: date, query: MlogQuery, now_ms: int) -> _DayPart:
        if not query.filtered and query.covers(day):
            # A whole day without filters is counted without planning its lines: a 92-day
            # request refused as too big, or answered from its first days, stays quick.
            count = sum(
                sum(day_size(self.world.seed, self.lines_per_day, channel, day, self.burst_lines))
                for channel in query.channels
            )
            return _DayPart(count, lambda: self._lines_of(day, query))
        matching = [line for line in self._lines_of(day, query) if query.matches(line, now_ms)]
        return _DayPart(len(matching), lambda: matching)

    def _lines_of(self, day: date, query: MlogQuery) -> list[MlogLine]:
        """Return a day's lines in the query's range, merged across its channels by `date`."""
        slices = []
        for channel in query.channels:
            planned = lines_of_day(
                self.world.seed, self.lines_per_day, channel, day, self.burst_lines
            )
            low = bisect_left(planned.dates, query.start_ms)
            high = bisect_left(planned.dates, query.stop_ms)
            slices.append(planned.lines[low:high])
        # merge is stable: equal dates keep the order of `channels`, then of generation.
        return list(merge(*slices, key=lambda line: line.date_ms))


def _page(parts: list[_DayPart], offset: int, limit: int) -> list[MlogLine]:
    """Return `limit` lines from `offset`, loading only the days the page touches."""
    page: list[MlogLine] = []
    for part in parts:
        if len(page) >= limit:
            break
        if offset >= part.count:
            offset -= part.count
            continue
        page += part.load()[offset : offset + limit - len(page)]
        offset = 0
    return page


def _datetime_ms(request: Request, name: str) -> int:
    value = request.query_value(name)
    if value is None:
        raise MessangiError(REFUSAL_STATUS, f'The parameter "{name}" is required')
    match = UTC_DATETIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)  # noqa: TRY301 - same answer as an impossible date
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError as error:
        msg = f'The parameter "{name}" must be a UTC date and time like {DATETIME_EXAMPLE}'
        raise MessangiError(REFUSAL_STATUS, msg) from error
    milliseconds = int((match.group(7) or "0").ljust(3, "0"))
    return int(moment.timestamp()) * 1000 + milliseconds


def _channels(request: Request) -> tuple[str, ...]:
    values = request.query.get("channel") or []
    if not values:
        return CHANNELS
    # One channel per request: "S,E", a repeated parameter or an unknown letter are refused.
    if len(values) > 1 or values[0] not in CHANNELS:
        shown = ",".join(values)
        msg = f'Invalid channel "{shown}": give one of {", ".join(CHANNELS)}'
        raise MessangiError(REFUSAL_STATUS, msg)
    return (values[0],)


def _pretty(request: Request) -> bool:
    value = request.query_value("pretty")
    if value is None:
        return DEFAULT_PRETTY
    if value.lower() not in {"true", "false"}:
        msg = f'The parameter "pretty" must be true or false, not "{value}"'
        raise MessangiError(REFUSAL_STATUS, msg)
    return value.lower() == "true"


def _positive_int(request: Request, name: str) -> int | None:
    value = request.query_value(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        msg = f'The parameter "{name}" must be a positive integer, not "{value}"'
        raise MessangiError(REFUSAL_STATUS, msg)
    return int(value)


def _same_recipient(line: MlogLine, wanted: str) -> bool:
    if line.channel in PHONE_CHANNELS:
        # Phone numbers match with or without "+" (an unencoded "+" even arrives as a space).
        return line.recipient.removeprefix("+") == wanted.strip().removeprefix("+")
    return line.recipient == wanted


def _utc_day(epoch_ms: int) -> date:
    return date(1970, 1, 1) + timedelta(days=epoch_ms // MS_PER_DAY)
