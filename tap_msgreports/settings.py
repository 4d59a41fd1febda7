"""Settings shared by every source: the date range and how HTTP requests behave.

Each vendor declares its own beside its quirks. Values are parsed once into frozen
dataclasses; every problem is one line naming the setting, before any request is made.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import types
import typing as t
from dataclasses import dataclass, fields
from functools import cached_property
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_msgreports.sdk_compat import parse_environment_config
from tap_msgreports.windows import CALENDAR_TEXT, in_calendar

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Self  # typing's from Python 3.11 on

DEFAULT_START_DAYS_AGO = 30
MAX_WAIT_SECONDS = 3600  # an hour: a longer timeout or backoff is a typo, not a plan
MAX_RETRIES = 100
MAX_RESPONSE_MB = 4096
MAX_LOOKBACK_DAYS = 3650  # ten years
#: Requests in flight in all, at most: threads waiting on sockets cost little, but each
#: holds a window until it is written; beyond this a typo, not a plan.
MAX_REQUESTS_IN_FLIGHT = 64

COMMON_PROPERTIES = th.PropertiesList(
    th.Property(
        "start_date",
        th.DateType,
        description=(
            "First date to extract when there is no bookmark (YYYY-MM-DD). "
            "Default: 30 days before today."
        ),
        title="Start date",
    ),
    th.Property(
        "end_date",
        th.DateType,
        description="Last date to extract, inclusive (YYYY-MM-DD). Default: today.",
        title="End date",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1, maximum=MAX_WAIT_SECONDS),
        default=300,
        description=(
            "Seconds to wait for one HTTP response before retrying; a body (JSON or a report "
            "file) must have arrived within it plus 1 s per 64 KB received."
        ),
        title="Request timeout",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=MAX_RETRIES),
        default=8,
        description=(
            "Retries per request after the first try, on 429, 5xx, timeouts, dropped "
            "connections and malformed bodies."
        ),
        title="Maximum retries",
    ),
    th.Property(
        "backoff_initial_seconds",
        th.NumberType(minimum=0, maximum=MAX_WAIT_SECONDS),
        default=1.0,
        description=(
            "Wait before the first retry; it doubles on each further retry (with jitter). "
            "A Retry-After header from the server takes precedence."
        ),
        title="Initial backoff",
    ),
    th.Property(
        "backoff_max_seconds",
        th.NumberType(minimum=0, maximum=MAX_WAIT_SECONDS),
        default=120.0,
        description="Longest wait between two tries, Retry-After included.",
        title="Maximum backoff",
    ),
    th.Property(
        "max_response_mb",
        th.IntegerType(minimum=1, maximum=MAX_RESPONSE_MB),
        default=256,
        description=(
            "Largest JSON response accepted, in MB: a body declared or growing beyond it is "
            "refused (MoEngage files have moengage_max_file_mb)."
        ),
        title="Maximum response size",
    ),
    th.Property(
        "max_requests_in_flight",
        th.IntegerType(minimum=1, maximum=MAX_REQUESTS_IN_FLIGHT),
        default=MAX_REQUESTS_IN_FLIGHT,
        description=(
            "Requests in flight at once over all partitions of a stream (accounts, channels, "
            "reports), 1 to 64; each account's own limit still holds, and is what binds "
            "first. Lower it to spare a small machine or a proxy."
        ),
        title="Maximum requests in flight",
    ),
    th.Property(
        "allow_insecure_http",
        th.BooleanType,
        default=False,
        description=(
            "Allow a plain-http *_api_url to a host other than this machine (credentials "
            "would travel unencrypted). TLS certificates are always verified."
        ),
        title="Allow plain HTTP",
    ),
)


def schema_defaults(properties: th.PropertiesList) -> dict[str, t.Any]:
    """The defaults ``properties`` declare: the one place a default is written."""
    specs = properties.to_dict()["properties"]
    return {name: spec.get("default") for name, spec in specs.items()}


def settings_with_defaults(
    config: Mapping[str, t.Any], defaults: Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """Each setting named in ``defaults``: its value, or its default when unset or null."""
    return {
        name: default if (value := config.get(name)) is None else value
        for name, default in defaults.items()
    }


#: Field metadata naming how a setting's value is read, when its type alone does not say.
READ = "read"


@dataclass(frozen=True)
class TypedSettings:
    """Settings read once as typed values: a subclass declares its fields, nothing more.

    A field is the setting ``PREFIX + name`` of ``PROPERTIES``, default applied, converted to
    its type (or by the function in its ``READ`` metadata).
    """

    PREFIX: t.ClassVar[str] = ""
    PROPERTIES: t.ClassVar[th.PropertiesList]

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> Self:
        """Read the settings once, defaults applied."""
        if (how := _HOW_TO_READ.get(cls)) is None:  # worked out once, read on every request
            hints = t.get_type_hints(cls)
            readers = {
                each.name: each.metadata.get(READ) or reader_of(hints[each.name])
                for each in fields(cls)
            }
            how = _HOW_TO_READ[cls] = schema_defaults(cls.PROPERTIES), readers
        defaults, readers = how
        value = settings_with_defaults(config, defaults)
        return cls(**{name: read(value[cls.PREFIX + name]) for name, read in readers.items()})

    @classmethod
    def of_stream(cls) -> cached_property[Self]:
        """A stream attribute: these settings, read from the stream's config on first use."""
        return cached_property(lambda stream: cls.from_config(stream.config))


Reader = t.Callable[[t.Any], t.Any]
#: Per settings class: its defaults, and how each field is read.
_HOW_TO_READ: dict[type[TypedSettings], tuple[dict[str, t.Any], dict[str, Reader]]] = {}


def reader_of(hint: t.Any) -> Reader:  # noqa: ANN401 - any type hint
    """How a value becomes a ``hint``: ``int``, ``list[str]``, ``int | None``..."""
    arguments = t.get_args(hint)
    if t.get_origin(hint) in {t.Union, types.UnionType}:  # X | None: None stays None
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        read = reader_of(inner)
        return lambda value: None if value is None else read(value)
    if t.get_origin(hint) is list:
        (item,) = arguments
        return lambda value: [item(each) for each in value or []]
    return t.cast("Reader", hint)  # str, int, float, bool


@dataclass(frozen=True)
class SourceSettings(TypedSettings):
    """A vendor's settings, among them its requests in flight per key (an account...)."""

    max_concurrency: int


@dataclass(frozen=True)
class HttpSettings(TypedSettings):
    """How every request is sent and retried."""

    PROPERTIES = COMMON_PROPERTIES

    request_timeout: float
    max_retries: int
    backoff_initial_seconds: float
    backoff_max_seconds: float
    max_response_mb: int
    max_requests_in_flight: int


def range_problems(
    properties: th.PropertiesList,
    config: Mapping[str, t.Any],
    notes: Mapping[str, tuple[str, str]] | None = None,
) -> list[str]:
    """One line per number outside its schema's range: ``name must be low to high, got value``.

    ``notes`` adds words after the range and the value. The value is shown (a number, never
    a secret); this runs only for the sources configured.
    """
    found = []
    for name, spec in properties.to_dict()["properties"].items():
        value = spec.get("default") if (given := config.get(name)) is None else given
        if "maximum" not in spec or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not spec["minimum"] <= value <= spec["maximum"]:
            after_range, after_value = (notes or {}).get(name, ("", ""))
            found.append(
                f"{name} must be {_number(spec['minimum'])} to {_number(spec['maximum'])}"
                f"{after_range}, got {_number(value)}{after_value}"
            )
    return found


def _number(value: float) -> str:
    """An integer in full, any other number as short as it reads (``0.5``, ``1e+07``)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def parse_date(value: object, setting: str) -> dt.date:
    """A date from ``YYYY-MM-DD`` or an ISO date-time; else a ValueError naming the setting."""
    text = str(value).strip()
    try:
        if len(text) == len("YYYY-MM-DD"):
            day = dt.date.fromisoformat(text)
        else:
            day = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        msg = f"{setting} must be a date like 2026-01-31, got {text!r}"
        raise ValueError(msg) from None
    if not in_calendar(day):
        msg = (
            f"{setting} must lie in {CALENDAR_TEXT} (dates near the ends of the calendar "
            f"overflow), got {text!r}"
        )
        raise ValueError(msg)
    return day


@dataclass(frozen=True)
class DateRange:
    """The configured dates, before any time zone or bookmark is applied."""

    start_date: dt.date | None
    end_date: dt.date | None

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> DateRange:
        """Parse ``start_date`` and ``end_date``; unset ones stay None (relative to today)."""
        start, end = config.get("start_date"), config.get("end_date")
        return cls(
            start_date=parse_date(start, "start_date") if start else None,
            end_date=parse_date(end, "end_date") if end else None,
        )

    def resolve(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The first and last date to read, given what "today" is where the data lives.

        Never after today: a window read ahead of time is empty, and its bookmark would tell
        every later run that it is done.
        """
        end = min(self.end_date or today, today)
        start = self.start_date or (today - dt.timedelta(days=DEFAULT_START_DAYS_AGO))
        return start, end

    def problems(self) -> list[str]:
        """One line per inconsistency, defaults included: a range empty in every time zone."""
        now = dt.datetime.now(dt.timezone.utc)
        latest_today = (now + dt.timedelta(hours=14)).date()  # UTC+14 is the first to a day
        earliest_today = (now - dt.timedelta(hours=12)).date()  # UTC-12 the last
        start, end = self.start_date, self.end_date
        if start and end and start > end:
            return [f"start_date ({start}) is after end_date ({end})"]
        if start and not end and start > latest_today:
            return [f"start_date ({start}) is after today, the default end_date: set end_date"]
        default_start = earliest_today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
        if end and not start and end < default_start:
            days = DEFAULT_START_DAYS_AGO
            return [f"end_date ({end}) is before the default start_date ({days} days ago)"]
        return []


def credential_problem(value: str, name: str) -> str | None:
    """Why a credential cannot be sent as it is, or None; the message never shows the value.

    A pasted newline or space would be refused by the HTTP library (whose error quotes the
    header, secret included) or by the vendor as a wrong credential.
    """
    if value != value.strip():
        return f"{name} has leading or trailing whitespace (a pasted newline?): remove it"
    if any(not character.isprintable() for character in value):
        return f"{name} contains a control character: check how it was pasted"
    return None


def url_problem(value: str, name: str, config: Mapping[str, t.Any]) -> str | None:
    """Why ``value`` is not a usable base URL, or None.

    Plain HTTP sends credentials in clear text: refused unless the host is this machine (a
    local proxy) or ``allow_insecure_http`` says so.
    """
    try:
        parsed = urlparse(value)
    except ValueError:  # e.g. an unbalanced "[" taken for an IPv6 address
        parsed = urlparse("")
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        return f"{name} must be a full http(s) URL such as https://api.example.com"
    insecure_allowed = bool(config.get("allow_insecure_http")) or is_loopback(parsed.hostname)
    if parsed.scheme == "http" and not insecure_allowed:
        return (
            f"{name} uses plain http to a host that is not this machine: use https, or set "
            "allow_insecure_http if you really mean it"
        )
    return None


def is_loopback(host: str | None) -> bool:
    """Whether a URL's host is this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def coerce_numbers(config: dict[str, t.Any], schema: Mapping[str, t.Any]) -> None:
    """Turn number settings given as text (``--config=ENV``) into numbers, in place.

    The SDK parses integers, booleans and arrays from the environment, not ``number``s.
    """
    for name, spec in schema.get("properties", {}).items():
        value = config.get(name)
        if "number" in spec.get("type", ()) and isinstance(value, str):
            with contextlib.suppress(ValueError):
                config[name] = float(value)


def environment_config(schema: Mapping[str, t.Any], prefix: str) -> dict[str, t.Any]:
    """The settings given as ``<prefix><NAME>`` environment variables, parsed as the SDK does.

    A value that does not parse is kept as text, for validation to name the setting and its
    type: the parser's own error would quote the value (a secret?) in a traceback.
    """
    try:
        return parse_environment_config(dict(schema), prefix)  # also reads a .env file
    except ValueError:
        pass
    found: dict[str, t.Any] = {}
    for name, spec in schema.get("properties", {}).items():
        if (text := os.environ.get(prefix + name.upper().replace("-", "_"))) is None:
            continue
        try:
            found |= parse_environment_config({"properties": {name: spec}}, prefix)
        except ValueError:
            found[name] = text
    return found


def config_problems(config: Mapping[str, t.Any]) -> list[str]:
    """Problems with the settings shared by all sources."""
    try:
        found = DateRange.from_config(config).problems()
    except ValueError as exc:
        found = [str(exc)]
    return found + range_problems(COMMON_PROPERTIES, config)
