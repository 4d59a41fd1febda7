"""mlog_items: Messangi message log lines, one record per message to one recipient."""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest

from tap_msgreports.errors import SourceError, WindowTooLargeError
from tap_msgreports.http import require_objects
from tap_msgreports.messangi import lines, paging, settings
from tap_msgreports.messangi.client import MessangiStream
from tap_msgreports.schemas import schema_directory
from tap_msgreports.windows import Window

#: What the connection check reads: recent enough to be small, long enough to see lines.
CHECK_SPAN = dt.timedelta(hours=1)
#: Lines are not spread evenly over a day: a split makes a quarter more pieces (5 / 4).
SPLIT_MARGIN = (5, 4)
#: More lines than this in one window is no count but a broken or hostile body (10^400 was
#: sent): a trillion, thousands of times the busiest channel's day.
MAX_TOTAL = 10**12

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_msgreports.run import RunContext


class MlogItemsStream(MessangiStream):
    """GET /v3/mlog: every log line of one channel, window by window."""

    name = "mlog_items"
    path = "/v3/mlog"
    primary_keys = ("mlog_id",)
    replication_key = "date"
    schema = StreamSchema(SchemaDirectory(schema_directory()))
    checks_connection = True

    def __init__(
        self, tap: Tap, schema: dict[str, t.Any] | None = None, *, run: RunContext | None = None
    ) -> None:
        """Set up the stream; no unknown raw key reported yet in this run."""
        super().__init__(tap, schema=schema, run=run)
        self._unknown_keys_lock = threading.Lock()
        self._unknown_keys_reported: frozenset[str] = frozenset()

    @property
    def raw_fields(self) -> bool:
        """Whether to ask for single-letter keys (more fields) instead of readable ones."""
        return bool(self.config.get("messangi_raw_fields"))

    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """One channel, the window's bounds in UTC with milliseconds, and the filters."""
        params: dict[str, t.Any] = {
            "from": lines.iso_utc(window.start),
            "to": lines.iso_utc(window.end),
            "pretty": "false" if self.raw_fields else "true",
            "channel": context["channel"],
        }
        if statuses := self.vendor.statuses:
            params["status"] = ",".join(statuses)
        for setting_name, parameter in settings.FILTERS.items():
            if value := self.config.get(setting_name):
                params[parameter] = value
        if (size := self.vendor.page_size) is not None:
            params[settings.SIZE_PARAM] = size  # every request: pages must share one size
        return HTTPRequest(
            url=self.get_url(context),
            method=self.http_method,
            headers=self.auth_headers(),
            params=params,
        )

    def connection_check(self, context: Context) -> str:
        """The channel's lines of the last settled hour, and the response cap if one shows."""
        window = self.check_window()
        try:
            body = self.fetch_body(context, window)
        except WindowTooLargeError as too_big:
            return f"reached, key accepted: the last hour is too big for one report ({too_big})"
        items, total = len(body["items"]), body["pagination"]["total"]
        cap = (
            f"one response returned {items}: the response cap is {items}"
            if items < total
            else "all in one response (the response cap was not reached)"
        )
        return f"reached, key accepted: {total} mlog lines in {window.describe()}; {cap}"

    def check_window(self) -> Window:
        """The last hour that has settled (see ``messangi_settle_minutes``), whole seconds."""
        end = self.settled_until().replace(microsecond=0)
        return Window(end - CHECK_SPAN, end)

    def page_request(self, context: Context, window: Window, page: int) -> HTTPRequest:
        """The window's request for one page (the first carries no page parameter)."""
        request = self.window_request(context, window)
        if page > 1:
            request.params[self.vendor.page_param] = page
        return request

    def bookmark_value(self, window: Window, context: Context) -> str:  # noqa: ARG002
        """The end of the last window read, in UTC."""
        return lines.iso_utc(window.end)

    def check_body(self, body: t.Any, context: Context, window: Window) -> None:  # noqa: ANN401
        """A page holds an items list of objects and ``pagination.total``.

        Raises:
            SourceError: when either is missing (after the refusals of ``explain``).
            RetriableAPIError: when an item is not an object: a broken body, not fewer lines.
        """
        super().check_body(body, context, window)
        pagination = body.get("pagination") if isinstance(body, dict) else None
        items = body.get("items") if isinstance(body, dict) else None
        total = pagination.get("total") if isinstance(pagination, dict) else None
        if not isinstance(items, list) or type(total) is not int:
            msg = (
                f"{self.where(context, window)}: "
                "the response has no items list or no pagination.total"
            )
            raise SourceError(msg)
        if not 0 <= total <= MAX_TOTAL:
            msg = f"malformed body: pagination.total is not a count of lines (0 to {MAX_TOTAL:,})"
            raise RetriableAPIError(msg)
        require_objects(items, "items")

    def records_from(
        self,
        body: t.Any,  # noqa: ANN401 - the parsed page
        context: Context,
        window: Window,
    ) -> Iterator[dict[str, t.Any]]:
        """Lines of the window, keyed (see :meth:`check_body`); a short page means a split.

        A window of one second cannot be split: it is read page by page instead, and its
        lines are keyed together once all are read, so that keys do not depend on where
        pages end. Pages are fetched at once (on the worker that fetched the first); the
        lines are keyed as they are written, on the thread writing them: keying is most of
        the CPU a line costs, and done beside the workers' parsing it would only fight them
        for the GIL.
        """
        items, total = body["items"], body["pagination"]["total"]
        if len(items) < total:
            if window.split(self.split_resolution) is None:
                items = self._all_pages(body, context, window)
            else:
                msg = f"{len(items)} of {total} lines in one response"
                # As many pieces as responses it would take if lines were spread evenly, plus
                # a margin: one request per piece instead of a cascade of halvings.
                more, fewer = SPLIT_MARGIN
                per_response = max(len(items), 1) * fewer
                raise WindowTooLargeError(msg, parts=-(-total * more // per_response))  # ceiling
        return self._keyed_lines_when_written(items, context, window)

    def _all_pages(
        self, first: dict[str, t.Any], context: Context, window: Window
    ) -> list[dict[str, t.Any]]:
        """Every line of a window that splitting cannot cut: its first page and the rest."""
        page = paging.Page.of(first)
        self.logger.info(
            "%s %s: window %s holds %d lines, %d per response, and cannot be split: "
            "reading it page by page",
            self.describe_partition(context),
            self.name,
            window.describe(),
            page.total,
            len(page.items),
        )
        return paging.read_pages(
            page,
            lambda number: paging.Page.of(
                self.fetch_body(context, window, self.page_request(context, window, number))
            ),
            paging.Paging(
                where=self.where(context, window),
                param=self.vendor.page_param,
                size=self.vendor.page_size,
            ),
        )

    def _keyed_lines_when_written(
        self, items: list[dict[str, t.Any]], context: Context, window: Window
    ) -> Iterator[dict[str, t.Any]]:
        yield from self._keyed_lines(items, context, window)

    def _keyed_lines(
        self, items: list[dict[str, t.Any]], context: Context, window: Window
    ) -> list[dict[str, t.Any]]:
        """The window's records; lines it should not hold and unknown raw keys are logged."""
        try:
            keyed = lines.keyed_lines(
                items,
                raw=self.raw_fields,
                start=lines.iso_utc(window.start),
                end=lines.iso_utc(window.end),
            )
        except lines.OutOfCalendarError as exc:
            msg = f"{self.where(context, window)}: a line is dated {exc}"
            raise SourceError(msg) from None
        where = f"{self.describe_partition(context)} {self.name}"
        if keyed.outside:
            self.logger.warning(
                "%s: window %s: left out %d lines dated outside it (does the API filter on "
                "another field than the send date?)",
                where,
                window.describe(),
                keyed.outside,
            )
        if keyed.undated:
            self.logger.warning(
                "%s: window %s: %d lines have a date in an unknown format (e.g. %r): kept as "
                "sent, keyed by it; a target typing date as a timestamp will refuse them",
                where,
                window.describe(),
                keyed.undated,
                keyed.undated_example,
            )
        if keyed.unknown_keys:
            self._report_unknown_keys(keyed.unknown_keys)
        return keyed.records

    def _report_unknown_keys(self, keys: frozenset[str]) -> None:
        """Warn once per run about each raw key without a name: a new vendor field."""
        with self._unknown_keys_lock:
            new = keys - self._unknown_keys_reported
            self._unknown_keys_reported |= new
        if new:
            self.logger.warning(
                "%s %s: the API sends pretty=false keys the tap does not know, left out: %s",
                self.source_name,
                self.name,
                ", ".join(sorted(new)),
            )
