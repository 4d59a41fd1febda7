"""What every Messangi request shares: the key, the URL, errors, channels and UTC windows."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_msgreports.client import Span, WindowedReportStream
from tap_msgreports.errors import SourceError, WindowTooLargeError
from tap_msgreports.http import text_at, vendor_message
from tap_msgreports.messangi import lines, settings
from tap_msgreports.windows import Window, plan_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context


SOURCE = "Messangi"
TOO_BIG = "report is too big"
#: Where an error text sits: under ``meta`` (api-notes assume it) or at the top level.
EXPLAIN_PATHS = (("meta", "explain"), ("explain",))
UTC = dt.timezone.utc


class MessangiStream(WindowedReportStream):
    """A Messangi report stream, partitioned by channel and read in UTC windows."""

    source_name = SOURCE
    window_setting = "messangi_window_hours"
    #: Windows are split down to one second before the run gives up.
    split_resolution = dt.timedelta(seconds=1)

    vendor = settings.MessangiSettings.of_stream()

    def throttle_key(self, context: Context) -> str:
        """The channel: a query of its own, read beside the others (no limit is documented)."""
        return f"{self.url_base} channel {context['channel']}"

    @property
    def url_base(self) -> str:
        """The configured base URL of the Reporting API."""
        return str(self.config["messangi_api_url"]).rstrip("/")

    @property
    def partitions(self) -> list[dict[str, t.Any]]:
        """One partition per channel: the API takes one channel per request."""
        return [{"channel": channel} for channel in self.vendor.channels]

    def auth_headers(self) -> dict[str, str]:
        """The key in its header, ``Authorization: Bearer <key>`` by default (never logged)."""
        name, value = settings.auth_header(self.config)
        return {**self.http_headers, name: value}

    # ----- windows and bookmarks --------------------------------------------------------

    def newest_bookmark(self, context: Context) -> dt.datetime:  # noqa: ARG002
        """Now: a bookmark is the end of the last window read, a time in UTC."""
        return self.now()

    @property
    def lookback(self) -> dt.timedelta:
        """``messangi_lookback_days``."""
        return dt.timedelta(days=self.vendor.lookback_days)

    def midnight(self, day: dt.date) -> dt.datetime:
        """The start of ``day`` in UTC."""
        return dt.datetime.combine(day, dt.time(), tzinfo=UTC)

    def windows_of(self, context: Context, span: Span) -> list[Window]:  # noqa: ARG002
        """UTC windows of ``messangi_window_hours`` to ``end_date``, never the newest minutes."""
        end = min(self.midnight(span.last_day + dt.timedelta(days=1)), self.settled_until())
        size = dt.timedelta(hours=self.vendor.window_hours)
        return plan_windows(span.start.replace(microsecond=0), end, size)

    def settled_until(self) -> dt.datetime:
        """The newest time read: the minutes after it may still change (near real time)."""
        return self.now() - dt.timedelta(minutes=self.vendor.settle_minutes)

    def parse_bookmark(self, value: str) -> dt.datetime:
        """A stored bookmark as a UTC time (one without a zone is taken as UTC), any year.

        Raises:
            ValueError: when the value is not a time.
        """
        moment = lines.parse_iso(value)
        if moment is None:
            raise ValueError(value)
        return moment

    # ----- requests and errors --------------------------------------------------------------

    def describe_partition(self, context: Context) -> str:
        """``Messangi channel S``."""
        return f"{SOURCE} channel {context['channel']}"

    def auth_error_message(self, context: Context) -> str:  # noqa: ARG002
        """Name the settings, never the key: a valid key in the wrong header is refused too."""
        return (
            f"{SOURCE} refused the API key: check messangi_api_key (active, not expired or "
            "revoked) and messangi_api_url; if the key is valid, the account may expect it in "
            "another messangi_auth_header or messangi_auth_scheme (see the README)"
        )

    def refusal(
        self,
        response: requests.Response,
        context: Context,  # noqa: ARG002
        window: Window,  # noqa: ARG002
    ) -> Exception | None:
        """A "report too big" splits the window whatever the status (api-notes 4.2: unknown).

        Any other error goes by its status: a 5xx is retried, a 4xx is :meth:`client_error`.
        """
        explain = vendor_message(response, *EXPLAIN_PATHS)
        return WindowTooLargeError(explain) if TOO_BIG in explain.lower() else None

    def client_error(
        self, response: requests.Response, context: Context, window: Window
    ) -> Exception:
        """A 4xx: its ``explain`` shown verbatim with the channel and the range."""
        explain = vendor_message(response, *EXPLAIN_PATHS)
        return SourceError(f"{self.where(context, window)}: HTTP {response.status_code}: {explain}")

    def check_body(self, body: t.Any, context: Context, window: Window) -> None:  # noqa: ANN401
        """A 200 body that refuses: "report too big" splits; another ``explain`` fails.

        An ``explain`` beside an items list is not a refusal (the API sends notes too).
        """
        explain = text_at(body, *EXPLAIN_PATHS)
        if explain is None:
            return
        if TOO_BIG in explain.lower():
            raise WindowTooLargeError(explain)
        if not isinstance(body.get("items"), list):
            msg = f"{self.where(context, window)}: {explain}"
            raise SourceError(msg)
