"""What every MoEngage download shares: signed URLs, dates that expire, errors, files.

One request fetches one report file for one date; files are served for 7 days. Each run
reads every date after the bookmark still served, says which dates were lost when the tap
did not run in time, skips dates without a file (a weekly report), and leaves today and
yesterday for the next run if their files are not there yet.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest

from tap_msgreports.bodies import arriving_chunks, load_capped
from tap_msgreports.client import Span, WindowedReportStream
from tap_msgreports.errors import SourceError, WindowUnavailableError
from tap_msgreports.http import (
    AUTH_STATUSES,
    ERROR_BODY_BYTES,
    RETRIABLE_ERRORS,
    Status,
    status_rule,
    vendor_message,
)
from tap_msgreports.moengage import answers, files, settings
from tap_msgreports.windows import ONE_DAY, Window, plan_day_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context


SOURCE = "MoEngage"
#: A missing file of today or of this many days before it may still come: the vendor advises
#: a buffer after generation, and the time zone of the workspace's file dates is unknown
#: (api-notes 5.4, 5.5). It is tried again next run; an older missing file is skipped.
NOT_THERE_YET_DAYS = 1


@dataclass
class ProbedFiles:
    """What asking for a report's newest files found: a file, a failure, or neither."""

    day: dt.date | None = None
    prefix: bytes = b""
    failure: str | None = None
    #: The HTTP status of each date asked, newest first.
    statuses: list[int] = field(default_factory=list)

    def none_found(self) -> str:
        """Why no file was found, with the answers seen (a wrong URL answers 404)."""
        seen = ", ".join(f"HTTP {code} x{n}" for code, n in Counter(self.statuses).items())
        return (
            f"no file dated today or in the {answers.FILE_LIFE_DAYS} days before; "
            f"answers: {seen or 'none'}"
        )


class MoEngageStream(WindowedReportStream):
    """A MoEngage report, partitioned by report name and read one dated file at a time."""

    source_name = SOURCE
    http_method = "GET"
    path = "/campaign_reports/rest_api/{app_id}/{file}"  # the endpoint, for metrics
    checks_connection = True

    vendor = settings.MoEngageSettings.of_stream()

    @property
    def url_base(self) -> str:
        """The data center's host, or ``moengage_api_url``."""
        return self.vendor.base_url

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per report name."""
        return [{"report_name": name} for name in self.vendor.reports]

    @property
    def max_file_bytes(self) -> int:
        """The size limit of one file, downloaded or inflated."""
        return self.vendor.max_file_mb << 20

    @property
    def max_columns(self) -> int:
        """The most columns one file may have (``moengage_max_columns``)."""
        return self.vendor.max_columns

    # ----- dates and bookmarks ------------------------------------------------------------

    def today(self) -> dt.date:
        """Today in UTC, from the clock: file life and "not generated yet" count from it.

        Never ``end_date``: a future one must not make files look expired, nor move the
        bookmark past dates whose files are still to come.
        """
        return self.now().date()

    def newest_bookmark(self, context: Context) -> dt.datetime:  # noqa: ARG002
        """Today: a bookmark is the last report date handled."""
        return dt.datetime.combine(self.today(), dt.time())

    @property
    def lookback(self) -> dt.timedelta:
        """None: a file never changes once generated (see :meth:`resume_from`)."""
        return dt.timedelta(0)

    def resume_from(self, first_day: dt.date, bookmark: dt.datetime | None) -> dt.datetime:
        """The date after the bookmark (the last date handled), else ``start_date``."""
        return bookmark + ONE_DAY if bookmark else self.midnight(first_day)

    def windows_of(self, context: Context, span: Span) -> list[Window]:
        """One window per date to today (never after, whatever ``end_date``), within file life."""
        last_day = min(span.last_day, span.today)
        wanted, oldest = span.start.date(), answers.oldest_served(span.today)
        if wanted < oldest:
            lost = Window.of_days(wanted, min(oldest - ONE_DAY, last_day))
            self.report_expired(context, lost, oldest, bookmarked=span.bookmark is not None)
        return plan_day_windows(max(wanted, oldest), last_day, 1)

    def report_expired(
        self, context: Context, lost: Window, oldest: dt.date, *, bookmarked: bool
    ) -> None:
        """Say that the files of the ``lost`` dates have expired (``oldest`` has not).

        A warning after a bookmark (the tap did not run in time); in a first run nothing was
        lost: ``start_date`` only reaches further back than files live.
        """
        where = self.describe_partition(context)
        if not bookmarked:
            self.logger.info(
                "%s: files older than %d days cannot be fetched: start_date %s is before %s, "
                "the oldest date still available",
                where,
                answers.FILE_LIFE_DAYS,
                lost.first_day,
                oldest,
            )
            return
        self.logger.warning(
            "%s: files for %s have expired (files live %d days) and are lost; run the tap at "
            "least every %d days",
            where,
            lost.describe(),
            answers.FILE_LIFE_DAYS,
            answers.FILE_LIFE_DAYS - 1,
        )

    def bookmark_value(self, window: Window, context: Context) -> str:  # noqa: ARG002
        """The last report date handled (downloaded, or known to have no file)."""
        return window.first_day.isoformat()

    # ----- requests ---------------------------------------------------------------------------

    def file_name(self, context: Context, window: Window) -> str:
        """The file of the partition's report for the window's date."""
        return files.file_name(context["report_name"], window.first_day)

    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """A GET of the file, signed as ``moengage_signature_in`` says (``moengage_auth``)."""
        app_id = str(self.config["moengage_app_id"])
        name = self.file_name(context, window)
        key = str(self.config["moengage_secret_key"])
        signed = files.signature(app_id, name, key)
        place = self.vendor.signature_in
        headers = {**self.http_headers}
        if self.vendor.sends_basic_auth:
            headers["Authorization"] = files.basic_authorization(app_id, key)
        params: dict[str, t.Any] = {}
        if place in {"header", "both"}:
            headers["Signature"] = signed
        if place in {"query", "both"}:
            params["Signature"] = signed
        return HTTPRequest(
            url=f"{self.url_base}/campaign_reports/rest_api/{app_id}/{name}",
            method=self.http_method,
            headers=headers,
            params=params,
        )

    def parse_body(self, response: requests.Response) -> t.IO[bytes]:
        """Stream the body to a temporary file; a broken or corrupt one is downloaded again."""
        what = answers.file_of(response)
        download = tempfile.TemporaryFile()  # noqa: SIM115 - handed on to the reader
        try:
            self._save_body(response, download, what)
            files.validate(download, self.max_file_bytes, what)
        except ValueError as exc:
            download.close()
            raise RetriableAPIError(str(exc), response) from None
        except BaseException:
            download.close()  # a dropped connection, a refusal: nothing will read it
            raise
        return download

    def _save_body(self, response: requests.Response, download: t.IO[bytes], what: str) -> None:
        """Write the body to ``download`` as it arrives, within ``moengage_max_file_mb``."""
        with response:
            for chunk in arriving_chunks(response, self.timeout, what):
                download.write(chunk)
                if download.tell() > self.max_file_bytes:
                    msg = f"{what} is larger than moengage_max_file_mb"
                    raise SourceError(msg)

    def probe_header(self, context: Context) -> list[str] | None:
        """The header of the report's newest file, from its first bytes; else warn why not."""
        newest = self.newest_file(context)
        outcome = newest.failure or newest.none_found()
        if newest.day is not None:
            if header := files.header_from_prefix(newest.prefix):
                return header
            window = Window.of_days(newest.day, newest.day)
            outcome = f"the start of {self.file_name(context, window)} is not readable CSV"
        self.logger.warning(
            "%s: no columns learnt at discovery (%s); they are declared when a file is read",
            self.describe_partition(context),
            outcome,
        )
        return None

    def newest_file(self, context: Context) -> ProbedFiles:
        """The newest file of the report still served, by its first bytes, newest date first.

        Each date is retried like any request; a refused signature or a source that does not
        answer ends the search.
        """
        today = self.today()
        send = self.request_decorator(self._probe_once)
        probed = ProbedFiles()
        for back in range(answers.FILE_LIFE_DAYS + 1):  # today and the 7 days before: all served
            day = today - dt.timedelta(days=back)
            window = Window.of_days(day, day)
            prepared = self.prepared_request(self.window_request(context, window))
            try:
                status, prefix, foreign = send(prepared, context)
            except RETRIABLE_ERRORS as exc:
                probed.failure = self.gave_up(exc)
                return probed
            probed.statuses.append(status)
            if status in AUTH_STATUSES:
                probed.failure = f"HTTP {status}: {self.credentials_hint()}"
                return probed
            if foreign:
                probed.failure = f"{foreign}: check moengage_api_url (or moengage_data_center)"
                return probed
            if prefix:
                probed.day, probed.prefix = day, prefix
                return probed
        return probed

    def connection_check(self, context: Context) -> str:
        """The date of the report's newest file still served."""
        newest = self.newest_file(context)
        if newest.failure:
            msg = f"{self.describe_partition(context)}: {newest.failure}"
            raise SourceError(msg)
        if newest.day is None:
            return f"reached: {newest.none_found()}"
        name = self.file_name(context, Window.of_days(newest.day, newest.day))
        return f"reached, signature accepted: newest file {name} ({newest.day})"

    def _probe_once(
        self, prepared: requests.PreparedRequest, context: Context
    ) -> tuple[int, bytes, str | None]:
        """One try of a probe: the status, a file's first bytes, what a foreign 4xx is."""
        with self.send_throttled(prepared, context) as response:
            status = response.status_code
            rule = status_rule(status)
            if rule is Status.RETRY:
                msg = f"HTTP {status}"
                raise RetriableAPIError(msg, response)
            if response.ok:
                return status, self._first_bytes(response), None
            if rule is not Status.REFUSED:
                return status, b"", None
            load_capped(response, ERROR_BODY_BYTES, "an error body", self.timeout)
            return status, b"", answers.foreign_refusal(response)

    def _first_bytes(self, response: requests.Response) -> bytes:
        """The start of a body, without reading the rest of it, within the body's deadline."""
        prefix = b""
        for chunk in arriving_chunks(response, self.timeout, answers.file_of(response)):
            prefix += chunk
            if len(prefix) >= files.HEADER_PREFIX_BYTES:
                break
        return prefix

    # ----- errors --------------------------------------------------------------------------

    def describe_partition(self, context: Context) -> str:
        """``MoEngage report 'Daily Push'``."""
        return f"{SOURCE} report {context['report_name']!r}"

    def describe_window(self, context: Context, window: Window) -> str:
        """The file the window reads: ``Daily_Push_20260114.zip``."""
        return self.file_name(context, window)

    def auth_error_message(self, context: Context) -> str:  # noqa: ARG002
        """Name the workspace and the settings, never the key, a signature or Basic auth."""
        return (
            f"{SOURCE} refused the signature for workspace {self.config['moengage_app_id']}: "
            f"{self.credentials_hint()}"
        )

    def credentials_hint(self) -> str:
        """What to check after a 401: the key and workspace, then ``moengage_auth``."""
        hint = "check moengage_secret_key (the campaign report API key) and moengage_app_id"
        if self.vendor.sends_basic_auth:
            return hint
        # Public clients also send Basic auth: a workspace may require it (api-notes 5.3).
        return f"{hint}; if both are right, set moengage_auth to signature+basic"

    def client_error(
        self, response: requests.Response, context: Context, window: Window
    ) -> Exception:
        """A 400 for a date: not there yet (today, yesterday), no file (skipped), or an error.

        Only MoEngage's own 400 means "no file"; any other 4xx stops the run.
        """
        if foreign := answers.foreign_refusal(response):
            return SourceError(
                f"{self.where(context, window)}: {foreign}: check moengage_api_url (and any "
                "proxy in between); the bookmark stays before this file"
            )
        message = vendor_message(response, ("error", "message"))
        name = self.file_name(context, window)
        if "app id" in message.lower():
            return SourceError(f"{SOURCE} {name}: {message}: check moengage_app_id")
        oldest = window.first_day <= answers.oldest_served(self.today())
        if oldest and response.status_code == HTTPStatus.BAD_REQUEST:
            # Never a failure, whatever the text: the vendor's day may be later than ours.
            reason = answers.oldest_refused(name, window.first_day, message)
            return WindowUnavailableError(reason, retry_later=False)
        if window.first_day >= self.today() - dt.timedelta(days=NOT_THERE_YET_DAYS):
            reason = f"{name} is not generated yet ({message})"
            return WindowUnavailableError(reason, retry_later=True)
        return WindowUnavailableError(f"no file {name} ({message})", retry_later=False)

    def throttle_key(self, context: Context) -> str:  # noqa: ARG002
        """The workspace."""
        return str(self.config["moengage_app_id"])
