"""moengage_campaign_rows against the emulator: every file's rows, nothing from expired days."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import typing as t

import pytest

from tap_msgreports.emulator import FaultPlan
from tap_msgreports.errors import SourceError
from tap_msgreports.tap import TapMsgReports
from tests.conftest import TODAY, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli, run_until_killed, write_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports.emulator import EmulatorServer

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


def test_a_late_run_says_which_dates_were_lost(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    first = run_tap(moengage_config(emulator))
    emulator.world.advance(10)
    config = moengage_config(emulator, end_date=emulator.world.today.isoformat())
    with caplog.at_level(logging.WARNING):
        run_tap(config, first.final_state)
    lost_from, lost_to = TODAY, emulator.world.today - dt.timedelta(days=7)
    assert f"files for {lost_from}..{lost_to} have expired" in caplog.text


def test_columns_follow_each_file_header(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.moengage.header_drift = True
    with caplog.at_level(logging.WARNING):
        run = run_tap(moengage_config(emulator))
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(
        differences(warehouse, emulator, WEEK_AGO, TODAY - dt.timedelta(days=1), ROWS)
    )
    assert "has columns the schema did not have" in caplog.text
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


def test_a_file_that_stays_truncated_fails_and_keeps_the_bookmark(emulator: EmulatorServer) -> None:
    config = moengage_config(emulator, max_retries=2, moengage_max_concurrency=1)
    catalog = TapMsgReports(config=config).catalog_dict  # discovery first, as Meltano does
    emulator.faults = FaultPlan(script=["ok"] * 3 + ["truncate"] * 3)
    out = io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        pytest.raises(SourceError, match=r"gave up after 3 tries"),
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
