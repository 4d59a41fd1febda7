"""Messangi lines: readable names, a key that does not depend on how a line was sent."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from tap_msgreports.messangi.lines import (
    RAW_KEYS,
    campaign_text,
    iso_utc,
    keyed_lines,
    line_key,
    readable,
)

PRETTY = {
    "channel": "W",
    "sender": "58412",
    "recipient": "5800000000",
    "date": "2023-07-31T23:59:15.765Z",
    "campaignid": 12151,
    "status": "READ",
    "statusdate": "2023-07-31T23:59:15.783Z",
    "content": "This is a new product!",
    "platform": None,
    "subject": None,
    "direction": "I",
    "subscriberid": None,
}
RAW = {
    "a": "W",
    "b": "58412",
    "c": "+5800000000",
    "d": "2023-07-31T23:59:15.765Z",
    "g": "dev",
    "i": "12151",
    "j": "READ",
    "k": "2023-07-31T23:59:15.783Z",
    "l": "This is a new product!",
    "t": "I",
    "sd": "window closed",
}


#: The keys documented for pretty=false (api-notes 4.5, vendor docs 002): a to w, no q, sd.
DOCUMENTED_RAW_KEYS = {*"abcdefghijklmnoprstuvw", "sd"}
START, END = "2023-07-31T23:00:00.000Z", "2023-08-01T00:00:00.000Z"


def test_every_documented_raw_key_has_a_name_of_its_own() -> None:
    assert set(RAW_KEYS) == DOCUMENTED_RAW_KEYS
    assert len(set(RAW_KEYS.values())) == len(RAW_KEYS)


def test_raw_keys_map_to_names_including_sd() -> None:
    line = readable(RAW, raw=True)
    assert line["channel"] == "W"
    assert line["owner"] == "dev"
    assert line["status_description"] == "window closed"
    assert set(line) == set(RAW_KEYS.values())
    assert set(readable(PRETTY, raw=False)) == set(PRETTY)  # pretty lines: the pretty fields
    assert set(readable({**PRETTY, "surprise": 1}, raw=False)) == set(PRETTY)  # nothing else


def test_both_modes_give_one_key() -> None:
    assert line_key(readable(PRETTY, raw=False)) == line_key(readable(RAW, raw=True))


recipients = st.from_regex(r"\+?[0-9]{6,12}", fullmatch=True)
moments = st.datetimes(
    dt.datetime(2015, 1, 1), dt.datetime(2035, 1, 1), timezones=st.just(dt.timezone.utc)
)


@given(recipient=recipients, moment=moments, campaign=st.integers(0, 10**9))
def test_key_ignores_plus_campaign_type_and_date_spelling(
    recipient: str, moment: dt.datetime, campaign: int
) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    base = {"channel": "S", "sender": "STRESS1", "recipient": recipient, "campaignid": campaign}
    first = line_key({**base, "date": iso_utc(moment)})
    spelled = moment.isoformat().replace("+00:00", "Z")
    second = line_key(
        {
            **base,
            "recipient": "+" + recipient.removeprefix("+"),
            "campaignid": str(campaign),
            "date": spelled,
        }
    )
    assert first == second


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=20))
def test_lines_sharing_a_key_get_ordered_suffixes(senders: list[str]) -> None:
    items = [{**PRETTY, "sender": sender, "content": n} for n, sender in enumerate(senders)]
    records = keyed_lines(items, raw=False, start=START, end=END).records
    assert [r["content"] for r in records] == list(range(len(senders)))  # all kept, in order
    for sender in set(senders):
        ids = [r["mlog_id"] for r in records if r["sender"] == sender]
        base = line_key({**PRETTY, "sender": sender})
        assert ids == [base, *(f"{base}-{n}" for n in range(2, len(ids) + 1))]


def test_only_the_window_s_lines_are_kept_and_strays_counted() -> None:
    dates = [
        "2023-07-31T22:59:59.999Z",  # before the window: unexplained
        START,
        "2023-07-31T23:30:00Z",  # another spelling, inside
        END,  # `to` may be inclusive: the next window's, expected
        "2023-08-01T00:00:00.001Z",  # after the window: unexplained
        "not a date",  # kept: nothing says it is not the window's
    ]
    keyed = keyed_lines(
        [{**PRETTY, "date": date} for date in dates], raw=False, start=START, end=END
    )
    assert [r["date"] for r in keyed.records] == [dates[1], dates[2], dates[5]]
    assert keyed.outside == 2
    assert all(r["campaignid"] == "12151" for r in keyed.records)


def test_unknown_raw_keys_are_reported_and_left_out() -> None:
    keyed = keyed_lines([{**RAW, "x": 1}, {**RAW, "zz": 2}, RAW], raw=True, start=START, end=END)
    assert keyed.unknown_keys == {"x", "zz"}
    assert all(set(r) == {"mlog_id", *RAW_KEYS.values()} for r in keyed.records)
    pretty = keyed_lines([{**PRETTY, "x": 1}], raw=False, start=START, end=END)
    assert pretty.unknown_keys == frozenset()  # readable mode has its own names


def test_campaign_ids_are_text() -> None:
    assert campaign_text(12151) == "12151"
    assert campaign_text(" 12151 ") == "12151"
    assert campaign_text(12151.0) == "12151"
    assert campaign_text(None) is None


def test_iso_utc_has_milliseconds_and_z() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
    assert iso_utc(moment) == "2026-01-02T03:04:05.678Z"
