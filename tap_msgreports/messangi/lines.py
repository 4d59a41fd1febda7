"""Messangi log lines: single-letter keys, the stable key, and what a record holds.

The API has no message id. A line is identified by channel, sender, recipient, send
date and campaign id; those are normalised first (a recipient with or without ``+``,
a campaign id sent as a number or a string, a date with or without milliseconds), so
that the same line gets the same key in every run and in both ``pretty`` modes. The
recipient is lower-cased for the key only (e-mail addresses differ in case); records keep
it as sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing as t

from tap_msgreports.windows import CALENDAR_TEXT, FIRST_YEAR, LAST_YEAR, in_calendar

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: ``pretty=false`` keys and the names the tap gives them (api-notes 4.5; there is no q).
RAW_KEYS = {
    "a": "channel",
    "b": "sender",
    "c": "recipient",
    "d": "date",
    "e": "recipient_email",
    "f": "recipient_phone",
    "g": "owner",
    "h": "owner_user",
    "i": "campaignid",
    "j": "status",
    "k": "statusdate",
    "l": "content",
    "m": "user_identifier",
    "n": "alias_email",
    "o": "connector_id",
    "p": "rcs_agent_id",
    "r": "platform",
    "s": "subject",
    "t": "direction",
    "u": "subscriberid",
    "v": "template_id",
    "w": "template_parameters",
    "sd": "status_description",
}
PRETTY_FIELDS = (
    "channel",
    "sender",
    "recipient",
    "date",
    "campaignid",
    "status",
    "statusdate",
    "content",
    "platform",
    "subject",
    "direction",
    "subscriberid",
)
RAW_ONLY_FIELDS = tuple(name for name in RAW_KEYS.values() if name not in PRETTY_FIELDS)
ALL_FIELDS = (*PRETTY_FIELDS, *RAW_ONLY_FIELDS)
_PRETTY_FIELD_SET = frozenset(PRETTY_FIELDS)
_RAW_KEY_SET = frozenset(RAW_KEYS)
_RAW_BY_NAME = {name: key for key, name in RAW_KEYS.items()}
_RAW_KEYS_IN_ORDER = tuple(_RAW_BY_NAME[name] for name in ALL_FIELDS)


def readable(item: Mapping[str, t.Any], *, raw: bool) -> dict[str, t.Any]:
    """The line under readable names, no key the schema lacks (not copied if it has just those)."""
    if raw:
        return dict(zip(ALL_FIELDS, map(item.get, _RAW_KEYS_IN_ORDER), strict=True))
    if isinstance(item, dict) and item.keys() == _PRETTY_FIELD_SET:
        return item  # the usual case: this runs for every line
    return dict(zip(PRETTY_FIELDS, map(item.get, PRETTY_FIELDS), strict=True))


class OutOfCalendarError(ValueError):
    """A time near the ends of the calendar: a placeholder or a hostile value, not a date."""

    def __init__(self, value: str) -> None:
        """Say which value, and the years a time may fall in."""
        super().__init__(f"{value[:40]!r}, outside {CALENDAR_TEXT}")


def canonical_date(value: object) -> str | None:
    """A send date as Messangi writes it (UTC, milliseconds, ``Z``), or None if unreadable.

    A date in that form (almost all) is taken without parsing: this runs for every line.
    """
    if (
        isinstance(value, str)
        and len(value) == _CANONICAL_LENGTH
        and value[19] == "."
        and value[-1] == "Z"
        and _FIRST_YEAR_TEXT <= value[:4] <= _LAST_YEAR_TEXT
    ):
        return value
    moment = parse_utc(value)
    return iso_utc(moment) if moment else None


def parse_utc(value: object) -> dt.datetime | None:
    """An ISO-8601 UTC time as sent by Messangi, or None; OutOfCalendarError outside calendar."""
    parsed = parse_iso(value)
    if parsed is not None and not in_calendar(parsed):
        raise OutOfCalendarError(str(value))  # 9999-12-31 with an offset would overflow in UTC
    return parsed


def parse_iso(value: object) -> dt.datetime | None:
    """An ISO-8601 time, aware (UTC when it has no offset), or None; any year."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


_CANONICAL_LENGTH = len("2026-01-01T00:00:00.000Z")
_FIRST_YEAR_TEXT, _LAST_YEAR_TEXT = f"{FIRST_YEAR:04d}", f"{LAST_YEAR:04d}"


def iso_utc(moment: dt.datetime) -> str:
    """A time as Messangi writes it: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def campaign_text(value: object) -> str | None:
    """The campaign id as a string, whether it was sent as a number or a string."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def line_key(line: Mapping[str, t.Any], date: str | None = None) -> str:
    """The stable hash of a readable line's identity; ``date``: its :func:`canonical_date`."""
    date_text = date or canonical_date(line.get("date")) or str(line.get("date") or "")
    return _identity_key(line, date_text, campaign_text(line.get("campaignid")))


_sha256 = hashlib.sha256


def _identity_key(line: Mapping[str, t.Any], date: str, campaign: str | None) -> str:
    """The first 32 hex digits of the SHA-256 of a line's identity, fields joined by 0x1F.

    A string is used without ``str()``: the same text, fewer calls (this runs for every
    line). tests/unit/test_mlog_keys.py pins the values.
    """
    channel, sender, recipient = line.get("channel"), line.get("sender"), line.get("recipient")
    identity = "\x1f".join(
        (
            channel if type(channel) is str else str(channel or ""),
            (sender if type(sender) is str else str(sender or "")).strip(),
            (recipient if type(recipient) is str else str(recipient or ""))
            .strip()
            .removeprefix("+")
            .lower(),
            date,
            campaign or "",
        )
    )
    return _sha256(identity.encode()).digest()[:16].hex()  # == hexdigest()[:32], cheaper


class KeyGiver:
    """Gives each line of one window its ``mlog_id``; repeats get ``-2``, ``-3``...

    Lines sharing a key are real (two messages in the same millisecond to the same
    recipient). The suffix follows the order of the window's lines, all its pages together:
    the API is assumed to send lines of the same date always in the same order (api-notes
    4.2); one that shuffled them would swap the suffixes of twins.
    """

    def __init__(self) -> None:
        """Nothing seen yet."""
        self.seen: dict[str, int] = {}

    def key(self, line: Mapping[str, t.Any], date: str | None = None) -> str:
        """The ``mlog_id`` of the next line."""
        return self.suffixed(line_key(line, date))

    def suffixed(self, key: str) -> str:
        """The ``mlog_id`` of the next line whose :func:`line_key` is ``key``."""
        count = self.seen[key] = self.seen.get(key, 0) + 1
        return key if count == 1 else f"{key}-{count}"


class KeyedLines(t.NamedTuple):
    """The records of one window, and what was odd about its lines."""

    records: list[dict[str, t.Any]]
    #: Lines dated before the window or after its end: the API filters on another field?
    outside: int
    #: ``pretty=false`` keys the tap has no name for (a new vendor field?).
    unknown_keys: frozenset[str]
    #: Lines whose date is not ISO-8601 (kept as sent), and the first such date.
    undated: int = 0
    undated_example: str | None = None


def keyed_lines(
    items: Iterable[Mapping[str, t.Any]], *, raw: bool, start: str, end: str
) -> KeyedLines:
    """The records of one window: readable names, the window check, the key, the campaign id.

    The one way lines are keyed, one pass per line. ``start`` and ``end`` are as
    :func:`iso_utc` writes them: canonical dates compare as text. A line at ``end`` (the API's
    ``to`` may be inclusive) belongs to the next window; any other line outside the window
    is left out and counted (its window reads it). A date that cannot be read is kept.
    """
    giver, records, outside, undated = KeyGiver(), [], 0, []
    unknown: set[str] = set()
    for item in items:
        if raw and not item.keys() <= _RAW_KEY_SET:
            unknown.update(item.keys() - _RAW_KEY_SET)
        line = readable(item, raw=raw)
        date = canonical_date(line["date"])
        if date is None:
            undated.append(line["date"])
        elif not start <= date < end:
            if date != end:
                outside += 1
            continue
        # The campaign id's text is both the record's value and part of the key: made once.
        campaign = line["campaignid"] = campaign_text(line["campaignid"])
        key_date = str(line["date"] or "") if date is None else date  # as line_key does
        line["mlog_id"] = giver.suffixed(_identity_key(line, key_date, campaign))
        records.append(line)
    example = str(undated[0])[:40] if undated else None
    return KeyedLines(records, outside, frozenset(unknown), len(undated), example)
