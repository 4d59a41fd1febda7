"""Messangi keys never change: ``mlog_id`` values pinned, and a frozen copy of the first code.

An ``mlog_id`` is a primary key in every warehouse that loaded Messangi lines: a new value
for the same line would load it again as another row. The key computation may get faster,
never different. Two proofs:

- lines from the emulator (and odd ones) with the values computed before any optimisation,
  in ``mlog_keys.json``;
- a property: for random lines, the tap's key equals :func:`reference_key`, the code as it
  was when the values were pinned (copied here, and never to be edited).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import typing as t
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_msgreports.messangi.lines import (
    RAW_KEYS,
    OutOfCalendarError,
    campaign_text,
    canonical_date,
    keyed_lines,
    line_key,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

PINNED = json.loads((Path(__file__).parent / "mlog_keys.json").read_text(encoding="utf-8"))
_RAW_BY_NAME = {name: key for key, name in RAW_KEYS.items()}


def reference_key(line: Mapping[str, t.Any], date: str | None = None) -> str:
    """``line_key`` as first written (before issue 16): the definition of a key. Frozen.

    ``canonical_date`` and ``campaign_text`` are the module's: they also make the record's
    own values, and the pinned values above hold them to what they were.
    """
    parts = (
        str(line.get("channel") or ""),
        str(line.get("sender") or "").strip(),
        str(line.get("recipient") or "").strip().removeprefix("+").lower(),
        date or canonical_date(line.get("date")) or str(line.get("date") or ""),
        campaign_text(line.get("campaignid")) or "",
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@pytest.mark.parametrize("window", PINNED["windows"], ids=lambda window: window["channel"])
def test_emulator_lines_keep_their_pinned_mlog_ids(window: dict[str, t.Any]) -> None:
    keyed = keyed_lines(
        [dict(line) for line in window["lines"]],
        raw=False,
        start=PINNED["start"],
        end=PINNED["end"],
    )
    assert [record["mlog_id"] for record in keyed.records] == window["mlog_ids"]


@pytest.mark.parametrize("window", PINNED["windows"], ids=lambda window: window["channel"])
def test_the_same_lines_sent_with_raw_keys_keep_them_too(window: dict[str, t.Any]) -> None:
    raw = [{_RAW_BY_NAME[name]: value for name, value in line.items()} for line in window["lines"]]
    keyed = keyed_lines(raw, raw=True, start=PINNED["start"], end=PINNED["end"])
    assert [record["mlog_id"] for record in keyed.records] == window["mlog_ids"]


def test_the_pinned_lines_hold_twins() -> None:
    """The suffix of a line sent twice (``-2``) is pinned as well."""
    assert any("-" in key for window in PINNED["windows"] for key in window["mlog_ids"])


@pytest.mark.parametrize("odd", PINNED["odd_lines"], ids=lambda odd: str(odd["key"])[:8])
def test_odd_lines_keep_their_pinned_keys(odd: dict[str, t.Any]) -> None:
    assert line_key(odd["line"], odd["date"]) == odd["key"]
    assert reference_key(odd["line"], odd["date"]) == odd["key"]


TEXTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
VALUES = st.one_of(
    st.none(),
    TEXTS,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False),
    st.booleans(),
    TEXTS.map(lambda text: f" +{text.upper()} "),
)
DATES = st.one_of(
    VALUES,
    st.datetimes(timezones=st.just(dt.timezone.utc)).map(
        lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ),
    st.sampled_from(["2026-01-19T00:45:09Z", "2026-01-19T01:45:09.344+01:00", "2026-1-19"]),
)
LINES = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.one_of(VALUES, st.sampled_from("SEPWR")),
        "sender": VALUES,
        "recipient": VALUES,
        "date": DATES,
        "campaignid": VALUES,
    },
)


def key_or_error(key: t.Callable[..., str], line: dict[str, t.Any], date: str | None) -> str:
    """The key, or the name of the error it raises (a date outside the calendar)."""
    try:
        return key(line, date)
    except OutOfCalendarError:
        return "OutOfCalendarError"


@given(line=LINES, date=st.one_of(st.none(), DATES.filter(lambda d: isinstance(d, str))))
def test_the_key_is_the_reference_key_for_any_line(
    line: dict[str, t.Any], date: str | None
) -> None:
    assert key_or_error(line_key, line, date) == key_or_error(reference_key, line, date)
