"""What every CleverTap request shares: accounts, hosts, headers, errors and the throttle.

Each configured account is a partition with its own bookmark. Days are the account's
days: windows, ``start_date``/``end_date`` and "today" are taken in its time zone.
"""

from __future__ import annotations

import abc
import datetime as dt
import threading
import typing as t
from functools import cached_property

from tap_msgreports import sdk_compat
from tap_msgreports.clevertap import settings
from tap_msgreports.clevertap.answers import answer_text, fail_code, lower_text
from tap_msgreports.clevertap.parsing import zone
from tap_msgreports.client import Span, WindowedReportStream
from tap_msgreports.errors import SourceError, WindowTooLargeError
from tap_msgreports.http import (
    HTTP_CLIENT_ERROR,
    HTTP_TOO_MANY_REQUESTS,
    require_objects,
    vendor_message,
)
from tap_msgreports.settings import DateRange
from tap_msgreports.windows import CALENDAR_TEXT, ONE_DAY, Window, in_calendar, plan_day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_msgreports.run import RunContext


SOURCE = "CleverTap"
RANGE_ERROR = "Invalid date range"
#: Statuses after which a campaign's or message's row no longer changes.
FINAL_STATUSES = frozenset({"completed", "stopped"})
#: Where the start days of rows still changing are kept, in the partition's state.
OPEN_DAYS = "open_days"


class CleverTapStream(WindowedReportStream):
    """A CleverTap report stream, partitioned by account and read in day windows."""

    source_name = SOURCE
    #: A 429 without Retry-After (in the status or in a 200's body) is CleverTap's "too many
    #: requests in flight" for the account: it clears as soon as one of them finishes.
    busy_statuses = frozenset({HTTP_TOO_MANY_REQUESTS})
    http_method = "POST"
    payload_as_json = True
    #: Setting that gives this stream's window size in days.
    window_setting: t.ClassVar[str]
    #: The field of a response holding the list of records.
    list_key: t.ClassVar[str]
    #: Whether runs also read the days after today: rows listed there exist before their day.
    reads_ahead: t.ClassVar[bool] = False

    def __init__(self, tap: Tap, *, run: RunContext | None = None) -> None:
        """Set up the stream, and the open days its windows find (filled by workers)."""
        super().__init__(tap, run=run)
        self._open_lock = threading.Lock()
        self._open_found: dict[tuple[str, Window], set[dt.date]] = {}
        #: Per account, the first day of this run's windows read ahead (no bookmark there).
        self._ahead_from: dict[str, dt.date] = {}
        #: Per account read completely in this run: the days planned and the records found.
        self.read_in_run: dict[str, tuple[str, int]] = {}
        self._planned: dict[str, Window] = {}

    vendor = settings.CleverTapSettings.of_stream()

    @property
    @abc.abstractmethod
    def window_days(self) -> int:
        """This stream's window size, in days (``window_setting``)."""

    @cached_property
    def accounts(self) -> dict[str, settings.CleverTapAccount]:
        """The configured accounts by id."""
        return {account.account_id: account for account in settings.accounts(self.config)}

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per account."""
        return [{"account_id": account_id} for account_id in self.accounts]

    @property
    def url_base(self) -> str:
        """Unused: each account has its own base URL (see :meth:`account_url`)."""
        return ""

    def account(self, context: Context) -> settings.CleverTapAccount:
        """The account of a partition."""
        return self.accounts[context["account_id"]]

    def account_url(self, context: Context) -> str:
        """The full URL of this stream's endpoint for the partition's account."""
        return f"{self.account(context).api_url}{self.path}"

    def account_headers(self, context: Context) -> dict[str, str]:
        """The headers that authenticate a request (never logged)."""
        account = self.account(context)
        return {
            **self.http_headers,
            "X-CleverTap-Account-Id": account.account_id,
            "X-CleverTap-Passcode": account.passcode,
            "Content-Type": "application/json",
        }

    # ----- windows and bookmarks --------------------------------------------------------

    def today_for(self, context: Context) -> dt.date:
        """Today in the account's time zone."""
        return self.now().astimezone(zone(self.account(context).timezone)).date()

    def newest_bookmark(self, context: Context) -> dt.datetime:
        """Today, in the account's time zone: a bookmark is the last day read."""
        return self.midnight(self.today_for(context))

    @property
    def lookback(self) -> dt.timedelta:
        """``clevertap_lookback_days``."""
        return dt.timedelta(days=self.vendor.lookback_days)

    def windows_of(self, context: Context, span: Span) -> list[Window]:
        """The windows of a run: open days, then the range, then the days read ahead."""
        days, start = self.window_days, span.start.date()
        windows = (
            self.open_day_windows(context, span.first_day, start)
            + plan_day_windows(start, span.last_day, days)
            + self.ahead_windows(context, span.today, max(span.today, span.last_day), days)
        )
        if windows:
            self._planned[context["account_id"]] = Window(windows[0].start, windows[-1].end)
        return windows

    def ahead_windows(
        self, context: Context, today: dt.date, after: dt.date, days: int
    ) -> list[Window]:
        """Windows after ``after`` to today + ``clevertap_lookahead_days``, not past end_date."""
        self._ahead_from.pop(context["account_id"], None)
        last_day = today + dt.timedelta(days=self.vendor.lookahead_days)
        if (end_date := DateRange.from_config(self.config).end_date) is not None:
            last_day = min(last_day, end_date)
        if not self.reads_ahead or after >= last_day:
            return []
        self._ahead_from[context["account_id"]] = after + ONE_DAY
        windows = plan_day_windows(after + ONE_DAY, last_day, days)
        if windows:
            self.logger.info(
                "%s %s: reading ahead %s (clevertap_lookahead_days): scheduled campaigns "
                "exist before their day; those days are read again every run",
                self.describe_partition(context),
                self.name,
                Window(windows[0].start, windows[-1].end).describe(),
            )
        return windows

    # ----- campaigns the API does not list ------------------------------------------------

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The partition's records; once all are read, say why campaigns may be missing."""
        partition: Context = context or {}
        yield from super().get_records(partition)
        account = partition["account_id"]
        planned = self._planned.get(account)
        self.read_in_run[account] = (
            planned.describe() if planned else "no days",
            self.partition_records,
        )
        self.explain_missing_campaigns(account)

    def explain_missing_campaigns(self, account: str) -> None:
        """Once both streams have read an account, log no campaigns beside messages.

        Get Campaigns lists only campaigns created through the API (an older vendor page said
        dashboard or API): dashboard-built campaigns leave the campaigns table empty.
        """
        streams = sdk_compat.tap_of(self).streams
        campaigns, reports = streams.get("campaigns"), streams.get("message_reports")
        if not isinstance(campaigns, CleverTapStream) or not isinstance(reports, CleverTapStream):
            return
        listed, reported = campaigns.read_in_run.get(account), reports.read_in_run.get(account)
        if listed is None or reported is None or listed[1] or not reported[1]:
            return
        self.logger.info(
            "%s: Get Campaigns listed no campaign scheduled in %s, while Get Message Reports "
            "reported %d messages: Get Campaigns lists only campaigns created through the API, "
            "not those built in the dashboard (message_reports holds those)",
            self.describe_partition({"account_id": account}),
            listed[0],
            reported[1],
        )

    # ----- rows that still change after the lookback ----------------------------------------

    def open_day_windows(
        self, context: Context, first_day: dt.date, before: dt.date
    ) -> list[Window]:
        """One-day windows for days older than the lookback whose rows were still changing.

        A campaign can run for months while the lookback re-reads a few weeks: such days are
        kept in the state and read every run until their rows are completed or stopped.
        """
        if not self.vendor.track_open_days:
            return []
        days = sorted(
            day
            for day in (_day(text) for text in _open_days(self.stored_context_state(context)))
            if day is not None and first_day <= day < before
        )
        return [Window.of_days(day, day) for day in days]

    def note_open_days(
        self, context: Context, window: Window, records: list[dict[str, t.Any]]
    ) -> None:
        """Remember (on the worker) the days of this window's rows that still change."""
        days = {day for record in records if (day := self.open_day_of(record, context))}
        with self._open_lock:
            self._open_found[context["account_id"], window] = days

    def open_day_of(self, record: dict[str, t.Any], context: Context) -> dt.date | None:
        """The account-local day of a row that is not final yet, else None."""
        raise NotImplementedError

    def advance_bookmark(self, context: Context, window: Window) -> None:
        """Store the open days the window found (replacing its old ones), then the bookmark."""
        account = context["account_id"]
        with self._open_lock:  # the window itself, or the pieces it was split into
            read = [key for key in self._open_found if key[0] == account and key[1] in window]
            found = set().union(*(self._open_found.pop(key) for key in read))
        if window.first_day >= self._ahead_from.get(account, dt.date.max):
            return  # read ahead: every run reads it again, so no bookmark and no open days
        state = self.get_context_state(context)
        kept = {
            day
            for day in map(_day, _open_days(state))
            if day is not None and not window.first_day <= day <= window.last_day
        }
        days = sorted(day.isoformat() for day in kept | found)
        if days != _open_days(state):
            state[OPEN_DAYS] = days
            self.state_manager.is_flushed = False
            sdk_compat.write_state(self)
        super().advance_bookmark(context, window)

    def bookmark_value(self, window: Window, context: Context) -> str:  # noqa: ARG002
        """The last day read, in the account's time zone."""
        return window.last_day.isoformat()

    # ----- requests and errors --------------------------------------------------------------

    def describe_partition(self, context: Context) -> str:
        """``CleverTap account <id>``."""
        return f"{SOURCE} account {context['account_id']}"

    def auth_error_message(self, context: Context) -> str:
        """Name the account and the setting, never the passcode."""
        return (
            f"{SOURCE} refused the credentials of account {context['account_id']}: check "
            "clevertap_passcode (and clevertap_account_id / clevertap_accounts, and the "
            "region or clevertap_api_url)"
        )

    def throttle_key(self, context: Context) -> str:
        """The account: CleverTap limits requests in flight per account, across streams."""
        return str(context["account_id"])

    def client_error(
        self, response: requests.Response, context: Context, window: Window
    ) -> Exception:
        """A range refusal splits the window; other 4xx (or a 200's fail) stop the run."""
        message = vendor_message(response, ("error",))
        if RANGE_ERROR.lower() in message.lower():
            return WindowTooLargeError(message)
        return SourceError(f"{self.where(context, window)}: {answer_text(response)}: {message}")

    def status_in_body(self, body: t.Any) -> int | None:  # noqa: ANN401
        """The status a ``"status": "fail"`` body stands for: its ``code``, else 400.

        Public clients of the real API see failures as HTTP 200 with the error envelope;
        its code is classified as the same HTTP status would be.
        """
        code = fail_code(body)
        return None if code is None else code or HTTP_CLIENT_ERROR

    def check_body(self, body: t.Any, context: Context, window: Window) -> None:  # noqa: ANN401
        """A 200 body says ``"status": "success"`` and holds its list of objects.

        Raises:
            RetriableAPIError: when the list holds anything but objects (a malformed body).
        """
        if isinstance(body, dict) and lower_text(body.get("status")) == "success":
            require_objects(self.list_field(body, context, window), self.list_key)
            return
        detail = body.get("error") if isinstance(body, dict) else None
        msg = (
            f"{self.where(context, window)}: "
            f"CleverTap answered without success: {str(detail or body)[:200]}"
        )
        raise SourceError(msg)

    def require_key(self, value: object, what: str, context: Context, window: Window) -> None:
        """Refuse a row without its key: a null key cannot be upserted, or told apart."""
        if value is None:
            msg = f"{self.where(context, window)}: CleverTap sent {what}"
            raise SourceError(msg)

    def list_field(
        self, body: dict[str, t.Any], context: Context, window: Window
    ) -> list[dict[str, t.Any]]:
        """The records under ``list_key``; no such list is an error, never zero records."""
        items = body.get(self.list_key)
        if not isinstance(items, list):
            msg = f"{self.where(context, window)}: the response has no {self.list_key!r} list"
            raise SourceError(msg)
        return items

    def require_calendar(
        self, moment: dt.datetime | None, what: str, context: Context, window: Window
    ) -> None:
        """Refuse a parsed time near the ends of the calendar (a placeholder, a hostile value)."""
        if moment is not None and not in_calendar(moment):
            msg = (
                f"{self.where(context, window)}: {what} is dated {moment:%Y-%m-%d %H:%M}, "
                f"outside {CALENDAR_TEXT}"
            )
            raise SourceError(msg)

    def text_value(
        self, item: dict[str, t.Any], field: str, context: Context, window: Window
    ) -> str | None:
        """A field the tap reads as text (a status); anything but text or null is an error."""
        value = item.get(field)
        if value is None or isinstance(value, str):
            return value
        msg = (
            f"{self.where(context, window)}: CleverTap sent a {field} that is not text "
            f"({type(value).__name__} {str(value)[:80]})"
        )
        raise SourceError(msg)


def _open_days(state: t.Mapping[str, t.Any]) -> list[object]:
    """The open days kept in a partition's state (a corrupted value counts as none)."""
    days = state.get(OPEN_DAYS, [])
    return days if isinstance(days, list) else []


def _day(text: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return None
