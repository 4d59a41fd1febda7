"""The two CleverTap streams: campaigns and message reports."""

from __future__ import annotations

import datetime as dt
import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest

from tap_msgreports.clevertap import settings
from tap_msgreports.clevertap.client import FINAL_STATUSES, CleverTapStream
from tap_msgreports.clevertap.parsing import (
    parse_scheduled_on,
    parse_start_date,
    totals,
    utc_text,
    yyyymmdd,
    zone,
)
from tap_msgreports.schemas import schema_directory
from tap_msgreports.windows import Window

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

SCHEMAS = SchemaDirectory(schema_directory())
#: Days of campaigns the connection check asks for: one request's worth.
CHECK_DAYS = settings.MAX_CAMPAIGN_WINDOW_DAYS


class CampaignsStream(CleverTapStream):
    """Get Campaigns: one record per campaign, listed by its scheduled day."""

    name = "campaigns"
    path = "/1/targets/list.json"
    primary_keys = ("account_id", "id")
    replication_key = "scheduled_at"
    schema = StreamSchema(SCHEMAS)
    window_setting = "clevertap_campaign_window_days"
    list_key = "targets"
    checks_connection = True

    @property
    def window_days(self) -> int:
        """``clevertap_campaign_window_days``."""
        return self.vendor.campaign_window_days

    def connection_check(self, context: Context) -> str:
        """The campaigns listed in the account's last 31 days (one request)."""
        today = self.today_for(context)
        window = Window.of_days(today - dt.timedelta(days=CHECK_DAYS - 1), today)
        found = len(self.list_field(self.fetch_body(context, window), context, window))
        return (
            f"reached, credentials accepted: {found} campaigns in the last {CHECK_DAYS} days "
            f"({window.describe()}; Get Campaigns lists campaigns created through the API)"
        )

    reads_ahead = True  # a campaign created today for next week is listed now, by its day

    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """Integer dates, inclusive at both ends."""
        return HTTPRequest(
            url=self.account_url(context),
            method=self.http_method,
            headers=self.account_headers(context),
            data={"from": int(yyyymmdd(window.first_day)), "to": int(yyyymmdd(window.last_day))},
        )

    def records_from(self, body: t.Any, context: Context, window: Window) -> list[dict[str, t.Any]]:  # noqa: ANN401
        """Add the account and the scheduled time with the account's offset."""
        tz = zone(self.account(context).timezone)
        records = []
        for target in self.list_field(body, context, window):
            self.require_key(target.get("id"), "a campaign without an id", context, window)
            scheduled_at = parse_scheduled_on(target.get("scheduled_on"), tz)
            self.require_calendar(scheduled_at, f"campaign {target.get('id')}", context, window)
            records.append(
                {
                    "account_id": context["account_id"],
                    "id": target.get("id"),
                    "name": target.get("name"),
                    "status": self.text_value(target, "status", context, window),
                    "scheduled_on": target.get("scheduled_on"),
                    "scheduled_at": utc_text(scheduled_at),
                }
            )
        self.note_open_days(context, window, records)
        return records

    def open_day_of(self, record: dict[str, t.Any], context: Context) -> dt.date | None:  # noqa: ARG002
        """The scheduled day (its local date is the first 8 digits of ``scheduled_on``)."""
        if record["status"] in FINAL_STATUSES:
            return None
        text = str(record["scheduled_on"] or "")[:8]
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a local day
        except ValueError:
            return None


class MessageReportsStream(CleverTapStream):
    """Get Message Reports: one record per message, listed by its start day."""

    name = "message_reports"
    path = "/1/message/report.json"
    primary_keys = ("account_id", "message_id")
    replication_key = "started_at"
    schema = StreamSchema(SCHEMAS)
    window_setting = "clevertap_report_window_days"
    list_key = "messages"

    @property
    def window_days(self) -> int:
        """``clevertap_report_window_days``."""
        return self.vendor.report_window_days

    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """String dates, the configured filters as JSON arrays, and ``daily``."""
        payload: dict[str, t.Any] = {
            "from": yyyymmdd(window.first_day),
            "to": yyyymmdd(window.last_day),
            "daily": bool(self.config.get("clevertap_daily")),
        }
        for setting, field in settings.REPORT_FILTERS.items():
            if values := self.config.get(setting):
                payload[field] = list(values)
        return HTTPRequest(
            url=self.account_url(context),
            method=self.http_method,
            headers=self.account_headers(context),
            data=payload,
        )

    def records_from(self, body: t.Any, context: Context, window: Window) -> list[dict[str, t.Any]]:  # noqa: ANN401
        """Rename ``"message id"``, parse the start date, total the figures."""
        tz = zone(self.account(context).timezone)
        records = []
        for message in self.list_field(body, context, window):
            message_id = message.get("message id", message.get("message_id"))
            self.require_key(message_id, "a message without a message id", context, window)
            self.text_value(message, "status", context, window)
            started_at = parse_start_date(
                message.get("start_date"),
                first_day=window.first_day,
                last_day=window.last_day,
                tz=tz,
            )
            self.require_calendar(started_at, f"message {message_id}", context, window)
            if started_at is None and message.get("start_date"):
                self.logger.warning(
                    "%s: message %s has a start_date in an unknown format (%r); "
                    "started_at is left empty",
                    self.describe_partition(context),
                    message.get("message id"),
                    message.get("start_date"),
                )
            records.append(self._record(message, context, started_at))
        self.note_open_days(context, window, records)
        return records

    def open_day_of(self, record: dict[str, t.Any], context: Context) -> dt.date | None:
        """The start day, in the account's zone, of a message still running."""
        if record["status"] in FINAL_STATUSES or not record["started_at"]:
            return None
        started = dt.datetime.fromisoformat(record["started_at"])
        return started.astimezone(zone(self.account(context).timezone)).date()

    @staticmethod
    def _record(message: dict[str, t.Any], context: Context, started_at: t.Any) -> dict[str, t.Any]:  # noqa: ANN401
        data = message.get("data")
        return {
            "account_id": context["account_id"],
            "message_id": message.get("message id", message.get("message_id")),
            "message_name": message.get("message_name"),
            "channel": message.get("channel"),
            "delivery": message.get("delivery"),
            "status": message.get("status"),
            "labels": message.get("labels"),
            "device": message.get("device"),
            "conversion_event": message.get("conversion_event"),
            "start_date": message.get("start_date"),
            "started_at": utc_text(started_at),
            **totals(data),
            "data": data,
        }
