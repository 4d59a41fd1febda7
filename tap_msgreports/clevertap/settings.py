"""CleverTap settings: accounts, regions, time zones, windows and report filters."""

from __future__ import annotations

import typing as t
import zoneinfo
from dataclasses import dataclass

from singer_sdk import typing as th

from tap_msgreports.settings import (
    MAX_LOOKBACK_DAYS,
    SourceSettings,
    credential_problem,
    range_problems,
    url_problem,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: Regions in CleverTap's documentation (``""`` is the default, Europe), plus ``sk1``
#: which only public client code uses. Anything else needs ``clevertap_api_url``.
REGIONS = ("", "eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1")
MAX_CAMPAIGN_WINDOW_DAYS = 31  # the vendor's advice for Get Campaigns
MAX_REPORT_WINDOW_DAYS = 92  # assumed; latency grows with the range
MAX_CONCURRENCY = 3  # requests in flight per account
DEFAULT_REPORT_WINDOW_DAYS = 7
DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_LOOKAHEAD_DAYS = 365  # a year ahead, as the best peer connector sweeps
MAX_LOOKAHEAD_DAYS = 3660  # ten years: more is a typo, and 119 requests per run already
REPORT_FILTERS = {
    # setting -> request field of Get Message Reports
    "clevertap_channels": "channel",
    "clevertap_deliveries": "delivery",
    "clevertap_statuses": "status",
    "clevertap_message_types": "message_type",
    "clevertap_labels": "label",
}

_ACCOUNT = th.ObjectType(
    th.Property("account_id", th.StringType, required=True, description="Account id."),
    th.Property("passcode", th.StringType, required=True, secret=True, description="Passcode."),
    th.Property("region", th.StringType, description="Region, if not clevertap_region."),
    th.Property("api_url", th.StringType, description="Base URL, if not clevertap_api_url."),
    th.Property("timezone", th.StringType, description="IANA time zone of the account."),
)

PROPERTIES = th.PropertiesList(
    th.Property(
        "clevertap_account_id",
        th.StringType,
        title="CleverTap account id",
        description="Account id (X-CleverTap-Account-Id) of one CleverTap account.",
    ),
    th.Property(
        "clevertap_passcode",
        th.StringType,
        secret=True,
        title="CleverTap passcode",
        description="Passcode (X-CleverTap-Passcode) of that account.",
    ),
    th.Property(
        "clevertap_accounts",
        th.ArrayType(_ACCOUNT),
        default=[],
        title="CleverTap accounts",
        description=(
            "More accounts: objects with account_id, passcode and optional region, "
            "api_url and timezone (each defaulting to the clevertap_* setting)."
        ),
    ),
    th.Property(
        "clevertap_region",
        th.StringType,
        default="",
        title="CleverTap region",
        description=(
            "Region of the account: empty for Europe (api.clevertap.com), or one of "
            "eu1, in1, sg1, us1, aps3, mec1, sk1 (https://{region}.api.clevertap.com)."
        ),
    ),
    th.Property(
        "clevertap_api_url",
        th.StringType,
        title="CleverTap API URL",
        description="Full base URL, overriding the region (the tap appends /1/...).",
    ),
    th.Property(
        "clevertap_timezone",
        th.StringType,
        default="UTC",
        title="CleverTap time zone",
        description="IANA time zone of the account: day boundaries and offsets of times.",
    ),
    th.Property(
        "clevertap_lookback_days",
        th.IntegerType(minimum=0, maximum=MAX_LOOKBACK_DAYS),
        default=DEFAULT_LOOKBACK_DAYS,
        title="CleverTap lookback (days)",
        description=(
            "Days before the bookmark that every run reads again: figures and statuses "
            "keep changing after a campaign starts."
        ),
    ),
    th.Property(
        "clevertap_lookahead_days",
        th.IntegerType(minimum=0, maximum=MAX_LOOKAHEAD_DAYS),
        default=DEFAULT_LOOKAHEAD_DAYS,
        title="CleverTap campaigns look-ahead (days)",
        description=(
            "Days after today whose campaigns every run reads too (campaigns scheduled "
            "ahead are listed by their day and exist now), never past end_date; the "
            "bookmark stays at today. 0 turns it off. Costs ceil(days / "
            "clevertap_campaign_window_days) requests per account per run: 12 by default."
        ),
    ),
    th.Property(
        "clevertap_track_open_days",
        th.BooleanType,
        default=True,
        title="Follow long-running campaigns",
        description=(
            "Keep re-reading, every run, the days of campaigns and messages older than the "
            "lookback that were still running, until they are completed or stopped."
        ),
    ),
    th.Property(
        "clevertap_campaign_window_days",
        th.IntegerType(minimum=1, maximum=MAX_CAMPAIGN_WINDOW_DAYS),
        default=MAX_CAMPAIGN_WINDOW_DAYS,
        title="Get Campaigns window (days)",
        description="Days per Get Campaigns request, at most 31.",
    ),
    th.Property(
        "clevertap_report_window_days",
        th.IntegerType(minimum=1, maximum=MAX_REPORT_WINDOW_DAYS),
        default=DEFAULT_REPORT_WINDOW_DAYS,
        title="Get Message Reports window (days)",
        description="Days per Get Message Reports request, at most 92.",
    ),
    *(
        th.Property(
            setting,
            th.ArrayType(th.StringType),
            title=f"Message Reports filter: {field}",
            description=f"Only messages with these {field} values (sent as a JSON array).",
        )
        for setting, field in REPORT_FILTERS.items()
    ),
    th.Property(
        "clevertap_daily",
        th.BooleanType,
        default=False,
        title="Day-wise figures",
        description="Ask Get Message Reports for one data element per day.",
    ),
    th.Property(
        "clevertap_max_concurrency",
        th.IntegerType(minimum=1, maximum=MAX_CONCURRENCY),
        default=MAX_CONCURRENCY,
        title="CleverTap requests in flight",
        description="Requests in flight per account, across both streams (at most 3).",
    ),
)

#: What a range's message says besides the range itself (after the range, after the value).
RANGE_NOTES = {
    "clevertap_campaign_window_days": (" days", ""),
    "clevertap_report_window_days": (" days", ""),
    "clevertap_max_concurrency": (" (CleverTap's limit per account)", ""),
}


@dataclass(frozen=True)
class CleverTapSettings(SourceSettings):
    """The CleverTap settings read as values, each with the default its schema declares."""

    PREFIX = "clevertap_"
    PROPERTIES = PROPERTIES

    region: str
    timezone: str
    lookback_days: int
    lookahead_days: int
    track_open_days: bool
    campaign_window_days: int
    report_window_days: int


@dataclass(frozen=True)
class CleverTapAccount:
    """One account to read, with everything needed to reach it."""

    account_id: str
    passcode: str
    api_url: str
    timezone: str
    #: Whether api_url was configured (else it comes from the region, checked as such).
    explicit_url: bool = False
    #: The setting api_url came from, for messages.
    url_setting: str = "clevertap_api_url"

    def __repr__(self) -> str:
        """Never show the passcode."""
        return f"CleverTapAccount({self.account_id!r}, {self.api_url!r}, {self.timezone!r})"


def host_for_region(region: str) -> str:
    """The API base URL of a region."""
    return f"https://{region}.api.clevertap.com" if region else "https://api.clevertap.com"


def _raw_accounts(config: Mapping[str, t.Any]) -> list[Mapping[str, t.Any]]:
    accounts: list[Mapping[str, t.Any]] = []
    if config.get("clevertap_account_id") or config.get("clevertap_passcode"):
        accounts.append(
            {
                "account_id": config.get("clevertap_account_id"),
                "passcode": config.get("clevertap_passcode"),
            }
        )
    accounts.extend(config.get("clevertap_accounts") or [])
    return accounts


#: The settings that make CleverTap a source of this run, for the message when none is.
CREDENTIALS = "clevertap_account_id and clevertap_passcode (or clevertap_accounts)"


def is_configured(config: Mapping[str, t.Any]) -> bool:
    """CleverTap is a source of this run when any account is configured."""
    return bool(_raw_accounts(config))


def accounts(config: Mapping[str, t.Any]) -> list[CleverTapAccount]:
    """The accounts to read, each with its URL and time zone resolved."""
    found = []
    chosen = CleverTapSettings.from_config(config)
    for raw in _raw_accounts(config):
        region = raw.get("region") or chosen.region
        explicit_url = raw.get("api_url") or config.get("clevertap_api_url")
        url_setting = (
            f"api_url of account {raw.get('account_id')} in clevertap_accounts"
            if raw.get("api_url")
            else "clevertap_api_url"
        )
        found.append(
            CleverTapAccount(
                account_id=str(raw.get("account_id") or ""),
                passcode=str(raw.get("passcode") or ""),
                api_url=str(explicit_url or host_for_region(region)).rstrip("/"),
                timezone=str(raw.get("timezone") or chosen.timezone),
                explicit_url=bool(explicit_url),
                url_setting=url_setting,
            )
        )
    return found


def problems(config: Mapping[str, t.Any]) -> list[str]:
    """One line per invalid CleverTap setting; empty when CleverTap is not configured."""
    if not is_configured(config):
        return []
    return _account_problems(config) + range_problems(PROPERTIES, config, RANGE_NOTES)


def _account_problems(config: Mapping[str, t.Any]) -> list[str]:
    found = []
    raw_regions = [CleverTapSettings.from_config(config).region]
    raw_regions += [raw.get("region") or "" for raw in config.get("clevertap_accounts") or []]
    found += [
        f"clevertap_region {region!r} is unknown: use one of {', '.join(REGIONS[1:])}, "
        "empty for Europe, or set clevertap_api_url"
        for region in raw_regions
        if (region or "") not in REGIONS
    ]
    seen: set[str] = set()
    for account in accounts(config):
        if not account.account_id or not account.passcode:
            found.append("clevertap_account_id and clevertap_passcode must both be set")
            continue
        found += [
            problem
            for value, name in (
                (account.account_id, "clevertap_account_id"),
                (account.passcode, f"clevertap_passcode of account {account.account_id.strip()}"),
            )
            if (problem := credential_problem(value, name))
        ]
        if account.account_id in seen:
            found.append(f"CleverTap account {account.account_id} is configured twice")
        seen.add(account.account_id)
        if account.explicit_url and (
            problem := url_problem(account.api_url, account.url_setting, config)
        ):
            found.append(problem)
        if not _is_timezone(account.timezone):
            found.append(f"clevertap_timezone {account.timezone!r} is not an IANA time zone")
    return found


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
