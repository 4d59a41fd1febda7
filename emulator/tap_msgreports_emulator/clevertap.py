"""CleverTap emulation: Get Campaigns and Get Message Reports, as `api-notes.md` describes them.

Both endpoints are `POST` with a JSON body and the account id and passcode in headers. Get
Campaigns takes integer dates and at most 31 days; Get Message Reports takes string or integer
dates and at most 92 days and matches messages by start day only. Errors use the vendor's
`{"status": "fail", "error": ..., "code": ...}` envelope with a non-2xx status, or inside an
HTTP 200 (`fails_in_200`, and the `200-*` fault kinds), as public clients of the real API see
them. Campaigns are listed by their scheduled day from the day they are created, which can be
weeks before it; accounts whose campaigns are all built in the dashboard list none
(`dashboard_only`: the vendor's current page says Get Campaigns lists API-created ones only).
"""

from __future__ import annotations

import hmac
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tap_msgreports_emulator.clevertap_data import (
    MAX_CREATION_LEAD_DAYS,
    AccountSlot,
    Campaign,
    Message,
    campaigns_of_day,
    messages_of_day,
)
from tap_msgreports_emulator.vendor import Request, Response, VendorAPI, json_response
from tap_msgreports_emulator.world import Account, World, seeded_rng

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

CAMPAIGNS_PATH = "/1/targets/list.json"
REPORTS_PATH = "/1/message/report.json"
CAMPAIGNS_MAX_SPAN_DAYS = 31
REPORTS_MAX_SPAN_DAYS = 92
MAX_CONCURRENCY = 3
# Message Reports filters: body key -> what of a message it is compared with (lower case).
FILTER_KEYS = ("channel", "delivery", "status", "message_type", "label")
RANGE_ERROR = "Invalid date range"
ERROR_TEXT = {
    400: "Bad request",
    401: "Invalid Credentials",
    404: "Not found",
    405: "Method not allowed",
    429: "Rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}


class CleverTapError(Exception):
    """A request the API refuses, with the status and message it answers."""

    def __init__(self, status: int, message: str | None = None) -> None:
        """Create the error.

        Args:
            status: HTTP status code.
            message: The `error` text; default the usual text for the status.
        """
        super().__init__(message or ERROR_TEXT.get(status, "Error"))
        self.status = status
        self.message = message or ERROR_TEXT.get(status, "Error")


# Fault kinds of failures inside a 200 -> (code, error text; None for the status's usual one).
FAILURE_OF_KIND = {"200-429": (429, None), "200-500": (500, None), "200-range": (400, RANGE_ERROR)}


def fail(
    status: int,
    message: str | None = None,
    retry_after: int | None = None,
    *,
    in_200: bool = False,
) -> Response:
    """Build a CleverTap error response.

    Args:
        status: HTTP status code, and the envelope's `code`.
        message: The `error` text; default the usual text for the status.
        retry_after: Seconds for a `Retry-After` header, or None for none.
        in_200: Answer HTTP 200 with the envelope (the status only in `code`).

    Returns:
        The response with the vendor's error envelope.
    """
    text = message or ERROR_TEXT.get(status, "Error")
    headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
    body = {"status": "fail", "error": text, "code": status}
    return json_response(200 if in_200 else status, body, headers)


class CleverTapAPI(VendorAPI):
    """The two CleverTap endpoints over a `World`'s accounts.

    The limits are plain attributes so that a test can shrink them, e.g. to make a tap split
    its windows.

    Attributes:
        world: The world the data comes from.
        campaigns_max_span_days: Longest Get Campaigns range, in days counted inclusively.
        reports_max_span_days: Longest Get Message Reports range, in days counted inclusively.
        max_concurrency: Requests allowed in flight per account, over both endpoints.
        fails_in_200: Answer the API's own refusals (range, credentials, bad requests) as HTTP
            200 with the error envelope, the status only in its `code`.
        dashboard_only: Accounts whose campaigns are all built in the dashboard: Get
            Campaigns lists none of them (their messages are still reported).
    """

    name = "clevertap"
    streams = ("campaigns", "message_reports")

    def __init__(
        self,
        world: World,
        *,
        campaigns_max_span_days: int = CAMPAIGNS_MAX_SPAN_DAYS,
        reports_max_span_days: int = REPORTS_MAX_SPAN_DAYS,
        max_concurrency: int = MAX_CONCURRENCY,
    ) -> None:
        """Create the emulation.

        Args:
            world: The world the data comes from.
            campaigns_max_span_days: Longest Get Campaigns range in days.
            reports_max_span_days: Longest Get Message Reports range in days.
            max_concurrency: Requests allowed in flight per account.
        """
        self.world = world
        self.campaigns_max_span_days = campaigns_max_span_days
        self.reports_max_span_days = reports_max_span_days
        self.max_concurrency = max_concurrency
        self.fails_in_200 = False
        self.dashboard_only: set[str] = set()

    def handles(self, path: str) -> bool:
        """Say whether a path is one of the two endpoints.

        Args:
            path: URL path.

        Returns:
            True for `/1/targets/list.json` and `/1/message/report.json`.
        """
        return path in {CAMPAIGNS_PATH, REPORTS_PATH}

    def stream_of(self, request: Request) -> str | None:
        """Name the stream of a request: each endpoint is one stream.

        Args:
            request: The request.

        Returns:
            `campaigns`, `message_reports`, or None for another path.
        """
        return {CAMPAIGNS_PATH: "campaigns", REPORTS_PATH: "message_reports"}.get(request.path)

    def issued_secrets(self) -> dict[str, str]:
        """Return the passcode of every account.

        Returns:
            Passcode -> `CleverTap passcode of <account>`.
        """
        return {
            self.world.passcode(account): f"CleverTap passcode of {account.account_id}"
            for account in self.world.accounts
        }

    def concurrency_key(self, request: Request) -> str | None:
        """Return the account a request counts against, if the account exists.

        Args:
            request: The request.

        Returns:
            The account id from the header, or None for an unknown account.
        """
        account_id = request.header("X-CleverTap-Account-Id")
        return account_id if account_id and self.world.account(account_id) else None

    def handle(self, request: Request) -> Response:
        """Answer a request for one of the two endpoints.

        Args:
            request: The request.

        Returns:
            The vendor's answer.
        """
        try:
            if request.method != "POST":
                raise CleverTapError(405)  # noqa: TRY301 - one place turns errors into responses
            account = self._authenticate(request)
            body = _json_object(request)
            today = self.world.today
            if request.path == CAMPAIGNS_PATH:
                return json_response(200, self._list_campaigns(account, body, today))
            return json_response(200, self._report_messages(account, body, today))
        except CleverTapError as error:
            return fail(error.status, error.message, in_200=self.fails_in_200)

    def error_response(self, status: int, retry_after: int | None = None) -> Response:
        """Build the vendor's error response for a status.

        Args:
            status: HTTP status code.
            retry_after: Seconds for a `Retry-After` header, or None.

        Returns:
            The response.
        """
        return fail(status, retry_after=retry_after)

    def failure_in_ok(self, kind: str) -> Response | None:
        """Build an HTTP 200 whose body says `"status": "fail"`, for a `200-*` fault kind.

        Args:
            kind: `200-429`, `200-500` or `200-range`.

        Returns:
            The response, or None for another kind.
        """
        if kind not in FAILURE_OF_KIND:
            return None
        status, message = FAILURE_OF_KIND[kind]
        return fail(status, message, in_200=True)

    def tap_config(self, base_url: str) -> dict[str, Any]:
        """Return the `clevertap_accounts` setting for the world's accounts.

        Args:
            base_url: The emulator's URL.

        Returns:
            `{"clevertap_accounts": [...]}`.
        """
        return {
            "clevertap_accounts": [
                {
                    "account_id": account.account_id,
                    "passcode": self.world.passcode(account),
                    "api_url": base_url,
                    "timezone": account.timezone,
                }
                for account in self.world.accounts
            ]
        }

    def campaigns(self, account: Account, start: date, end: date, today: date) -> list[Campaign]:
        """Return the campaigns listed for scheduled days in a range.

        Args:
            account: The account.
            start: First scheduled day, inclusive.
            end: Last scheduled day, inclusive.
            today: The simulated current date.

        Returns:
            Campaigns created by today (through the API: none for a `dashboard_only`
            account), in generation order; those scheduled after today included.
        """
        if account.account_id in self.dashboard_only:
            return []
        # Nothing scheduled later than this has been created yet.
        last = min(end, today + timedelta(days=MAX_CREATION_LEAD_DAYS))
        return [
            campaign
            for day in _days(start, last)
            for campaign in campaigns_of_day(
                self.world.seed, self.world.scale, self._slot(account), day
            )
            if campaign.created <= today
        ]

    def messages(self, account: Account, start: date, end: date, today: date) -> list[Message]:
        """Return the messages that started on days in a range.

        Args:
            account: The account.
            start: First start day, inclusive.
            end: Last start day, inclusive.
            today: The simulated current date.

        Returns:
            Messages started by today, in generation order.
        """
        return [
            message
            for day in _days(start, min(end, today))
            for message in messages_of_day(
                self.world.seed, self.world.scale, self._slot(account), day
            )
        ]

    def truth(
        self, stream: str, start: date, end: date, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return what a correct tap holds for a stream and a range of days.

        Campaigns are selected by scheduled day, messages by start day; message figures are
        totals as of today, without filters. A range past today holds the campaigns already
        created for those days (a tap that reads ahead lists them), and no message.

        Args:
            stream: `campaigns` or `message_reports`.
            start: First day, inclusive.
            end: Last day, inclusive.
            account_id: Only this account, or None for all accounts.

        Returns:
            The records, ordered by account and day.

        Raises:
            KeyError: If the stream or the account is unknown.
        """
        today = self.world.today
        accounts = self._accounts(account_id)
        if stream == "campaigns":
            return [
                c.truth(today, ZoneInfo(a.timezone))
                for a in accounts
                for c in self.campaigns(a, start, end, today)
            ]
        if stream == "message_reports":
            return [
                m.truth(today, ZoneInfo(a.timezone))
                for a in accounts
                for m in self.messages(a, start, end, today)
            ]
        raise KeyError(stream)

    def _accounts(self, account_id: str | None) -> tuple[Account, ...]:
        if account_id is None:
            return self.world.accounts
        account = self.world.account(account_id)
        if account is None:
            raise KeyError(account_id)
        return (account,)

    def _slot(self, account: Account) -> AccountSlot:
        index = self.world.account_index(account)
        return AccountSlot(account.account_id, index, len(self.world.accounts))

    def _authenticate(self, request: Request) -> Account:
        account = self.world.account(request.header("X-CleverTap-Account-Id") or "")
        passcode = request.header("X-CleverTap-Passcode") or ""
        if account is None or not hmac.compare_digest(
            passcode.encode(), self.world.passcode(account).encode()
        ):
            raise CleverTapError(401)
        return account

    def _list_campaigns(
        self, account: Account, body: Mapping[str, Any], today: date
    ) -> dict[str, Any]:
        start = _day_of(body, "from", strings_allowed=False)
        end = _day_of(body, "to", strings_allowed=False)
        _check_range(start, end, self.campaigns_max_span_days)
        targets = [c.to_api(today) for c in self.campaigns(account, start, end, today)]
        self._shuffle(targets, CAMPAIGNS_PATH, account, start, end, today)
        return {"status": "success", "targets": targets}

    def _report_messages(
        self, account: Account, body: Mapping[str, Any], today: date
    ) -> dict[str, Any]:
        start = _day_of(body, "from", strings_allowed=True)
        end = _day_of(body, "to", strings_allowed=True)
        _check_range(start, end, self.reports_max_span_days)
        filters = _filters(body)
        daily = _daily(body)
        messages = [
            m.to_api(today, daily=daily)
            for m in self.messages(account, start, end, today)
            if _matches(m, filters, today)
        ]
        self._shuffle(messages, REPORTS_PATH, account, start, end, today)
        return {"status": "success", "total_results": len(messages), "messages": messages}

    def _shuffle(self, items: list[dict[str, Any]], *request: object) -> None:
        # The vendor documents no order; shuffling keeps a tap from relying on one, and seeding
        # by the request keeps repeated requests identical.
        seeded_rng(self.world.seed, "shuffle", *request).shuffle(items)


def _json_object(request: Request) -> Mapping[str, Any]:
    try:
        body = request.json()
    except ValueError as error:
        raise CleverTapError(400, "Invalid JSON payload") from error
    if not isinstance(body, dict):
        raise CleverTapError(400, "Invalid JSON payload")
    return body


def _day_of(body: Mapping[str, Any], key: str, *, strings_allowed: bool) -> date:
    value = body.get(key)
    text = None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str) and strings_allowed:
        text = value
    try:
        if text is None or len(text) != len("YYYYMMDD") or not (text.isascii() and text.isdigit()):
            raise ValueError(text)  # noqa: TRY301 - same answer as an impossible date
        return datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a calendar day
    except ValueError as error:
        message = f'Invalid "{key}" date (it must be of the format YYYYMMDD)'
        raise CleverTapError(400, message) from error


def _check_range(start: date, end: date, max_span_days: int) -> None:
    if start > end or (end - start).days + 1 > max_span_days:
        raise CleverTapError(400, RANGE_ERROR)


def _filters(body: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    filters = {}
    for key in FILTER_KEYS:
        value = body.get(key)
        # The docs allow comma-separated values as well as arrays.
        if isinstance(value, str):
            value = value.split(",")
        if value is None or value == []:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CleverTapError(400, f'Invalid "{key}" parameter')
        filters[key] = frozenset(v.strip().lower() for v in value)
    return filters


def _daily(body: Mapping[str, Any]) -> bool:
    daily = body.get("daily", False)
    if not isinstance(daily, bool):
        raise CleverTapError(400, 'Invalid "daily" parameter')
    return daily


def _matches(message: Message, filters: Mapping[str, frozenset[str]], today: date) -> bool:
    values = {
        "channel": {message.channel},
        "delivery": {message.delivery},
        "status": {message.status(today)},
        "message_type": {message.message_type},
        "label": {label.lower() for label in message.labels},
    }
    return all(values[key] & wanted for key, wanted in filters.items())


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
