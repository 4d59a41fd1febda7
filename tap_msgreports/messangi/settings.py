"""Messangi settings: where the Reporting API is, the key, channels, windows and filters."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from singer_sdk import typing as th

from tap_msgreports.settings import (
    MAX_LOOKBACK_DAYS,
    READ,
    SourceSettings,
    credential_problem,
    range_problems,
    url_problem,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

CHANNELS = ("S", "E", "P", "W", "R")  # SMS, Email, Push, WhatsApp, RCS
MAX_WINDOW_HOURS = 92 * 24  # the API refuses longer ranges
DEFAULT_WINDOW_HOURS = 24
DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_SETTLE_MINUTES = 10
MAX_SETTLE_MINUTES = 7 * 24 * 60  # a week: the data is near real-time
DEFAULT_MAX_CONCURRENCY = 4  # no limit is documented; stay polite
MAX_CONCURRENCY = 16
#: Filters: setting -> query parameter of GET /v3/mlog.
FILTERS = {
    "messangi_sender": "sender",
    "messangi_campaign_id": "campaignID",
    "messangi_recipient": "recipient",
}
#: Paging within a one-second window (api-notes 4.2: assumed 1-based ``page`` and ``size``).
DEFAULT_PAGE_PARAM = "page"
SIZE_PARAM = "size"
MAX_PAGE_SIZE = 100_000
#: Query parameters the tap sends already: the page parameter may not take one of their names.
SENT_PARAMETERS = frozenset({"from", "to", "pretty", "channel", "status", SIZE_PARAM}) | frozenset(
    FILTERS.values()
)
QUERY_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
#: Where the key goes (api-notes 4.1: "in the headers"; Bearer is assumed from the v2 API).
DEFAULT_AUTH_HEADER = "Authorization"
DEFAULT_AUTH_SCHEME = "Bearer"
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: a header name
#: Headers that frame the request itself: a key sent in one would break every request.
FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

PROPERTIES = th.PropertiesList(
    th.Property(
        "messangi_api_url",
        th.StringType,
        title="Messangi API URL",
        description="Full base URL of the Reporting API (the tap appends /v3/mlog).",
    ),
    th.Property(
        "messangi_api_key",
        th.StringType,
        secret=True,
        title="Messangi API key",
        description=(
            "The Space's API key, sent in messangi_auth_header after messangi_auth_scheme "
            "(by default Authorization: Bearer followed by the key)."
        ),
    ),
    th.Property(
        "messangi_auth_header",
        th.StringType,
        default=DEFAULT_AUTH_HEADER,
        title="Messangi auth header",
        description=(
            "The header that carries the API key, e.g. Authorization or X-API-Key: as your "
            "account manager names it."
        ),
    ),
    th.Property(
        "messangi_auth_scheme",
        th.StringType,
        default=DEFAULT_AUTH_SCHEME,
        title="Messangi auth scheme",
        description=(
            "The word sent before the key in messangi_auth_header (Bearer); empty to send "
            "the key alone."
        ),
    ),
    th.Property(
        "messangi_channels",
        th.ArrayType(th.StringType),
        default=list(CHANNELS),
        title="Messangi channels",
        description=(
            "Channels to read, one partition each: S (SMS), E (Email), P (Push), "
            "W (WhatsApp), R (RCS). The API takes one channel per request."
        ),
    ),
    th.Property(
        "messangi_statuses",
        th.ArrayType(th.StringType),
        title="Messangi status filter",
        description=(
            "Only lines with these statuses (sent comma-joined, without spaces). A row "
            "whose status moves out of the list is no longer updated."
        ),
    ),
    th.Property("messangi_sender", th.StringType, title="Messangi sender filter"),
    th.Property("messangi_campaign_id", th.StringType, title="Messangi campaign id filter"),
    th.Property("messangi_recipient", th.StringType, title="Messangi recipient filter"),
    th.Property(
        "messangi_window_hours",
        th.IntegerType(minimum=1, maximum=MAX_WINDOW_HOURS),
        default=DEFAULT_WINDOW_HOURS,
        title="Messangi window (hours)",
        description=(
            "Hours per request before any splitting (at most 92 days). A window that "
            "holds more lines than one response returns is split, recursively."
        ),
    ),
    th.Property(
        "messangi_lookback_days",
        th.IntegerType(minimum=0, maximum=MAX_LOOKBACK_DAYS),
        default=DEFAULT_LOOKBACK_DAYS,
        title="Messangi lookback (days)",
        description="Days before the bookmark that every run reads again: statuses change.",
    ),
    th.Property(
        "messangi_settle_minutes",
        th.IntegerType(minimum=0, maximum=MAX_SETTLE_MINUTES),
        default=DEFAULT_SETTLE_MINUTES,
        title="Messangi settle time (minutes)",
        description="The newest minutes are never read: the API is near real-time.",
    ),
    th.Property(
        "messangi_page_param",
        th.StringType,
        default=DEFAULT_PAGE_PARAM,
        title="Messangi page parameter",
        description=(
            "Query parameter that asks for page 2, 3, ... (1-based) of a one-second window "
            "holding more lines than one response returns. Change it when the run stops "
            "saying the API ignores it."
        ),
    ),
    th.Property(
        "messangi_page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        title="Messangi page size",
        description=(
            f"Lines per response, sent as {SIZE_PARAM} with every request when set (1 to "
            f"{MAX_PAGE_SIZE}); unset, the API's own number is used."
        ),
    ),
    th.Property(
        "messangi_raw_fields",
        th.BooleanType,
        default=False,
        title="Messangi raw fields",
        description=(
            "Ask with pretty=false and map the single-letter keys to names: adds owner, "
            "connector, template and status-description fields."
        ),
    ),
    th.Property(
        "messangi_max_concurrency",
        th.IntegerType(minimum=1, maximum=MAX_CONCURRENCY),
        default=DEFAULT_MAX_CONCURRENCY,
        title="Messangi requests in flight",
        description="Windows fetched at once per channel (Messangi documents no limit).",
    ),
)


#: The settings that make Messangi a source of this run, for the message when none is.
CREDENTIALS = "messangi_api_url and messangi_api_key"


def is_configured(config: Mapping[str, t.Any]) -> bool:
    """Messangi is a source of this run when its URL or key is set."""
    return bool(config.get("messangi_api_key") or config.get("messangi_api_url"))


#: What a range's message says besides the range itself (after the range, after the value).
RANGE_NOTES = {
    "messangi_window_hours": (" (92 days)", ""),
    "messangi_page_size": ("", " (unset it to take the API's own page size)"),
}


def _stripped(values: list[t.Any] | None) -> list[str]:
    return [str(value).strip() for value in values or []]


@dataclass(frozen=True)
class MessangiSettings(SourceSettings):
    """The Messangi settings read as values, each with the default its schema declares."""

    PREFIX = "messangi_"
    PROPERTIES = PROPERTIES

    channels: list[str]
    page_param: str
    #: Lines per response asked for, or None to take the API's.
    page_size: int | None
    auth_header: str
    auth_scheme: str
    #: The status filter, each value stripped: the API wants them comma-joined, no spaces.
    statuses: list[str] = field(metadata={READ: _stripped})
    window_hours: int
    lookback_days: int
    settle_minutes: int


def channels(config: Mapping[str, t.Any]) -> list[str]:
    """The channels to read, in the configured order."""
    return MessangiSettings.from_config(config).channels


def auth_header(config: Mapping[str, t.Any]) -> tuple[str, str]:
    """The header that carries the key, and its value: ``Bearer <key>`` or the key alone."""
    chosen = MessangiSettings.from_config(config)
    key = str(config["messangi_api_key"])
    return chosen.auth_header, f"{chosen.auth_scheme} {key}" if chosen.auth_scheme else key


def problems(config: Mapping[str, t.Any]) -> list[str]:
    """One line per invalid Messangi setting; empty when Messangi is not configured."""
    if not is_configured(config):
        return []
    found = []
    if not config.get("messangi_api_key") or not config.get("messangi_api_url"):
        found.append("messangi_api_url and messangi_api_key must both be set")
    elif problem := url_problem(str(config["messangi_api_url"]), "messangi_api_url", config):
        found.append(problem)
    if problem := credential_problem(str(config.get("messangi_api_key") or ""), "messangi_api_key"):
        found.append(problem)
    chosen = channels(config)
    if not chosen:
        found.append("messangi_channels is empty: name at least one of S, E, P, W, R")
    if unknown := [c for c in chosen if c not in CHANNELS]:
        found.append(f"messangi_channels has unknown channels {unknown}: use S, E, P, W, R")
    if len(set(chosen)) != len(chosen):
        found.append("messangi_channels names a channel twice")
    if "" in MessangiSettings.from_config(config).statuses:
        found.append("messangi_statuses has an empty value: name statuses such as SENT, READ")
    return found + _request_problems(config) + range_problems(PROPERTIES, config, RANGE_NOTES)


def _request_problems(config: Mapping[str, t.Any]) -> list[str]:
    """The page parameter and the auth header; values are not shown (a key pasted there?)."""
    found = []
    chosen = MessangiSettings.from_config(config)
    name = chosen.page_param
    if not QUERY_NAME.fullmatch(name):
        found.append(
            "messangi_page_param must be a query parameter name such as page or pageNumber "
            "(letters, digits, _ . - [ ])"
        )
    elif name in SENT_PARAMETERS:
        found.append(
            f"messangi_page_param must not be a parameter the tap sends already ({name}): "
            "use the API's page parameter, such as page"
        )
    header = chosen.auth_header
    if not HTTP_TOKEN.fullmatch(header):
        found.append(
            "messangi_auth_header must be an HTTP header name such as Authorization or "
            "X-API-Key (letters, digits and !#$%&'*+-.^_`|~; no space or colon)"
        )
    elif header.lower() in FRAMING_HEADERS:
        found.append(
            f"messangi_auth_header cannot be {header}: it frames the request; use the header "
            "your account manager names, such as Authorization or X-API-Key"
        )
    scheme = chosen.auth_scheme
    if scheme and not HTTP_TOKEN.fullmatch(scheme):
        found.append(
            "messangi_auth_scheme must be one word such as Bearer, or empty to send the key "
            "alone (no space or control character)"
        )
    return found
