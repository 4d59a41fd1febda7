"""Hostile values: dates past today or near the calendar's ends, numbers no parser expects.

Issue 12, points 1, 8, 10 and 11 (first half). Each value must end in a documented fallback
(a bookmark is state: ignored with a warning, nothing lost) or in one line naming the source
and the setting or the window, exit status 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import typing as t
import zoneinfo

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports import progress
from tap_msgreports.messangi.streams import MlogItemsStream
from tap_msgreports.retries import retry_after_seconds
from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import resume_point
from tests.conftest import START, tap_config
from tests.harness import (
    Warehouse,
    assert_equal_to_truth,
    differences,
    parse_messages,
    partition_of,
    run_tap,
    windowed,
)
from tests.loopback import Handler, serving
from tests.processes import run_cli

if t.TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer
    from tests.hostile_report import Attack

UTC = dt.timezone.utc
STREAMS = ("campaigns", "message_reports", "mlog_items", "moengage_campaign_rows")
CLEVERTAP = {
    "clevertap_account_id": "ACC-HOSTILE",
    "clevertap_passcode": "p-hostile-1234",
    "start_date": "2026-01-19",
    "end_date": "2026-01-19",
    "max_retries": 1,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "request_timeout": 5,
}
MESSANGI = {
    "messangi_api_key": "k-hostile-1234",
    "messangi_channels": ["S"],
    "start_date": "2026-01-19",
    "end_date": "2026-01-19",
    "max_retries": 1,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "request_timeout": 5,
}


# ----- helpers -------------------------------------------------------------------------------


def json_answer(body: bytes, status: int = 200, **headers: str) -> Callable[[Handler], None]:
    """An answer that sends ``body`` with ``status`` and ``headers`` to every request."""

    def answer(handler: Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def one_line_error(done: subprocess.CompletedProcess[str], *parts: str) -> str:
    """The stderr line holding every one of ``parts``; status 1 and no traceback asserted."""
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    found = [line for line in done.stderr.splitlines() if all(part in line for part in parts)]
    assert found, f"no line with {parts}: {done.stderr[-2000:]}"
    return found[-1].rsplit("| ", 1)[-1][:300]  # the message, without the log prefix


def state_for_every_stream(value: str, emulator: EmulatorServer) -> dict[str, t.Any]:
    """Every partition of every stream bookmarked at ``value``."""
    config = tap_config(emulator)
    contexts = {
        "campaigns": [{"account_id": a["account_id"]} for a in config["clevertap_accounts"]],
        "mlog_items": [{"channel": c} for c in ("S", "E", "P", "W", "R")],
        "moengage_campaign_rows": [{"report_name": r} for r in config["moengage_reports"]],
    }
    contexts["message_reports"] = contexts["campaigns"]
    keys = {
        "campaigns": "scheduled_at",
        "message_reports": "started_at",
        "mlog_items": "date",
        "moengage_campaign_rows": "report_date",
    }
    return {
        "bookmarks": {
            stream: {
                "partitions": [
                    {"context": c, "replication_key": keys[stream], "replication_key_value": value}
                    for c in contexts[stream]
                ]
            }
            for stream in STREAMS
        }
    }


def days_of(stream: str, emulator: EmulatorServer) -> tuple[dt.date, dt.date]:
    """The days whose truth a run can read: MoEngage serves today and the 7 days before."""
    today = emulator.world.today
    if stream == "moengage_campaign_rows":
        return today - dt.timedelta(days=7), today
    return START, today


# ----- point 1: a bookmark after today -------------------------------------------------------


@pytest.mark.parametrize("bookmark", ["9999-12-31", "2027-06-30"])
def test_a_bookmark_after_today_is_ignored_with_a_warning_and_nothing_is_lost(
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    attack: Callable[..., Attack],
    bookmark: str,
) -> None:
    row = attack(
        "1",
        f"state holds {bookmark} for every partition of every stream",
        "a warning names the bookmark and the partition; reading restarts from start_date; "
        "tables equal the truth",
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emulator), state_for_every_stream(bookmark, emulator))
    warnings = [r.getMessage() for r in caplog.records if "after today" in r.getMessage()]
    row.observed = f"{len(warnings)} warnings, e.g. {warnings[0] if warnings else None!r}"
    for stream in STREAMS:
        assert any(stream in w and repr(bookmark) in w for w in warnings), stream
    warehouse = Warehouse()
    warehouse.load(run)
    report = {s: differences(warehouse, emulator, *days_of(s, emulator), (s,))[s] for s in STREAMS}
    row.observed += f"; against the truth: {report}"
    assert_equal_to_truth(report)


def test_a_future_end_date_stores_no_bookmark_after_today(
    emulator: EmulatorServer, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "1",
        "CleverTap run with end_date 2027-06-30",
        "windows end today (the account's zone); no stored bookmark after today",
    )
    config = tap_config(emulator, only="clevertap", end_date="2027-06-30")
    config["clevertap_accounts"] = config["clevertap_accounts"][:1]
    run = run_tap(config)
    assert run.final_state is not None
    stored = {
        (stream, p["context"]["account_id"]): p["replication_key_value"]
        for stream, part in run.final_state["bookmarks"].items()
        for p in part.get("partitions", [])
        if "replication_key_value" in p
    }
    account = config["clevertap_accounts"][0]
    today = dt.datetime.now(zoneinfo.ZoneInfo(account.get("timezone") or "UTC")).date()
    row.observed = f"today {today}; stored bookmarks {sorted(set(stored.values()))}"
    assert stored
    assert all(dt.date.fromisoformat(value) <= today for value in stored.values())


OFFLINE = {
    "clevertap_account_id": "ACC-1",
    "clevertap_passcode": "p-12345678",
    "messangi_api_url": "https://api.example.com",
    "messangi_api_key": "k-12345678",
    "moengage_app_id": "APP1",
    "moengage_secret_key": "s-12345678",
    "moengage_reports": ["Daily Push"],
}
ANY_DAY = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
NEAR_TODAY = st.integers(min_value=-900, max_value=900).map(
    lambda days: dt.datetime.now(UTC).date() + dt.timedelta(days=days)
)


def offline_tap(config: dict[str, t.Any], bookmark: str) -> TapMsgReports:
    """A tap that plans without a request (a catalog given: MoEngage probes nothing)."""
    contexts = {
        "campaigns": {"account_id": "ACC-1"},
        "message_reports": {"account_id": "ACC-1"},
        "mlog_items": {"channel": "S"},
        "moengage_campaign_rows": {"report_name": "Daily Push"},
    }
    state = {
        "bookmarks": {
            stream: {"partitions": [{"context": c, "replication_key_value": bookmark}]}
            for stream, c in contexts.items()
        }
    }
    return TapMsgReports(config={**OFFLINE, **config}, catalog={"streams": []}, state=state)


@settings(max_examples=60, deadline=None)
@given(
    start=NEAR_TODAY,
    end=st.one_of(st.none(), NEAR_TODAY, st.dates(dt.date(1900, 1, 1), dt.date(2999, 12, 31))),
    bookmark=st.one_of(ANY_DAY.map(str), st.datetimes().map(lambda d: d.isoformat() + "Z")),
    lookback=st.integers(min_value=0, max_value=3650),
)
def test_no_planned_window_ends_after_today_whatever_the_dates(
    start: dt.date, end: dt.date | None, bookmark: str, lookback: int
) -> None:
    """Property: for any bookmark, lookback and end_date, every window ends by today.

    The one exception is the campaigns read ahead (``clevertap_lookahead_days``): they start
    after today, and a bookmark never moves into them.
    """
    if end is not None and end < start:
        start, end = end, start
    config = {
        "start_date": start.isoformat(),
        "clevertap_lookback_days": lookback,
        "messangi_lookback_days": lookback,
        "messangi_window_hours": 24 * 31,  # few windows: the property is about their ends
        "clevertap_report_window_days": 31,
    }
    if end is not None:
        config["end_date"] = end.isoformat()
    elif start > dt.datetime.now(UTC).date():
        config["end_date"] = start.isoformat()
    tap = offline_tap(config, bookmark)
    now = dt.datetime.now(UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time())
    for name in STREAMS:
        stream = windowed(tap, name)
        context = partition_of(stream)
        for window in stream.plan(context):
            if isinstance(stream, MlogItemsStream):
                assert window.end <= now, (name, window)
            elif window.end > tomorrow:
                assert name == "campaigns", (name, window)
                assert window.start >= tomorrow, (name, window)
                state = stream.get_context_state(context)
                before = state.get("replication_key_value")
                with contextlib.redirect_stdout(io.StringIO()):
                    stream.advance_bookmark(context, window)
                assert state.get("replication_key_value") == before, (name, window)


# ----- point 8: tracebacks instead of one-line errors ----------------------------------------


def test_a_retry_after_that_is_no_number_is_ignored_like_a_missing_one(
    tmp_path: Path, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "8",
        "Messangi answers 429 with Retry-After: ²",
        "the header is ignored (backoff waits), then one line naming the channel and the "
        "window, status 1, no traceback",
    )
    with serving(json_answer(b'{"meta": {}}', 429, Retry_After="\u00b2")) as server:
        done = run_cli(tmp_path, {**MESSANGI, "messangi_api_url": server.url})
    row.observed = f"status {done.returncode}: " + one_line_error(
        done, "Messangi channel S", "2026-01-19", "gave up after 2 tries"
    )


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40) | st.sampled_from(["\u00b2", "\u0663", "9" * 500]))
def test_any_retry_after_gives_a_wait_or_none(value: str) -> None:
    """Property: whatever a server sends as Retry-After, no exception, never a negative wait."""
    response = requests.Response()
    response.headers["Retry-After"] = value
    seconds = retry_after_seconds(RetriableAPIError("429", response))
    assert seconds is None or seconds >= 0


def test_a_pagination_total_beyond_any_count_is_one_line(
    tmp_path: Path, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "8",
        "Messangi pagination.total = 10^400",
        "a malformed body: retried, then one line naming the channel and the window, status 1",
    )
    body = b'{"items": [], "pagination": {"total": 1' + b"0" * 400 + b"}}"
    with serving(json_answer(body)) as server:
        done = run_cli(tmp_path, {**MESSANGI, "messangi_api_url": server.url})
    row.observed = f"status {done.returncode}: " + one_line_error(
        done, "Messangi channel S", "2026-01-19", "pagination.total"
    )


def clevertap_body(**target: object) -> bytes:
    found = {"id": 1, "name": "n", "status": "completed", "scheduled_on": 202601190900, **target}
    return json.dumps({"status": "success", "targets": [found], "messages": []}).encode()


#: (attack, CleverTap body, account time zone, what the error line says)
CLEVERTAP_VALUES = [
    ("a CleverTap status that is a list", clevertap_body(status=["running"]), "UTC", "status"),
    (
        "CleverTap scheduled_on 999912312359 (account in America/New_York)",
        clevertap_body(scheduled_on=999912312359),
        "America/New_York",
        "campaign 1 is dated 9999-12-31",
    ),
]


@pytest.mark.parametrize("case", CLEVERTAP_VALUES, ids=["status-list", "scheduled-on-9999"])
def test_a_clevertap_value_no_parser_expects_is_one_line(
    tmp_path: Path, attack: Callable[..., Attack], case: tuple[str, bytes, str, str]
) -> None:
    what, body, timezone, expected = case
    row = attack("8", what, "one line naming the account and the window, status 1")
    with serving(json_answer(body)) as server:
        config = {**CLEVERTAP, "clevertap_api_url": server.url, "clevertap_timezone": timezone}
        done = run_cli(tmp_path, config)
    row.observed = f"status {done.returncode}: " + one_line_error(
        done, "CleverTap account ACC-HOSTILE", "2026-01-19", expected
    )


def test_a_messangi_date_in_year_9999_is_one_line(
    tmp_path: Path, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "8",
        "Messangi line dated 9999-12-31T23:59:59-05:00",
        "one line naming the channel, the window and the date, status 1",
    )
    item = {"channel": "S", "sender": "a", "recipient": "b", "date": "9999-12-31T23:59:59-05:00"}
    body = json.dumps({"items": [item], "pagination": {"total": 1}}).encode()
    with serving(json_answer(body)) as server:
        done = run_cli(tmp_path, {**MESSANGI, "messangi_api_url": server.url})
    row.observed = f"status {done.returncode}: " + one_line_error(
        done, "Messangi channel S", "2026-01-19", "9999-12-31T23:59:59-05:00"
    )


def test_a_bookmark_at_the_start_of_the_calendar_reads_from_start_date(
    emulator: EmulatorServer, tmp_path: Path, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "8",
        "state bookmark 0001-01-01 (CleverTap, lookback 30 days)",
        "no underflow: a warning names the bookmark; read from start_date; status 0; "
        "tables equal the truth",
    )
    config = tap_config(emulator, only="clevertap")
    state = state_for_every_stream("0001-01-01", emulator)
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state))
    done = run_cli(tmp_path, config, arguments=["--state", str(state_path)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    warning = next(line for line in done.stderr.splitlines() if "'0001-01-01'" in line)
    row.observed = f"status 0: {warning.rsplit('| ', 1)[-1][:200]}"
    warehouse = Warehouse()
    warehouse.load(parse_messages(done.stdout))
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("end_date", "9999-12-31"), ("start_date", "0001-01-01")],
)
def test_a_date_setting_near_the_ends_of_the_calendar_is_one_line(
    tmp_path: Path, attack: Callable[..., Attack], setting: str, value: str
) -> None:
    row = attack(
        "8",
        f"{setting} {value}",
        f"one line naming {setting} and the years allowed, status 1, no request",
    )
    config = {**CLEVERTAP, "clevertap_api_url": "http://127.0.0.1:9", setting: value}
    done = run_cli(tmp_path, config)
    row.observed = f"status {done.returncode}: " + one_line_error(
        done, setting, "1900-01-01..2999-12-31"
    )


# ----- point 10: CleverTap items that are not objects ----------------------------------------


@pytest.mark.parametrize("stream", ["campaigns", "message_reports"])
def test_clevertap_items_that_are_not_objects_are_a_malformed_body(
    tmp_path: Path, attack: Callable[..., Attack], stream: str
) -> None:
    row = attack(
        "10",
        f"CleverTap {stream} list holds 1 and 'x' beside an object",
        "retried as a malformed body, then one line naming the account and the window, "
        "status 1 (never dropped without a word)",
    )
    good = {"id": 1, "message id": 1, "status": "completed", "scheduled_on": 202601190900}
    # Campaigns are read first: their list is empty when they are not attacked.
    lists: dict[str, list[object]] = {"targets": [], "messages": []}
    lists["targets" if stream == "campaigns" else "messages"] = [good, 1, "x"]
    body = json.dumps({"status": "success", **lists})
    with serving(json_answer(body.encode())) as server:
        done = run_cli(tmp_path, {**CLEVERTAP, "clevertap_api_url": server.url})
        tries = len(server.seen)
    message = one_line_error(done, "CleverTap account ACC-HOSTILE", "2026-01-19", "not objects")
    row.observed = f"status {done.returncode} after {tries} requests: {message}"
    assert tries >= 2  # retried


# ----- point 11: a run of very many requests -------------------------------------------------


def test_a_start_date_fifty_years_back_warns_of_the_requests_before_the_first(
    caplog: pytest.LogCaptureFixture, attack: Callable[..., Attack]
) -> None:
    row = attack(
        "11",
        "Messangi start_date fifty years back, 5 channels",
        f"one warning before any request: how many requests, over {progress.MANY_REQUESTS:,}, "
        "and which settings",
    )
    start = dt.datetime.now(UTC).date() - dt.timedelta(days=50 * 365)
    tap = offline_tap({"start_date": start.isoformat()}, "")
    stream = windowed(tap, "mlog_items")
    with caplog.at_level(logging.WARNING):
        windows = stream.planned_windows({"channel": "S"})
    warnings = [r.getMessage() for r in caplog.records if "plans at least" in r.getMessage()]
    row.observed = warnings[0] if warnings else "no warning"
    assert len(warnings) == 1
    assert "start_date" in warnings[0]
    assert "messangi_window_hours" in warnings[0]
    assert f"{len(windows) * 5:,}" in warnings[0]  # five channels


def test_a_daily_run_plans_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    tap = offline_tap({"start_date": "2026-01-01"}, "")
    with caplog.at_level(logging.WARNING):
        for name in ("campaigns", "message_reports", "mlog_items"):
            stream = windowed(tap, name)
            stream.planned_windows(partition_of(stream))
    assert "plans at least" not in caplog.text


def test_a_run_warns_of_many_requests_before_its_first_request(
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    attack: Callable[..., Attack],
) -> None:
    row = attack(
        "11",
        "a real run whose plan exceeds the bound (bound lowered to 20 for the test)",
        "the warning comes before the first window is read; the run completes",
    )
    monkeypatch.setattr(progress, "MANY_REQUESTS", 20)
    with caplog.at_level(logging.INFO):
        run = run_tap(tap_config(emulator, only="messangi"))
    messages = [r.getMessage() for r in caplog.records]
    warning = next(i for i, m in enumerate(messages) if "plans at least" in m)
    first_window = next(i for i, m in enumerate(messages) if ": window " in m)
    row.observed = f"{messages[warning]} (log line {warning}, first window at {first_window})"
    assert warning < first_window
    assert run.final_state is not None


@example(bookmark=dt.datetime(1, 1, 1), start=dt.datetime(2026, 1, 1), lookback=30)
@given(
    bookmark=st.one_of(st.datetimes(), st.datetimes(max_value=dt.datetime(1, 12, 31))),
    start=st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2999, 12, 31)),
    lookback=st.integers(min_value=0, max_value=3650),
)
def test_resume_point_never_underflows(
    bookmark: dt.datetime, start: dt.datetime, lookback: int
) -> None:
    """Property: any bookmark, 0001-01-01 included, gives a point, never before start."""
    point = resume_point(start=start, bookmark=bookmark, lookback=dt.timedelta(days=lookback))
    assert point >= start
    assert point == start or point == bookmark - dt.timedelta(days=lookback)
