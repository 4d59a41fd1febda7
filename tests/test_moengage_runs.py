"""moengage_campaign_rows against the emulator: every file's rows, nothing from expired days."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
import tempfile
import typing as t
import zipfile

import pytest
import requests
import urllib3

from tap_msgreports.errors import SourceError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import Window
from tap_msgreports_emulator import FaultPlan
from tests.conftest import TODAY, tap_config
from tests.harness import (
    TapRun,
    Warehouse,
    assert_equal_to_truth,
    differences,
    parse_messages,
    run_tap,
    windowed,
)
from tests.processes import run_cli, run_until_killed, write_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator
ROWS = ("moengage_campaign_rows",)
WEEK_AGO = TODAY - dt.timedelta(days=6)


def moengage_config(emulator: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    return tap_config(emulator, only="moengage", **{"start_date": WEEK_AGO.isoformat(), **changes})


def daily_runs(emulator: EmulatorServer, days: int, **changes: t.Any) -> Warehouse:
    warehouse, state = Warehouse(), None
    for day in range(days + 1):
        if day:
            emulator.world.advance(1)
        config = moengage_config(emulator, end_date=emulator.world.today.isoformat(), **changes)
        run = run_tap(config, state)
        warehouse.load(run)
        state = run.final_state
    return warehouse


def test_daily_runs_hold_every_row_of_every_file(emulator: EmulatorServer) -> None:
    warehouse = daily_runs(emulator, days=8)
    # Today's file is never generated yet; every earlier date was fetched in time.
    last = emulator.world.today - dt.timedelta(days=1)
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, last, ROWS))
    dates = {key[1] for key in warehouse.tables["moengage_campaign_rows"]}
    assert emulator.world.today.isoformat() not in dates


@pytest.mark.parametrize("body_format", ["zip", "gzip", "csv"])
def test_zip_gzip_and_plain_bodies_give_the_same_rows(
    emulator: EmulatorServer, body_format: str
) -> None:
    emulator.moengage.body_format = body_format
    warehouse = Warehouse()
    warehouse.load(run_tap(moengage_config(emulator)))
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )


@pytest.mark.parametrize("place", ["header", "query", "both"])
def test_the_signature_goes_where_configured(emulator: EmulatorServer, place: str) -> None:
    run = run_tap(moengage_config(emulator, moengage_signature_in=place))
    assert run.records["moengage_campaign_rows"]
    # Every download (discovery's probes too) carried it there, and only there.
    assert len(emulator.moengage.signature_places) > 10
    assert set(emulator.moengage.signature_places) == {place}


def test_today_is_left_for_the_next_run_and_weekly_gaps_are_skipped(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        run = run_tap(moengage_config(emulator))
    text = caplog.text
    assert "is not generated yet" in text
    assert "trying again next run" in text
    assert "no file Weekly_Email_Summary_" in text  # days without a weekly file
    bookmarks = {
        p["context"]["report_name"]: p["replication_key_value"]
        for p in run.final_state["bookmarks"]["moengage_campaign_rows"]["partitions"]  # type: ignore[index]
    }
    # Yesterday was the last date read: today stays open for the next run.
    assert set(bookmarks.values()) == {(TODAY - dt.timedelta(days=1)).isoformat()}


def bookmarks(run: TapRun) -> dict[str, str]:
    """The stored report date of each report, after a run."""
    assert run.final_state is not None
    partitions = run.final_state["bookmarks"]["moengage_campaign_rows"]["partitions"]
    return {p["context"]["report_name"]: p["replication_key_value"] for p in partitions}


def test_an_end_date_after_today_reads_to_yesterday_and_loses_nothing(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Today is the clock's: a later end_date neither expires files nor moves bookmarks ahead."""
    later = (TODAY + dt.timedelta(days=5)).isoformat()
    with caplog.at_level(logging.INFO):
        first = run_tap(moengage_config(emulator, end_date=later))
    assert "have expired" not in caplog.text
    assert max(bookmarks(first).values()) == (TODAY - dt.timedelta(days=1)).isoformat()
    warehouse = Warehouse()
    warehouse.load(first)
    emulator.world.advance(1)  # today's file is generated now: the next run reads it
    warehouse.load(run_tap(moengage_config(emulator, end_date=later), first.final_state))
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, TODAY, ROWS))


def test_an_end_date_before_today_ends_there_and_file_life_counts_from_today(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    end = TODAY - dt.timedelta(days=3)
    config = moengage_config(
        emulator, start_date=(TODAY - dt.timedelta(days=9)).isoformat(), end_date=end.isoformat()
    )
    with caplog.at_level(logging.INFO):
        run = run_tap(config)
    # Files older than today - 7 have expired: none is asked for (the vendor would refuse it).
    assert "Requested report is older" not in caplog.text
    assert "has expired" not in caplog.text
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, TODAY - dt.timedelta(days=7), end, ROWS))
    assert bookmarks(run)["Daily Push Report"] == end.isoformat()


def test_without_end_date_a_run_reads_every_file_up_to_yesterday(emulator: EmulatorServer) -> None:
    config = moengage_config(emulator)
    del config["end_date"]
    run = run_tap(config)
    warehouse = Warehouse()
    warehouse.load(run)
    yesterday = TODAY - dt.timedelta(days=1)
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, yesterday, ROWS))
    assert bookmarks(run)["Daily Push Report"] == yesterday.isoformat()


def test_a_file_that_comes_a_day_late_is_read_by_the_next_run(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.moengage.late_days = 1  # yesterday's file is not there yet
    with caplog.at_level(logging.INFO):
        first = run_tap(moengage_config(emulator))
    name = f"Daily_Push_Report_{TODAY - dt.timedelta(days=1):%Y%m%d}.zip"
    assert f"{name} is not generated yet" in caplog.text
    assert bookmarks(first)["Daily Push Report"] == (TODAY - dt.timedelta(days=2)).isoformat()
    emulator.world.advance(1)
    config = moengage_config(emulator, end_date=emulator.world.today.isoformat())
    warehouse = Warehouse()
    for run in (first, run_tap(config, first.final_state)):
        warehouse.load(run)
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )


def test_a_weekly_report_moves_its_bookmark_every_run_and_every_file_is_read(
    emulator: EmulatorServer,
) -> None:
    weekly = emulator.moengage.report("Weekly Email Summary")
    emulator.moengage.reports = (weekly,)  # the truth, and the config, hold this one only
    warehouse, state = Warehouse(), None
    for day in range(10):
        if day:
            emulator.world.advance(1)
        today = emulator.world.today
        run = run_tap(moengage_config(emulator, end_date=today.isoformat()), state)
        warehouse.load(run)
        state = run.final_state
        # Days without a file are skipped once they are two days old: never stuck.
        assert bookmarks(run)[weekly.name] >= (today - dt.timedelta(days=2)).isoformat()
    last = emulator.world.today - dt.timedelta(days=1)
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, last, ROWS))
    read = {key[1] for key in warehouse.tables["moengage_campaign_rows"]}
    days = [WEEK_AGO + dt.timedelta(days=n) for n in range((last - WEEK_AGO).days + 1)]
    assert read == {day.isoformat() for day in days if weekly.generated_on(day)}
    assert len(read) == 2  # two Mondays in these ten days


def test_a_first_run_from_an_old_start_date_loses_nothing_and_says_so_at_info(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    # As the default start_date (30 days back) is, older than any file lives. (Left out,
    # the default would count from the real clock: with end_date the emulator's, a range
    # empty in every zone, which the settings refuse.)
    config = moengage_config(emulator, start_date=(TODAY - dt.timedelta(days=30)).isoformat())
    with caplog.at_level(logging.INFO):
        run_tap(config)
    assert [
        r for r in caplog.records if r.levelno >= logging.WARNING and "expired" in r.message
    ] == []
    start, oldest = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=7)
    said = f"files older than 7 days cannot be fetched: start_date {start} is before {oldest}"
    assert said in caplog.text


def test_a_late_run_says_which_dates_were_lost(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    first = run_tap(moengage_config(emulator))
    emulator.world.advance(10)
    config = moengage_config(emulator, end_date=emulator.world.today.isoformat())
    with caplog.at_level(logging.WARNING):
        run_tap(config, first.final_state)
    lost_from, lost_to = TODAY, emulator.world.today - dt.timedelta(days=8)
    assert f"files for {lost_from}..{lost_to} have expired" in caplog.text


def test_columns_follow_each_file_header(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.moengage.header_drift = True
    with caplog.at_level(logging.INFO):
        run = run_tap(moengage_config(emulator))
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )
    assert "has columns the schema did not have" in caplog.text
    # Every other file lacks a column of the one before: said once per file.
    lost = [r.message for r in caplog.records if "lacks columns" in r.message]
    assert any("Daily_Push_Report_" in m and "'month'" in m for m in lost), lost
    assert len(lost) == len(set(lost))
    schemas = [
        m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "moengage_campaign_rows"
    ]
    final = schemas[-1]["schema"]["properties"]
    assert {"conversion_goal_2_event", "month", "sent_2", "c_1st_click_time"} <= set(final)
    # Every record came after a SCHEMA that declared all of its columns.
    declared: set[str] = set()
    for message in run.messages:
        if message.get("stream") != "moengage_campaign_rows":
            continue
        if message["type"] == "SCHEMA":
            declared = set(message["schema"]["properties"])
        elif message["type"] == "RECORD":
            assert set(message["record"]) <= declared


def test_a_header_growing_mid_run_is_declared_first_and_selection_and_maps_still_apply(
    emulator: EmulatorServer,
) -> None:
    """The SDK internals ``redeclare_schema`` relies on still work (see its docstring)."""
    emulator.moengage.reports = (emulator.moengage.report("Daily Push Report"),)
    config = moengage_config(emulator, stream_maps={"moengage_campaign_rows": {"title": None}})
    catalog = TapMsgReports(config=config).catalog_dict  # before the header grows
    (entry,) = catalog["streams"]
    assert "conversion_goal_2_event" not in entry["schema"]["properties"]
    for item in entry["metadata"]:
        if item["breadcrumb"] == ["properties", "campaign_name"]:
            item["metadata"]["selected"] = False
    emulator.moengage.header_drift = True  # from the second date on, every other file grows
    tap, out = TapMsgReports(config=config, catalog=catalog), io.StringIO()
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    declared: set[str] = set()
    grown = 0
    for message in parse_messages(out.getvalue()).messages:
        if message["type"] == "SCHEMA":
            declared = set(message["schema"]["properties"])
            assert "title" not in declared  # the stream map still applies
        elif message["type"] == "RECORD":
            record = message["record"]
            assert set(record) <= declared  # declared before its first record
            assert not {"campaign_name", "title"} & set(record)  # deselected, mapped away
            grown += "conversion_goal_2_event" in record
    assert grown
    stream = tap.streams["moengage_campaign_rows"]
    for schema in (stream.schema, stream.effective_schema):
        assert "conversion_goal_2_event" in schema["properties"]


def test_a_file_that_stays_truncated_fails_and_keeps_the_bookmark(emulator: EmulatorServer) -> None:
    config = moengage_config(emulator, max_retries=2, moengage_max_concurrency=1)
    catalog = TapMsgReports(config=config).catalog_dict  # discovery first, as Meltano does
    emulator.faults = FaultPlan(script=["ok"] * 3 + ["truncate"] * 3)
    out = io.StringIO()
    broken = f"Daily_Push_Report_{WEEK_AGO + dt.timedelta(days=3):%Y%m%d}.zip"
    with (
        contextlib.redirect_stdout(out),
        pytest.raises(SourceError, match=rf"{re.escape(broken)}: gave up after 3 tries"),
    ):
        TapMsgReports(config=config, catalog=catalog).sync_all()
    states = [
        json.loads(line)["value"] for line in out.getvalue().splitlines() if '"STATE"' in line
    ]
    (partition,) = states[-1]["bookmarks"]["moengage_campaign_rows"]["partitions"]
    # Three dates were read; the fourth never arrived whole, so the bookmark stays before it.
    assert partition["replication_key_value"] == (WEEK_AGO + dt.timedelta(days=2)).isoformat()


def test_truncated_downloads_are_retried(emulator: EmulatorServer) -> None:
    emulator.faults = FaultPlan(rates={"truncate": 0.3, "500": 0.1, "drop": 0.1}, seed=5)
    warehouse = Warehouse()
    warehouse.load(run_tap(moengage_config(emulator, max_retries=10)))
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )


@pytest.mark.slow
def test_killed_run_resumes_without_a_gap(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.moengage.rows_per_file = 400
    config = moengage_config(emulator, moengage_max_concurrency=1)
    warehouse, state = run_until_killed(write_config(tmp_path, config), kill_after_states=4)
    warehouse.load(run_tap(config, state))
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )


@pytest.mark.slow
def test_a_refused_signature_is_one_clear_line(emulator: EmulatorServer, tmp_path: Path) -> None:
    config = moengage_config(emulator, moengage_secret_key="wrong-secret-12345")
    done = run_cli(tmp_path, config)
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "refused the signature" in line]
    assert "MoEngage" in line
    assert config["moengage_app_id"] in line
    assert "moengage_secret_key" in line
    for secret in ("wrong-secret-12345", emulator.moengage.secret_key):
        assert secret not in done.stderr + done.stdout


def test_every_csv_member_of_a_zip_is_read_in_order_with_rows_numbered_across_them(
    emulator: EmulatorServer,
) -> None:
    members = {
        "part1.csv": "Campaign Name,Sent\r\nA,1\r\nB,2\r\n",
        "notes.txt": "not a CSV: left out\r\n",
        "part2.csv": "\ufeffCampaign Name,Sent,Clicks\r\nC,3,30\r\n",
        "part3.csv": "Campaign Name,Sent\r\nD,4\r\nE,5\r\n",
    }
    body = tempfile.TemporaryFile()  # noqa: SIM115 - records_from closes it
    with zipfile.ZipFile(body, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text.encode())
    stream = windowed(TapMsgReports(config=moengage_config(emulator)), "moengage_campaign_rows")
    window = Window.of_days(TODAY, TODAY)
    with contextlib.redirect_stdout(io.StringIO()):
        records = list(stream.records_from(body, {"report_name": "Daily Push Report"}, window))
    assert [(r["row_number"], r["campaign_name"], r["sent"]) for r in records] == [
        (1, "A", "1"),
        (2, "B", "2"),
        (3, "C", "3"),
        (4, "D", "4"),
        (5, "E", "5"),
    ]
    assert records[2]["clicks"] == "30"
    assert "clicks" in stream.schema["properties"]
    assert body.closed


class BrokenDownload(contextlib.AbstractContextManager["BrokenDownload"]):
    """A response whose body breaks after its first chunk."""

    url = "http://127.0.0.1/campaign_reports/rest_api/APP/Daily_Push_Report_20260119.zip"

    def __exit__(self, *exc: object) -> None:
        pass

    def __init__(self) -> None:
        self.raw = self  # the body is read from response.raw, as it arrives
        self.chunks = 0

    def read1(self, size: int, *, decode_content: bool) -> bytes:
        self.chunks += 1
        if self.chunks == 1:
            return b"PK\x03\x04" + b"\x00" * 100
        raise urllib3.exceptions.ProtocolError("connection broken")  # mid-body


def test_the_temporary_file_of_a_broken_download_is_closed(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = windowed(TapMsgReports(config=moengage_config(emulator)), "moengage_campaign_rows")
    made: list[t.IO[bytes]] = []
    real = tempfile.TemporaryFile

    def temporary_file() -> t.IO[bytes]:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        stream.parse_body(t.cast("requests.Response", BrokenDownload()))
    (download,) = made
    assert download.closed


def test_discovery_retries_a_probe_refused_with_5xx_or_429(emulator: EmulatorServer) -> None:
    # Every try fails but the last: answered "no file", these would lose the columns.
    emulator.faults = FaultPlan(script=["503", "429", "500", "503", "429", "503", "500"])
    catalog = TapMsgReports(config=moengage_config(emulator, max_retries=8)).catalog_dict
    (entry,) = catalog["streams"]
    assert "all_platform_sent" in entry["schema"]["properties"]


def test_discovery_says_why_it_learnt_no_columns(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults = FaultPlan(rates={"503": 1.0})
    with caplog.at_level(logging.WARNING):
        TapMsgReports(config=moengage_config(emulator, max_retries=1))
    assert "no columns learnt at discovery (gave up after 2 tries: HTTP 503)" in caplog.text
    emulator.faults = None
    emulator.moengage.late_days = 7  # no file for a week
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        TapMsgReports(config=moengage_config(emulator))
    said = (
        "no columns learnt at discovery (no file dated today or in the 7 days before; "
        "answers: HTTP 400 x8)"
    )
    assert said in caplog.text
