"""mlog_items against answers a test shapes: refusals of any status, broken items, strays.

The emulator answers as api-notes.md assumes; where the notes say the real API is unknown
(the status of a refusal, the field `from`/`to` filter on, new raw keys), a test rewrites the
emulator's answers, and checks what the tap asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import typing as t

import pytest

from tap_msgreports.errors import SourceError
from tap_msgreports.messangi.lines import iso_utc, parse_utc
from tap_msgreports_emulator import EmulatorServer, MessangiAPI, World
from tap_msgreports_emulator.messangi import TOO_BIG_EXPLAIN
from tap_msgreports_emulator.vendor import json_response
from tests.conftest import TODAY, tap_config
from tests.harness import (
    Warehouse,
    assert_equal_to_truth,
    differences,
    keyed_mlog_truth,
    run_tap,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from tap_msgreports_emulator.vendor import Request, Response

pytestmark = pytest.mark.emulator
MLOG = ("mlog_items",)
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class ShapedMessangi(MessangiAPI):
    """The Messangi emulation, keeping every query; ``ask`` and ``answer`` may rewrite them.

    ``ask(request)`` returns the request to serve instead; ``answer(request, status, body)``
    returns ``(status, body)`` to send instead, or None to send the emulator's own answer.
    """

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.queries: list[dict[str, list[str]]] = []
        self.ask: Callable[[Request], Request] | None = None
        self.answer: Callable[[Request, int, t.Any], tuple[int, t.Any] | None] | None = None

    def handle(self, request: Request) -> Response:
        self.queries.append({name: list(values) for name, values in request.query.items()})
        served = self.ask(request) if self.ask else request
        response = super().handle(served)
        if self.answer is None:
            return response
        shaped = self.answer(request, response.status, json.loads(response.body))
        return response if shaped is None else json_response(*shaped)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    world = World(seed=7, today=TODAY, scale=6)
    messangi = ShapedMessangi(world)
    messangi.lines_per_day = 30
    with EmulatorServer(world, vendors=[messangi], max_lifetime=300) as emulator:
        yield emulator


def shaped(server: EmulatorServer) -> ShapedMessangi:
    return t.cast("ShapedMessangi", server.messangi)


def config(server: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    """Messangi over the last two days."""
    day = (TODAY - dt.timedelta(days=1)).isoformat()
    return tap_config(server, only="messangi", **{"start_date": day, **changes})


def span(query: Mapping[str, list[str]]) -> dt.timedelta:
    """How long the range of a query is."""
    start, end = (parse_utc(query[name][0]) for name in ("from", "to"))
    assert start is not None
    assert end is not None
    return end - start


def assert_complete(server: EmulatorServer, run_config: dict[str, t.Any]) -> None:
    warehouse = Warehouse()
    warehouse.load(run_tap(run_config))
    first = dt.date.fromisoformat(run_config["start_date"])
    assert_equal_to_truth(differences(warehouse, server, first, TODAY, MLOG))


# Refusals: the status is unknown (api-notes 4.2), the text decides.


@pytest.mark.parametrize(
    ("status", "where"), [(200, "meta"), (500, "meta"), (200, "top"), (400, "top")]
)
def test_report_too_big_splits_the_window_whatever_the_status(
    server: EmulatorServer, status: int, where: str
) -> None:
    def too_big_over_six_hours(request: Request, _: int, body: t.Any) -> tuple[int, t.Any] | None:
        if span(request.query) <= dt.timedelta(hours=6):
            return None
        explain = {"timestamp": 1, "explain": TOO_BIG_EXPLAIN}
        return status, {"meta": explain} if where == "meta" else explain

    shaped(server).answer = too_big_over_six_hours
    assert_complete(server, config(server, max_retries=1))
    asked = [span(query) for query in shaped(server).queries]
    assert max(asked) == dt.timedelta(hours=24)
    assert sum(span <= dt.timedelta(hours=6) for span in asked) >= 5 * 2 * 4  # split to fit


@pytest.mark.parametrize("where", ["meta", "top"])
def test_another_explain_in_a_200_body_fails_verbatim_with_channel_and_range(
    server: EmulatorServer, where: str
) -> None:
    explain = "Invalid sender for channel"
    refusal = {"timestamp": 1, "explain": explain}
    body = {"meta": refusal} if where == "meta" else refusal
    shaped(server).answer = lambda *_: (200, body)
    with pytest.raises(SourceError) as caught:
        run_tap(config(server, messangi_channels=["W"], max_retries=3))
    message = str(caught.value)
    assert message.startswith("Messangi channel W, mlog_items 2026-01-19T00:00:00+00:00..")
    assert message.endswith(f": {explain}")
    assert len(shaped(server).queries) <= 2  # not retried (two: one window fetched ahead)


def test_a_5xx_with_another_explain_is_retried(server: EmulatorServer) -> None:
    failures = iter(range(3))

    def fail_thrice(request: Request, _: int, body: t.Any) -> tuple[int, t.Any] | None:
        if next(failures, None) is None:
            return None
        return 503, {"meta": {"timestamp": 1, "explain": "Upstream unavailable"}}

    shaped(server).answer = fail_thrice
    assert_complete(server, config(server, messangi_max_concurrency=1))
    assert len(shaped(server).queries) == 5 * 2 + 3


# Broken items


def with_a_string_item(request: Request, status: int, body: t.Any) -> tuple[int, t.Any] | None:
    if status != 200 or not body["items"]:
        return None
    body["items"][0] = "not an object"
    return status, body


def test_items_that_are_not_objects_are_retried(server: EmulatorServer) -> None:
    broken = iter(range(2))

    def twice(request: Request, status: int, body: t.Any) -> tuple[int, t.Any] | None:
        return None if next(broken, None) is None else with_a_string_item(request, status, body)

    shaped(server).answer = twice
    assert_complete(server, config(server, messangi_max_concurrency=1))
    assert len(shaped(server).queries) == 5 * 2 + 2  # no split: two tries more


def test_items_that_stay_broken_fail_saying_so(server: EmulatorServer) -> None:
    shaped(server).answer = with_a_string_item
    with pytest.raises(SourceError) as caught:
        run_tap(config(server, messangi_channels=["S"], max_retries=2))
    assert re.fullmatch(
        r"Messangi channel S, mlog_items \S+: gave up after 3 tries: malformed body: "
        r"1 of \d+ items are not objects",
        str(caught.value),
    ), caught.value
    assert "split" not in str(caught.value)


# Lines the window should not hold


def test_lines_outside_the_window_are_left_out_with_one_warning_per_window(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    # As if `from`/`to` filtered on another field: each answer starts an hour early.
    def an_hour_early(request: Request) -> Request:
        start = parse_utc(request.query_value("from"))
        assert start is not None
        earlier = iso_utc(start - dt.timedelta(hours=1))
        return dataclasses.replace(request, query={**request.query, "from": [earlier]})

    shaped(server).ask = an_hour_early
    with caplog.at_level(logging.WARNING):
        assert_complete(server, config(server, start_date=TODAY.isoformat()))
    warnings = [r.getMessage() for r in caplog.records if "dated outside" in r.getMessage()]
    assert len(warnings) == 5  # one window per channel, one warning each
    midnight = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.timezone.utc)
    for channel in "SEPWR":
        strays = server.messangi.lines(
            int((midnight - dt.timedelta(hours=1)).timestamp() * 1000),
            int(midnight.timestamp() * 1000),
            [channel],
        )
        assert strays, "the hour before holds lines: the test proves something"
        (warning,) = [w for w in warnings if w.startswith(f"Messangi channel {channel} ")]
        assert f"window {midnight.isoformat()}.." in warning
        assert f"left out {len(strays)} lines dated outside it" in warning


def test_lines_at_the_window_end_are_the_next_window_s_without_a_warning(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The emulator's `to` is inclusive: lines at a window's end come twice, both expected.
    with caplog.at_level(logging.WARNING):
        assert_complete(server, config(server, messangi_window_hours=1))
    assert "dated outside" not in caplog.text


# New raw keys


def test_unknown_raw_keys_are_reported_once_per_run(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    def with_new_keys(request: Request, status: int, body: t.Any) -> tuple[int, t.Any] | None:
        for item in body.get("items", []):
            item["x"] = "new"
        if body.get("items"):
            body["items"][-1]["y"] = 1
        return status, body

    shaped(server).answer = with_new_keys
    warehouse = Warehouse()
    with caplog.at_level(logging.WARNING):
        warehouse.load(run_tap(config(server, messangi_raw_fields=True)))
    report = differences(warehouse, server, TODAY - dt.timedelta(days=1), TODAY, MLOG)
    assert report["mlog_items"]["missing"] == report["mlog_items"]["unexpected"] == 0
    reported = [r for r in caplog.records if "keys the tap does not know" in r.getMessage()]
    assert [r.levelno for r in reported] == [logging.WARNING]  # ten responses, one warning
    assert reported[0].getMessage().endswith("left out: x, y")


# What the tap asks for


def test_the_request_carries_the_filters_the_channel_and_utc_bounds(
    server: EmulatorServer,
) -> None:
    truth = server.truth("mlog_items", TODAY - dt.timedelta(days=1), TODAY)
    line = next(row for row in truth if row["channel"] == "W")
    recipient = "+" + line["recipient"].removeprefix("+")
    run_config = config(
        server,
        messangi_channels=["W"],
        messangi_statuses=[" READ", line["status"], "DELIVERED "],
        messangi_sender=line["sender"],
        messangi_campaign_id=line["campaignid"],
        messangi_recipient=recipient,
    )
    records = run_tap(run_config).records.get("mlog_items", [])
    statuses = ",".join(["READ", line["status"], "DELIVERED"])
    for query in shaped(server).queries:
        assert set(query) == {
            "from", "to", "pretty", "channel", "status", "sender", "campaignID", "recipient"
        }  # fmt: skip
        assert query["channel"] == ["W"]
        assert query["pretty"] == ["true"]
        assert query["status"] == [statuses]
        assert query["sender"] == [line["sender"]]
        assert query["campaignID"] == [line["campaignid"]]
        assert query["recipient"] == [recipient]
        assert all(ISO_MS.fullmatch(query[bound][0]) for bound in ("from", "to"))
    wanted = [
        row
        for row in truth
        if row["channel"] == "W"
        and row["status"] in {"READ", line["status"], "DELIVERED"}
        and (row["sender"], row["campaignid"]) == (line["sender"], line["campaignid"])
        and row["recipient"].removeprefix("+") == recipient.removeprefix("+")
    ]
    expected = keyed_mlog_truth(wanted, TODAY - dt.timedelta(days=1), TODAY)
    assert line in wanted
    assert [{k: r[k] for k in expected[0]} for r in records] == expected


@pytest.mark.parametrize("raw", [False, True])
def test_a_status_filter_run_equals_the_filtered_truth(server: EmulatorServer, raw: bool) -> None:
    server.messangi.lines_per_day = 200
    statuses = ["DELIVERED", "READ"]
    run_config = config(server, messangi_statuses=statuses, messangi_raw_fields=raw)
    records = run_tap(run_config).records["mlog_items"]
    queries = shaped(server).queries
    assert {query["pretty"][0] for query in queries} == {"false" if raw else "true"}
    assert {query["status"][0] for query in queries} == {"DELIVERED,READ"}
    assert sorted(query["channel"][0] for query in queries) == sorted("SEPWR" * 2)
    first = TODAY - dt.timedelta(days=1)
    truth = server.truth("mlog_items", first, TODAY)
    wanted = [row for row in truth if row["status"] in statuses]
    assert 0 < len(wanted) < len(truth)
    expected = {row["mlog_id"]: row for row in keyed_mlog_truth(wanted, first, TODAY)}
    held = {r["mlog_id"]: {k: r[k] for k in next(iter(expected.values()))} for r in records}
    if raw:  # raw mode writes recipients with "+"; the key does not care (api-notes 4.5)
        for row in held.values():
            row["recipient"] = None
        for row in expected.values():
            row["recipient"] = None
    assert held == expected


def test_a_window_of_exactly_92_days_is_sent_and_accepted(server: EmulatorServer) -> None:
    server.messangi.lines_per_day = 2
    first = TODAY - dt.timedelta(days=99)
    run_config = config(server, start_date=first.isoformat(), messangi_window_hours=92 * 24)
    assert_complete(server, run_config)
    spans = [span(query) for query in shaped(server).queries]
    assert sorted(spans) == [dt.timedelta(days=8)] * 5 + [dt.timedelta(days=92)] * 5
