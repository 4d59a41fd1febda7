"""The emulator behaves like Messangi's Reporting API v3 as api-notes.md section 4 describes it."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tap_msgreports_emulator import EmulatorServer, FaultPlan, MessangiAPI, World
from tap_msgreports_emulator.cli import build_parser, build_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TODAY = date(2026, 1, 20)
MLOG = "/v3/mlog"
TIMEOUT = 5
LINES_PER_DAY = 60
PRETTY_KEYS = [
    "channel", "sender", "recipient", "date", "campaignid", "status", "statusdate",
    "content", "platform", "subject", "direction", "subscriberid",
]  # fmt: skip
RAW_KEYS = [*"abcdefghijklmnoprstuvw", "sd"]
# Raw key -> pretty key, for the fields both modes carry.
SHARED = {
    "a": "channel", "b": "sender", "d": "date", "j": "status", "k": "statusdate",
    "r": "platform", "s": "subject", "t": "direction", "u": "subscriberid",
}  # fmt: skip


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, ms * 1000, timezone.utc)


def iso(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    # max_lifetime: a test that hangs still ends its server.
    with EmulatorServer(World(seed=7, today=TODAY, scale=1), max_lifetime=60) as emulator:
        emulator.messangi.lines_per_day = LINES_PER_DAY
        yield emulator


def get(
    server: EmulatorServer,
    start: datetime,
    end: datetime,
    key: str | None = None,
    /,  # so that a query parameter may be called `key`
    **params: str | int | list[str],
) -> requests.Response:
    key = server.messangi.api_key if key is None else key
    query = {"from": iso(start), "to": iso(end), **params}
    return requests.get(
        server.url + MLOG,
        params=query,
        headers={"Authorization": f"Bearer {key}"},
        timeout=TIMEOUT,
    )


def mlog(
    server: EmulatorServer, start: datetime, end: datetime, **params: str | int | list[str]
) -> dict[str, Any]:
    response = get(server, start, end, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def items(
    server: EmulatorServer, start: datetime, end: datetime, **params: str | int | list[str]
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = mlog(server, start, end, pretty="true", **params)["items"]
    return lines


def day_window(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    return at(first), at(last or first, 23, 59, 59, 999)


def assert_meta(meta: dict[str, Any], explain: str | None = None) -> None:
    assert isinstance(meta["timestamp"], int)
    assert abs(meta["timestamp"] / 1000 - time.time()) < 60
    uuid.UUID(meta["transactionId"])
    if explain is not None:
        assert meta["explain"] == explain


def refusal(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"meta"}
    assert_meta(body["meta"])
    explain: str = body["meta"]["explain"]
    return explain


# Credentials and config


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"Authorization": "Token {key}"},
        {"Authorization": "{key}"},
    ],
)
def test_missing_or_wrong_key_gets_401_with_meta_explain(
    server: EmulatorServer, headers: dict[str, str]
) -> None:
    key = server.messangi.api_key
    headers = {name: value.format(key=key) for name, value in headers.items()}
    params = {"from": iso(at(TODAY)), "to": iso(at(TODAY, 1))}
    response = requests.get(server.url + MLOG, params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"meta"}
    assert set(body["meta"]) == {"timestamp", "transactionId", "explain"}
    assert_meta(body["meta"], "Unauthorized")


def test_key_comes_from_the_seed_and_reaches_the_config(server: EmulatorServer) -> None:
    config = server.tap_config()
    assert config["messangi_api_url"] == server.url
    assert config["messangi_api_key"] == server.messangi.api_key
    assert len(config["messangi_api_key"]) >= 16
    assert control(server, "config")["messangi_api_key"] == config["messangi_api_key"]
    assert MessangiAPI(World(seed=7)).api_key == server.messangi.api_key
    assert MessangiAPI(World(seed=8)).api_key != server.messangi.api_key
    assert (
        MessangiAPI(World(seed=7), api_key="fixed-key-for-tests").api_key == "fixed-key-for-tests"
    )
    lower_case_scheme = requests.get(
        server.url + MLOG,
        params={"from": iso(at(TODAY)), "to": iso(at(TODAY, 1))},
        headers={"authorization": f"bearer {server.messangi.api_key}"},
        timeout=TIMEOUT,
    )
    assert lower_case_scheme.status_code == 200


def test_only_get_is_served(server: EmulatorServer) -> None:
    response = requests.post(
        server.url + MLOG,
        params={"from": iso(at(TODAY)), "to": iso(at(TODAY, 1))},
        headers={"Authorization": f"Bearer {server.messangi.api_key}"},
        json={"emails": ["a@b.example"]},
        timeout=TIMEOUT,
    )
    assert response.status_code == 405
    assert response.json()["meta"]["explain"] == "Method Not Allowed"


# Dates and ranges


@pytest.mark.parametrize(
    ("params", "explain"),
    [
        ({"to": "2026-01-20T00:00:00.000Z"}, 'The parameter "from" is required'),
        ({"from": "2026-01-20T00:00:00.000Z"}, 'The parameter "to" is required'),
        ({"from": "2026-01-20", "to": "2026-01-21T00:00:00.000Z"}, '"from" must be'),
        ({"from": "2026-01-20T00:00:00.000Z", "to": "2026-01-21T00:00:00.000"}, '"to" must be'),
        ({"from": "2026-02-30T00:00:00.000Z", "to": "2026-03-01T00:00:00.000Z"}, '"from" must'),
        ({"from": "2026-01-20T00:00:00+00:00", "to": "2026-01-21T00:00:00Z"}, '"from" must be'),
        ({"from": "2026-01-20T00:00:00.000Z", "to": "2026-01-20T00:00:00.000Z"}, "after"),
        ({"from": "2026-01-20T00:00:00.000Z", "to": "2026-01-19T00:00:00.000Z"}, "after"),
    ],
)
def test_bad_dates_are_refused_naming_the_parameter(
    server: EmulatorServer, params: dict[str, str], explain: str
) -> None:
    response = requests.get(
        server.url + MLOG,
        params=params,
        headers={"Authorization": f"Bearer {server.messangi.api_key}"},
        timeout=TIMEOUT,
    )
    assert explain in refusal(response)


def test_dates_without_milliseconds_are_accepted(server: EmulatorServer) -> None:
    with_ms = mlog(server, at(TODAY, 1), at(TODAY, 3))
    params = {"from": "2026-01-20T01:00:00Z", "to": "2026-01-20T03:00:00Z"}
    without = requests.get(
        server.url + MLOG,
        params=params,
        headers={"Authorization": f"Bearer {server.messangi.api_key}"},
        timeout=TIMEOUT,
    ).json()
    assert without["items"] == with_ms["items"]
    assert without["pagination"]["total"] > 0


def test_range_of_92_days_is_allowed_and_one_ms_more_is_refused(server: EmulatorServer) -> None:
    end = at(TODAY, 12)
    allowed = mlog(server, end - timedelta(days=92), end)
    assert allowed["pagination"]["total"] > 92 * LINES_PER_DAY
    explain = refusal(get(server, end - timedelta(days=92, milliseconds=1), end))
    assert explain == "The date range exceeds the allowed limit: 92"


def test_report_over_the_maximum_is_too_big(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=1), TODAY)
    total = mlog(server, start, end)["pagination"]["total"]
    server.messangi.max_report_lines = total
    assert mlog(server, start, end)["pagination"]["total"] == total
    server.messangi.max_report_lines = total - 1
    explain = refusal(get(server, start, end))
    assert explain == "The size of the report is too big. Please contact support"
    # A narrower request, or a filter, gets under the limit again.
    assert mlog(server, start, end, channel="R")["pagination"]["total"] < total


def test_the_default_limits_refuse_a_92_day_report_quickly(server: EmulatorServer) -> None:
    server.messangi.lines_per_day = 400
    end = at(TODAY, 23, 59, 59, 999)
    started = time.monotonic()
    explain = refusal(get(server, end - timedelta(days=92), end))
    assert explain == "The size of the report is too big. Please contact support"
    assert time.monotonic() - started < 1


# Caps, order and pages


def test_items_are_capped_while_total_counts_every_line(server: EmulatorServer) -> None:
    server.messangi.lines_per_day = 300
    server.messangi.max_items_per_response = 50
    start, end = day_window(TODAY)
    for channel in ("S", "E", "P", "W", "R"):
        body = mlog(server, start, end, channel=channel)
        assert len(body["items"]) == 50
        assert body["pagination"]["total"] > 3 * 50  # a day holds many times the cap
    everything = mlog(server, start, end)
    assert len(everything["items"]) == 50
    assert everything["pagination"]["total"] == len(server.truth("mlog_items", TODAY, TODAY))


def test_items_are_sorted_by_date_and_bounds_are_inclusive(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=1))
    lines = items(server, start, end)
    dates = [line["date"] for line in lines]
    assert dates == sorted(dates)
    assert len({line["channel"] for line in lines}) == 5
    boundary = parse(dates[len(dates) // 2])
    ending_there = items(server, boundary - timedelta(hours=1), boundary)
    starting_there = items(server, boundary, boundary + timedelta(hours=1))
    assert ending_there[-1]["date"] == iso(boundary)  # `to` is inclusive
    assert starting_there[0]["date"] == iso(boundary)  # and so is `from`
    after = items(server, boundary + timedelta(milliseconds=1), boundary + timedelta(hours=1))
    assert all(parse(line["date"]) > boundary for line in after)


def test_pages_and_sizes_are_honoured(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=1))
    everything = items(server, start, end)
    pages = [items(server, start, end, page=page, size=40) for page in range(1, 100)]
    pages = pages[: next(i for i, page in enumerate(pages) if not page)]
    assert [len(page) for page in pages[:-1]] == [40] * (len(pages) - 1)
    assert [line for page in pages for line in page] == everything
    server.messangi.max_items_per_response = 25
    capped = mlog(server, start, end, pretty="true", size=40, page=2)
    assert capped["items"] == everything[25:50]  # size beyond the cap gets the cap
    assert capped["pagination"]["total"] == len(everything)
    assert mlog(server, start, end, page=1000)["items"] == []
    for name, value in (("page", "0"), ("size", "-3"), ("page", "two")):
        assert f'"{name}"' in refusal(get(server, start, end, **{name: value}))


def burst_second(
    server: EmulatorServer, day: date, channel: str = "S"
) -> tuple[datetime, list[dict[str, Any]]]:
    """The second of a day's burst on a channel, and the truth of that second."""
    truth = [r for r in server.truth("mlog_items", day, day) if r["channel"] == channel]
    seconds = Counter(row["date"][:19] for row in truth)
    second, _ = seconds.most_common(1)[0]
    start = parse(second + ".000Z")
    return start, [row for row in truth if row["date"][:19] == second]


def test_a_burst_puts_more_lines_in_one_second_than_one_response_holds(
    server: EmulatorServer,
) -> None:
    server.messangi.burst_lines = 260
    server.messangi.max_items_per_response = 100
    for day in (TODAY - timedelta(days=1), TODAY):
        start, truth = burst_second(server, day)
        assert len(truth) >= 260  # the burst, and any line that happens to share its second
        end = start + timedelta(milliseconds=999)
        first = mlog(server, start, end, channel="S", pretty="true")
        assert (len(first["items"]), first["pagination"]["total"]) == (100, len(truth))
        pages = [items(server, start, end, channel="S", page=page) for page in (1, 2, 3)]
        assert [len(page) for page in pages] == [100, 100, len(truth) - 200]
        read = [line for page in pages for line in page]
        shared = ("channel", "sender", "recipient", "date")
        held = [[line[k] for k in shared] for line in read]
        assert held == [[row[k] for k in shared] for row in truth]
        assert [str(line["campaignid"]) for line in read] == [r["campaignid"] for r in truth]
        keys = Counter((r["sender"], r["recipient"], r["date"], r["campaignid"]) for r in read)
        assert max(keys.values()) >= 2  # twins, so that keying across pages matters
        assert len({(r["sender"], str(r["campaignid"])) for r in read}) <= 3  # one campaign
    server.messangi.burst_lines = 0
    assert len(burst_second(server, TODAY)[1]) < 10  # off by default


def test_the_page_parameter_can_be_renamed_or_ignored(server: EmulatorServer) -> None:
    start, end = day_window(TODAY)
    server.messangi.max_items_per_response = 30
    everything = [line for page in range(1, 4) for line in items(server, start, end, page=page)]
    server.messangi.page_param = "pageNumber"
    assert items(server, start, end, page=2) == everything[:30]  # no longer its name
    assert items(server, start, end, pageNumber=2) == everything[30:60]
    server.messangi.honours_page = False
    assert items(server, start, end, pageNumber=2) == everything[:30]
    assert items(server, start, end, page=3, size=10) == everything[:10]  # size still counts


@pytest.mark.parametrize(
    ("header", "scheme", "sent", "status"),
    [
        ("X-Api-Key", "", {"X-Api-Key": "{key}"}, 200),
        ("X-Api-Key", "", {"x-api-key": "{key} "}, 200),
        ("X-Api-Key", "", {"Authorization": "Bearer {key}"}, 401),
        ("X-Api-Key", "", {"X-Api-Key": "Bearer {key}"}, 401),
        ("Authorization", "", {"Authorization": "{key}"}, 200),
        ("Authorization", "Token", {"Authorization": "token {key}"}, 200),
        ("Authorization", "Token", {"Authorization": "Bearer {key}"}, 401),
    ],
)
def test_the_auth_header_and_scheme_can_be_demanded(
    server: EmulatorServer, header: str, scheme: str, sent: dict[str, str], status: int
) -> None:
    server.messangi.auth_header, server.messangi.auth_scheme = header, scheme
    key = server.messangi.api_key
    headers = {name: value.format(key=key) for name, value in sent.items()}
    params = {"from": iso(at(TODAY)), "to": iso(at(TODAY, 1))}
    response = requests.get(server.url + MLOG, params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == status
    config = server.tap_config()
    assert (config["messangi_auth_header"], config["messangi_auth_scheme"]) == (header, scheme)


def test_the_default_auth_header_stays_out_of_the_config(server: EmulatorServer) -> None:
    assert not {"messangi_auth_header", "messangi_auth_scheme"} & set(server.tap_config())


# Pretty and raw


def test_pretty_and_raw_items_carry_the_same_lines(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=3), TODAY)
    server.messangi.lines_per_day = 100
    pretty = items(server, start, end)
    raw = mlog(server, start, end, pretty="false")["items"]
    assert mlog(server, start, end)["items"] == raw  # pretty defaults to false
    assert len(pretty) == len(raw) == 1000
    for readable, letters in zip(pretty, raw, strict=True):
        assert list(readable) == PRETTY_KEYS
        assert list(letters) == RAW_KEYS
        assert all(letters[key] == readable[name] for key, name in SHARED.items())
        assert str(letters["i"]) == str(readable["campaignid"])
        assert letters["c"].removeprefix("+") == readable["recipient"].removeprefix("+")
        if readable["channel"] == "E":
            assert readable["content"] is None
            assert letters["l"]
            assert letters["e"] == letters["c"]
            assert readable["subject"]
        else:
            assert letters["l"] == readable["content"]
            assert letters["e"] is None
            assert readable["subject"] is None
        if readable["channel"] in {"S", "W", "R"}:
            assert letters["c"].startswith("+")
            assert letters["f"] == letters["c"]
        assert (readable["platform"] in {"A", "I"}) == (readable["channel"] == "P")
        assert readable["direction"] in {"O", "I"}
        assert letters["o"]
        assert letters["g"]
        assert "@" in letters["h"]


def test_the_documented_quirks_are_there(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=3), TODAY)
    server.messangi.lines_per_day = 100
    pretty = items(server, start, end)
    raw = mlog(server, start, end, pretty="false")["items"]
    pairs = list(zip(pretty, raw, strict=True))
    assert {type(p["campaignid"]) for p in pretty} == {int, str}
    assert {type(r["i"]) for r in raw} == {int, str}
    assert any(type(p["campaignid"]) is not type(r["i"]) for p, r in pairs)
    whatsapp = [(p, r) for p, r in pairs if p["channel"] == "W"]
    assert whatsapp
    assert sum(not p["recipient"].startswith("+") for p, _ in whatsapp) > len(whatsapp) // 2
    assert all(r["c"].startswith("+") for _, r in whatsapp)
    assert sum(type(p["campaignid"]) is int for p, _ in whatsapp) > len(whatsapp) // 2
    assert Counter(p["direction"] for p in pretty)["I"] > 0
    assert Counter(p["direction"] for p in pretty)["O"] > 0.8 * len(pretty)
    pushes = [(p, r) for p, r in pairs if p["channel"] == "P"]
    assert any(p["content"] is None and r["l"] is None for p, r in pushes)
    assert any(r["p"] == p["sender"] for p, r in pushes)  # the example's app name in `p`
    assert any(r["sd"] for _, r in pairs if r["a"] in {"W", "R"})
    assert any(r["v"] and r["w"] for _, r in whatsapp)
    assert any(p["subscriberid"] for p in pretty)
    assert any(p["subscriberid"] is None for p in pretty)


# Filters


def test_channel_filter_takes_one_channel(server: EmulatorServer) -> None:
    start, end = day_window(TODAY)
    everything = mlog(server, start, end)["pagination"]["total"]
    totals = {}
    for channel in ("S", "E", "P", "W", "R"):
        body = mlog(server, start, end, pretty="true", channel=channel)
        assert {line["channel"] for line in body["items"]} == {channel}
        totals[channel] = body["pagination"]["total"]
    assert sum(totals.values()) == everything
    assert totals["S"] > totals["R"]
    for bad in ("S,E", "s", "X", ["S", "E"]):
        assert "channel" in refusal(get(server, start, end, channel=bad))


def test_status_campaign_sender_and_recipient_filters(server: EmulatorServer) -> None:
    start, end = day_window(TODAY - timedelta(days=2), TODAY)
    everything = items(server, start, end)
    line = next(line for line in everything if line["channel"] == "W")

    def filtered(**params: str) -> list[dict[str, Any]]:
        return items(server, start, end, **params)

    def expected(keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [other for other in everything if keep(other)]

    assert filtered(status="DELIVERED") == expected(lambda o: o["status"] == "DELIVERED")
    assert filtered(status="SENT,EXPIRED") == expected(lambda o: o["status"] in {"SENT", "EXPIRED"})
    assert filtered(status="SENT, EXPIRED") == expected(lambda o: o["status"] == "SENT")
    campaign = str(line["campaignid"])
    assert filtered(campaignID=campaign) == expected(lambda o: str(o["campaignid"]) == campaign)
    assert filtered(campaignid=campaign) == everything  # the parameter is `campaignID`
    assert filtered(sender=line["sender"]) == expected(lambda o: o["sender"] == line["sender"])
    same_phone = expected(lambda o: o["recipient"].lstrip("+") == line["recipient"].lstrip("+"))
    assert line in same_phone
    number = line["recipient"].lstrip("+")
    assert filtered(recipient=number) == filtered(recipient="+" + number) == same_phone
    email = next(other for other in everything if other["channel"] == "E")["recipient"]
    assert filtered(recipient=email) == expected(lambda o: o["recipient"] == email)
    both = filtered(channel="W", status=line["status"])
    assert both == expected(lambda o: o["channel"] == "W" and o["status"] == line["status"])


# Time and determinism


def test_same_seed_gives_same_lines_and_other_seed_other_lines() -> None:
    def lines(seed: int) -> list[dict[str, Any]]:
        world = World(seed=seed, today=TODAY, scale=1)
        with EmulatorServer(world, max_lifetime=30) as emulator:
            emulator.messangi.lines_per_day = 20
            return [
                mlog(emulator, *day_window(TODAY - timedelta(days=2), TODAY), pretty=pretty)
                for pretty in ("true", "false")
            ]

    first, again, other = lines(7), lines(7), lines(8)
    for mode in (0, 1):
        assert first[mode]["items"] == again[mode]["items"]
        assert first[mode]["pagination"] == again[mode]["pagination"]
        assert first[mode]["items"] != other[mode]["items"]
        assert first[mode]["meta"]["transactionId"] != again[mode]["meta"]["transactionId"]


def test_statuses_move_on_and_a_new_day_arrives_after_advance(server: EmulatorServer) -> None:
    window = day_window(TODAY - timedelta(days=1), TODAY)
    before = items(server, *window)
    assert items(server, *day_window(TODAY + timedelta(days=1))) == []
    control(server, "advance", method="POST", json={"days": 1})
    after = items(server, *window)
    assert [strip_status(line) for line in after] == [strip_status(line) for line in before]
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b["status"] != a["status"]]
    assert len(moved) > len(before) // 20
    assert all(a["statusdate"] > b["statusdate"] for b, a in moved)
    assert all(a["statusdate"] >= b["statusdate"] for b, a in zip(before, after, strict=True))
    assert {a["status"] for _, a in moved} & {"READ", "OPEN", "EXPIRED"}
    new_day = items(server, *day_window(TODAY + timedelta(days=1)))
    assert len(new_day) > 3 * LINES_PER_DAY
    # Every status is final within 3 days: later clocks change nothing.
    control(server, "advance", method="POST", json={"days": 2})
    settled = items(server, *window)
    control(server, "advance", method="POST", json={"days": 5})
    assert items(server, *window) == settled
    assert all(
        parse(line["statusdate"]) - parse(line["date"]) < timedelta(days=3) for line in settled
    )


def strip_status(line: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in line.items() if key not in {"status", "statusdate"}}


def test_duplicate_lines_share_the_key_and_the_date(server: EmulatorServer) -> None:
    server.messangi.lines_per_day = 1000
    truth = server.truth("mlog_items", TODAY - timedelta(days=2), TODAY)
    keys = Counter(
        (r["channel"], r["sender"], r["recipient"], r["date"], r["campaignid"]) for r in truth
    )
    duplicated = {key for key, count in keys.items() if count > 1}
    assert 0 < len(duplicated) < 0.005 * len(truth)
    start, end = day_window(TODAY - timedelta(days=2), TODAY)
    channel, sender, recipient, when, campaign = min(duplicated)
    moment = parse(when)
    raw = mlog(
        server, moment, moment + timedelta(milliseconds=1), channel=channel, recipient=recipient
    )
    twins = [
        line
        for line in raw["items"]
        if (line["b"], line["d"], str(line["i"])) == (sender, when, campaign)
    ]
    assert len(twins) >= 2
    assert twins[0]["l"] != twins[1]["l"]  # two messages, not one read twice
    assert start <= moment <= end


def test_truth_equals_the_union_of_capped_reads(server: EmulatorServer) -> None:
    server.messangi.lines_per_day = 120
    server.messangi.max_items_per_response = 200
    first, last = TODAY - timedelta(days=2), TODAY
    held: list[dict[str, Any]] = []
    requests_made = read_splitting(server, at(first), at(last + timedelta(days=1)), held)
    truth = control(
        server,
        "truth",
        params={"stream": "mlog_items", "from": first.isoformat(), "to": last.isoformat()},
    )
    assert truth["count"] == len(truth["records"]) == len(held) > 3 * 5 * 120 * 0.5
    assert held == truth["records"]
    assert requests_made > len(held) // 200
    assert server.status()["requests"]["messangi"] == requests_made


def read_splitting(
    server: EmulatorServer, start: datetime, stop: datetime, held: list[dict[str, Any]]
) -> int:
    """Read [start, stop) as a tap would: split any window that holds more than one page."""
    body = mlog(server, start, stop - timedelta(milliseconds=1), pretty="true")
    if len(body["items"]) < body["pagination"]["total"]:
        middle = start + (stop - start) / 2
        middle -= timedelta(microseconds=middle.microsecond % 1000)
        return (
            1
            + read_splitting(server, start, middle, held)
            + read_splitting(server, middle, stop, held)
        )
    held += [
        {
            **{key: line[key] for key in ("channel", "sender", "recipient", "date")},
            "campaignid": str(line["campaignid"]),
            "status": line["status"],
            "statusdate": line["statusdate"],
        }
        for line in body["items"]
    ]
    return 1


@pytest.mark.parametrize(
    "params", [{"stream": "mlog_items", "account": "X"}, {"stream": "mlog_items", "to": "x"}]
)
def test_bad_truth_query_is_refused(server: EmulatorServer, params: dict[str, str]) -> None:
    response = requests.get(server.url + "/_emulator/truth", params=params, timeout=TIMEOUT)
    assert response.status_code == 400


# Faults, concurrency, speed, CLI


def test_faults_apply_to_messangi_in_its_own_envelope(server: EmulatorServer) -> None:
    window = (at(TODAY, 1), at(TODAY, 2))
    server.faults = FaultPlan(script=["429", "500", "drop", "truncate", "ok"], retry_after=3)
    limited = get(server, *window)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert_meta(limited.json()["meta"], "Too Many Requests")
    failed = get(server, *window)
    assert failed.status_code == 500
    assert_meta(failed.json()["meta"], "Internal Server Error")
    with pytest.raises(requests.ConnectionError):
        get(server, *window)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get(server, *window)
    assert get(server, *window).status_code == 200
    server.faults = FaultPlan(script=["500"], vendors=["clevertap"])
    assert get(server, *window).status_code == 200
    assert server.faults.script == ["500"]
    assert server.status()["faults_injected"] == {"429": 1, "500": 1, "drop": 1, "truncate": 1}


def test_concurrent_requests_have_no_limit_and_are_counted(server: EmulatorServer) -> None:
    server.faults = FaultPlan(latency_ms=300, vendors=["messangi"])
    window = (at(TODAY, 1), at(TODAY, 2))
    statuses = []
    threads = [
        threading.Thread(target=lambda: statuses.append(get(server, *window).status_code))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert statuses == [200] * 5
    assert server.status()["max_in_flight"] == {"messangi": 5}
    assert server.status()["requests"] == {"clevertap": 0, "messangi": 5, "moengage": 0}


def test_a_busy_day_is_generated_and_served_in_well_under_a_second() -> None:
    world = World(seed=12345, today=TODAY, scale=1)
    with EmulatorServer(world, max_lifetime=30) as emulator:
        emulator.messangi.lines_per_day = 3000
        started = time.monotonic()
        body = mlog(emulator, *day_window(TODAY), pretty="true")
        assert time.monotonic() - started < 1
        assert body["pagination"]["total"] > 5 * 3000 * 0.8
        assert len(body["items"]) == 1000


def test_cli_options_reach_the_messangi_emulation() -> None:
    args = build_parser().parse_args(
        ["--mlog-lines-per-day", "7", "--mlog-max-items", "9", "--mlog-max-report-lines", "11"]
    )
    messangi = build_server(args).messangi
    assert (messangi.lines_per_day, messangi.max_items_per_response) == (7, 9)
    assert messangi.max_report_lines == 11
    args = build_parser().parse_args(
        ["--mlog-burst-lines", "5000", "--mlog-auth-header", "X-Key", "--mlog-auth-scheme", ""]
    )
    messangi = build_server(args).messangi
    assert (messangi.burst_lines, messangi.auth_header, messangi.auth_scheme) == (5000, "X-Key", "")
    defaults = build_server(build_parser().parse_args([])).messangi
    assert (defaults.lines_per_day, defaults.max_items_per_response) == (400, 1000)
    assert defaults.max_report_lines == 100_000
    assert (defaults.burst_lines, defaults.auth_header, defaults.auth_scheme) == (
        0,
        "Authorization",
        "Bearer",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--mlog-max-items", "0"])


def control(
    server: EmulatorServer,
    path: str,
    method: str = "GET",
    *,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = requests.request(
        method, server.url + "/_emulator/" + path, timeout=TIMEOUT, json=json, params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
