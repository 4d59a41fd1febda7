"""CleverTap as a real account may behave: campaigns scheduled ahead, failures inside a 200,
campaigns built in the dashboard (not listed). Runs over several simulated days end exact."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import typing as t

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_msgreports.clevertap.client import CleverTapStream
from tap_msgreports.clevertap.settings import DEFAULT_LOOKAHEAD_DAYS, MAX_CAMPAIGN_WINDOW_DAYS
from tap_msgreports.errors import SourceAuthError, SourceError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import FaultPlan
from tap_msgreports_emulator.clevertap_data import MAX_CREATION_LEAD_DAYS
from tests.conftest import START, tap_config
from tests.fault_report import recovered
from tests.harness import TapRun, Warehouse, assert_equal_to_truth, differences, run_tap
from tests.loopback import Answer, Handler, Server, serving
from tests.processes import run_cli

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator
ACCOUNTS = ("EMU-ACCT-0001", "EMU-ACCT-0002")


@pytest.fixture
def clock(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tap's CleverTap today is the emulator's (noon UTC: the same day in both zones)."""

    def now(stream: CleverTapStream) -> dt.datetime:
        del stream
        return dt.datetime.combine(emulator.world.today, dt.time(12), tzinfo=dt.timezone.utc)

    monkeypatch.setattr(CleverTapStream, "now", now)


def config(emulator: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    """The test config without end_date: a run reads up to today, and ahead."""
    found = tap_config(emulator, only="clevertap", **changes)
    if "end_date" not in changes:
        del found["end_date"]
    return found


def daily_runs(
    emulator: EmulatorServer, days: int, **changes: t.Any
) -> tuple[Warehouse, list[TapRun]]:
    """A first run, then one per simulated day, each from the previous state."""
    warehouse, runs, state = Warehouse(), [], None
    for day in range(days + 1):
        if day:
            emulator.world.advance(1)
        run = run_tap(config(emulator, **changes), state)
        warehouse.load(run)
        runs.append(run)
        state = run.final_state
        assert bookmarks(run) == {emulator.world.today.isoformat()}, "never past today"
    return warehouse, runs


def bookmarks(run: TapRun) -> set[str]:
    final = run.final_state or {}
    return {
        partition["replication_key_value"]
        for stream in ("campaigns", "message_reports")
        for partition in final["bookmarks"][stream]["partitions"]
    }


def ahead(emulator: EmulatorServer, days: int = DEFAULT_LOOKAHEAD_DAYS) -> dt.date:
    return emulator.world.today + dt.timedelta(days=days)


def scheduled_day(campaign: dict[str, t.Any]) -> dt.date:
    return dt.datetime.strptime(str(campaign["scheduled_on"])[:8], "%Y%m%d").date()  # noqa: DTZ007


def campaign_requests(emulator: EmulatorServer) -> int:
    return sum(entry.stream == "campaigns" for entry in emulator.request_log())


# ----- 1. campaigns scheduled ahead ---------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_campaigns_scheduled_ahead_are_read_and_kept_current_over_days(
    emulator: EmulatorServer,
) -> None:
    warehouse, runs = daily_runs(emulator, days=4)
    assert_equal_to_truth(differences(warehouse, emulator, START, ahead(emulator)))
    later = [
        c for c in warehouse.tables["campaigns"].values() if scheduled_day(c) > ahead(emulator, 31)
    ]
    assert later, "campaigns scheduled beyond the first window ahead must be there"
    assert {c["status"] for c in later} <= {"scheduled", "pending"}
    # Every run lists the future again: a campaign read ahead on day 0 is current on day 4.
    first_ahead = {
        c["id"]
        for c in runs[0].records["campaigns"]
        if scheduled_day(c) > emulator.world.today - dt.timedelta(days=4)
    }
    assert first_ahead <= {c["id"] for c in runs[-1].records["campaigns"]}


@pytest.mark.usefixtures("clock")
def test_look_ahead_reads_its_days_only_in_campaign_windows(emulator: EmulatorServer) -> None:
    lookahead = 40
    warehouse, _ = daily_runs(emulator, days=0, clevertap_lookahead_days=lookahead)
    assert_equal_to_truth(differences(warehouse, emulator, START, ahead(emulator, lookahead)))
    days = {scheduled_day(c) for c in warehouse.tables["campaigns"].values()}
    assert max(days) <= ahead(emulator, lookahead) < ahead(emulator, MAX_CREATION_LEAD_DAYS)
    # 62 days to today in 31-day windows, then ceil(40 / 31) = 2 windows ahead, per account.
    assert campaign_requests(emulator) == len(ACCOUNTS) * (2 + 2)


@pytest.mark.usefixtures("clock")
def test_the_default_look_ahead_costs_twelve_requests_per_account(
    emulator: EmulatorServer,
) -> None:
    windows_ahead = math.ceil(DEFAULT_LOOKAHEAD_DAYS / MAX_CAMPAIGN_WINDOW_DAYS)
    assert windows_ahead == 12
    state = run_tap(config(emulator)).final_state
    # 62 days to today in 31-day windows, then the look-ahead, per account.
    assert campaign_requests(emulator) == len(ACCOUNTS) * (2 + windows_ahead)
    emulator.world.advance(1)
    quiet = {"clevertap_lookback_days": 0, "clevertap_track_open_days": False}
    run_tap(config(emulator, **quiet), state)
    # From yesterday's bookmark: one window to today, then the look-ahead again.
    assert campaign_requests(emulator) == len(ACCOUNTS) * (2 + windows_ahead + 1 + windows_ahead)


@pytest.mark.usefixtures("clock")
def test_without_look_ahead_campaigns_scheduled_ahead_are_missing(
    emulator: EmulatorServer,
) -> None:
    """The negative control: the truth holds campaigns scheduled ahead, read only ahead."""
    warehouse, _ = daily_runs(emulator, days=1, clevertap_lookahead_days=0)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    assert differences(warehouse, emulator, START, ahead(emulator))["campaigns"]["missing"] > 0


@pytest.mark.parametrize("days", [-1, 3661])
def test_a_look_ahead_out_of_range_is_one_line_naming_the_setting(
    emulator: EmulatorServer, days: int
) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapMsgReports(config=config(emulator, clevertap_lookahead_days=days))
    assert f"clevertap_lookahead_days must be 0 to 3660, got {days}" in str(caught.value)
    assert "\n" not in str(caught.value)


# ----- 2. failures inside a 200 ---------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_429_and_5xx_inside_200s_are_retried_and_end_exact(emulator: EmulatorServer) -> None:
    emulator.faults = FaultPlan(
        vendors=["clevertap"],
        script=["200-429", "200-500"] * 3,
        rates={"200-429": 0.15, "200-500": 0.1},
        seed=5,
    )
    warehouse, _ = daily_runs(emulator, days=2, max_retries=10)
    assert_equal_to_truth(differences(warehouse, emulator, START, ahead(emulator)))
    log = emulator.request_log()
    injected = [entry for entry in log if entry.fault is not None]
    assert {entry.fault for entry in injected} == {"200-429", "200-500"}
    assert {entry.status for entry in injected} == {200}
    assert len(recovered(log)) == len(injected) >= 6  # each asked again, then answered


@pytest.mark.usefixtures("clock")
def test_refusals_inside_200s_split_windows_and_end_exact(emulator: EmulatorServer) -> None:
    emulator.clevertap.fails_in_200 = True
    emulator.clevertap.campaigns_max_span_days = 4
    emulator.clevertap.reports_max_span_days = 2
    emulator.faults = FaultPlan(vendors=["clevertap"], script=["200-range"] * 2)
    warehouse, _ = daily_runs(emulator, days=2, clevertap_report_window_days=14)
    assert_equal_to_truth(differences(warehouse, emulator, START, ahead(emulator)))
    refused = [entry for entry in emulator.request_log() if entry.status == 200]
    assert len(refused) > 100  # every refusal came as a 200, and was split


def test_credentials_refused_inside_a_200_stop_with_the_credentials_message(
    emulator: EmulatorServer,
) -> None:
    emulator.clevertap.fails_in_200 = True
    # The first account's three windows alone in flight: the second account's, in parallel
    # otherwise, would count in the log too.
    settings = tap_config(emulator, only="clevertap", max_requests_in_flight=3)
    settings["clevertap_accounts"][0]["passcode"] = "wrong-passcode-0000"
    with pytest.raises(SourceAuthError, match="refused the credentials of account EMU-ACCT-0001"):
        run_tap(settings)
    assert len(emulator.request_log()) <= 3  # at once, no retries, nothing after it


def answering(body: object) -> Answer:
    """A CleverTap that answers every POST with ``body``, as HTTP 200."""

    def answer(handler: Handler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(data)

    return answer


@pytest.fixture
def fail_server() -> t.Iterator[Server]:
    with serving(answering(None)) as server:
        yield server


def fail_settings(httpd: Server) -> dict[str, t.Any]:
    return {
        "clevertap_account_id": "ACC-7",
        "clevertap_passcode": "p-1234567890",
        "clevertap_api_url": httpd.url,
        "start_date": "2026-01-01",
        "end_date": "2026-01-04",
        "max_retries": 2,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
        "request_timeout": 5,
    }


def run_against(httpd: Server, body: object) -> str:
    """Run campaigns against a server answering ``body``; the one-line error it stops with."""
    httpd.answer = answering(body)
    settings = fail_settings(httpd)
    catalog = TapMsgReports(config=settings).catalog_dict
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["tap_stream_id"] == "campaigns"
    with pytest.raises(SourceError) as caught:
        run_tap(settings, catalog=catalog)
    message = str(caught.value)
    assert "\n" not in message
    assert "p-1234567890" not in message
    return message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"status": "FAIL", "error": "Account is suspended", "code": 404},
            (
                'CleverTap account ACC-7, campaigns 2026-01-01..2026-01-04: HTTP 200 "status": '
                '"fail" (code 404): Account is suspended'
            ),
        ),
        ({"status": "fail", "error": "Bad thing", "code": "503"}, "gave up after 3 tries"),
        (
            {"status": "Fail", "error": "INVALID DATE RANGE", "code": 400},
            "cannot be split further",
        ),
        ({"status": "fail", "code": 403}, "refused the credentials of account ACC-7"),
        (  # bad input: neither code nor error
            {"status": "fail"},
            (
                'campaigns 2026-01-01..2026-01-04: HTTP 200 "status": "fail" (no usable code): '
                '{"status": "fail"}'
            ),
        ),
        ({"status": "fail", "error": "Odd", "code": 200}, "(no usable code): Odd"),
        ({"status": "fail", "error": "Odd", "code": "4290"}, "(no usable code): Odd"),
    ],
)
def test_a_fail_inside_a_200_is_classified_by_its_code_and_text(
    fail_server: Server, body: object, expected: str
) -> None:
    assert expected in run_against(fail_server, body)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, 'HTTP 200 "status": "fail" (no usable code): {"status": "fail"}'),
        ({"clevertap_lookahead_days": -1}, "clevertap_lookahead_days must be 0 to 3660, got -1"),
        ({"clevertap_lookahead_days": 3661}, "clevertap_lookahead_days must be 0 to 3660"),
    ],
)
def test_bad_input_is_one_line_from_the_command_line(
    fail_server: Server,
    tmp_path: Path,
    changes: dict[str, t.Any],
    expected: str,
) -> None:
    fail_server.answer = answering({"status": "fail"})
    done = run_cli(tmp_path, {**fail_settings(fail_server), **changes})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert sum(expected in line for line in done.stderr.splitlines()) == 1, done.stderr[-2000:]
    assert "p-1234567890" not in done.stderr


# ----- 3. campaigns built in the dashboard --------------------------------------------------


def test_an_account_without_api_campaigns_is_told_why_once(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.clevertap.dashboard_only = {"EMU-ACCT-0002"}
    caplog.set_level(logging.INFO)
    warehouse = Warehouse()
    warehouse.load(run_tap(tap_config(emulator, only="clevertap")))
    report = differences(warehouse, emulator, START, emulator.world.today)
    assert_equal_to_truth(report)
    told = [r for r in caplog.records if "created through the API" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert told[0].levelno == logging.INFO
    assert "CleverTap account EMU-ACCT-0002: Get Campaigns listed no campaign" in (
        told[0].getMessage()
    )
