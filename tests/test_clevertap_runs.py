"""The CleverTap streams against the emulator: what a warehouse holds equals the truth."""

from __future__ import annotations

import datetime as dt
import typing as t
import zoneinfo

import pytest

from tap_msgreports_emulator import FaultPlan
from tests.conftest import START, tap_config
from tests.harness import TapRun, Warehouse, assert_equal_to_truth, differences, run_tap

if t.TYPE_CHECKING:
    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator


def daily_runs(
    emulator: EmulatorServer, days: int, **changes: t.Any
) -> tuple[Warehouse, list[TapRun]]:
    """A first run, then one run per simulated day, each from the previous state."""
    warehouse, runs, state = Warehouse(), [], None
    for day in range(days + 1):
        if day:
            emulator.world.advance(1)
        run = run_tap(tap_config(emulator, only="clevertap", **changes), state)
        warehouse.load(run)
        runs.append(run)
        state = run.final_state
    return warehouse, runs


def test_first_run_equals_the_truth(emulator: EmulatorServer) -> None:
    warehouse, _ = daily_runs(emulator, days=0)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))


def test_daily_incremental_runs_stay_equal_to_the_truth(emulator: EmulatorServer) -> None:
    warehouse, runs = daily_runs(emulator, days=4)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    first, later = runs[0].records, runs[-1].records
    # Incremental: later runs read from bookmark - 30 days, not from start_date (61 days).
    for stream in ("campaigns", "message_reports"):
        assert 0 < len(later[stream]) < len(first[stream])


def test_bookmarks_are_per_account_and_the_last_day_read(emulator: EmulatorServer) -> None:
    run = run_tap(tap_config(emulator, only="clevertap"))
    bookmarks = run.final_state["bookmarks"]  # type: ignore[index]
    for stream in ("campaigns", "message_reports"):
        partitions = bookmarks[stream]["partitions"]
        assert sorted(p["context"]["account_id"] for p in partitions) == [
            "EMU-ACCT-0001",
            "EMU-ACCT-0002",
        ]
        assert {p["replication_key_value"] for p in partitions} == {
            emulator.world.today.isoformat()
        }
        assert all("progress_markers" not in p for p in partitions)


def test_without_lookback_figures_go_stale(emulator: EmulatorServer) -> None:
    """The negative control: without the lookback (or open days), figures go stale."""
    warehouse, _ = daily_runs(
        emulator, days=3, clevertap_lookback_days=0, clevertap_track_open_days=False
    )
    report = differences(warehouse, emulator, START, emulator.world.today)
    assert report["message_reports"]["stale"] > 0
    assert report["campaigns"]["stale"] > 0


def test_rows_still_running_after_the_lookback_stay_current(emulator: EmulatorServer) -> None:
    """Campaigns and messages run up to 3 weeks; with a 1-day lookback, the days of rows
    still running are read again (open days) until they end."""
    warehouse, runs = daily_runs(emulator, days=4, clevertap_lookback_days=1)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    state = runs[-1].final_state
    assert state is not None
    partitions = state["bookmarks"]["message_reports"]["partitions"]
    open_days = [day for p in partitions for day in p.get("open_days", [])]
    lookback_start = (emulator.world.today - dt.timedelta(days=1)).isoformat()
    assert any(day < lookback_start for day in open_days)  # running beyond the lookback


def test_open_days_survive_split_windows(emulator: EmulatorServer) -> None:
    """Open days found in the pieces of a split window are kept like those of whole ones."""
    emulator.clevertap.reports_max_span_days = 3
    warehouse, runs = daily_runs(
        emulator, days=3, clevertap_lookback_days=1, clevertap_report_window_days=14
    )
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    state = runs[-1].final_state
    assert state is not None
    partitions = state["bookmarks"]["message_reports"]["partitions"]
    assert all(p.get("open_days") for p in partitions)


def test_day_wise_figures_and_filters(emulator: EmulatorServer) -> None:
    run = run_tap(
        tap_config(
            emulator, only="clevertap", clevertap_daily=True, clevertap_channels=["push", "sms"]
        )
    )
    messages = run.records["message_reports"]
    assert messages
    assert {m["channel"] for m in messages} <= {"Push", "SMS"}
    truth = {
        (row["account_id"], row["message_id"]): row
        for row in emulator.truth("message_reports", START, emulator.world.today)
        if row["channel"] in {"Push", "SMS"}
    }
    assert {(m["account_id"], m["message_id"]) for m in messages} == truth.keys()
    for message in messages:
        assert all("date" in element for element in message["data"])
        expected = truth[message["account_id"], message["message_id"]]
        assert (message["sent"], message["viewed"], message["clicked"]) == (
            expected["sent"],
            expected["viewed"],
            expected["clicked"],
        )


def test_started_at_is_parsed_for_every_message(emulator: EmulatorServer) -> None:
    config = tap_config(emulator, only="clevertap")
    zones = {
        a["account_id"]: zoneinfo.ZoneInfo(a["timezone"]) for a in config["clevertap_accounts"]
    }
    messages = run_tap(config).records["message_reports"]
    formats = {m["start_date"][0].isdigit() for m in messages}  # "18 Oct, 2025 ..." / "Oct 18, ..."
    assert formats == {True, False}, "both vendor formats must be exercised"
    for message in messages:
        started = dt.datetime.fromisoformat(message["started_at"])
        assert started.utcoffset() == dt.timedelta(0)  # UTC, whatever the account's zone
        local = started.astimezone(zones[message["account_id"]])
        assert START <= local.date() <= emulator.world.today
        assert local.strftime("%b") in message["start_date"]  # the month as sent, locally


def test_windows_refused_as_too_large_are_split(emulator: EmulatorServer) -> None:
    emulator.clevertap.campaigns_max_span_days = 4
    emulator.clevertap.reports_max_span_days = 2
    run = run_tap(tap_config(emulator, only="clevertap", clevertap_report_window_days=14))
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    unsplit = 2 * (2 + 5)  # per account: 62 days in 31-day and 14-day windows
    assert emulator.status()["requests"]["clevertap"] > 4 * unsplit


def test_requests_in_flight_stay_within_three_per_account(emulator: EmulatorServer) -> None:
    emulator.faults = FaultPlan(latency_ms=40)
    run_tap(
        tap_config(
            emulator,
            only="clevertap",
            clevertap_report_window_days=1,
            clevertap_campaign_window_days=1,
        )
    )
    peaks = emulator.status()["max_in_flight"]
    accounts = [peaks[account] for account in ("EMU-ACCT-0001", "EMU-ACCT-0002")]
    assert accounts == [3, 3], peaks  # fetched ahead, never beyond the limit


def test_faults_are_retried_and_nothing_is_lost(emulator: EmulatorServer) -> None:
    emulator.faults = FaultPlan(
        rates={
            "429": 0.2,
            "500": 0.1,
            "503": 0.05,
            "drop": 0.05,
            "truncate": 0.05,
            "malformed": 0.05,
        },
        seed=11,
    )
    run = run_tap(
        tap_config(emulator, only="clevertap", clevertap_report_window_days=3, max_retries=10)
    )
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    assert sum(emulator.status()["faults_injected"].values()) > 5


def test_retry_after_is_honoured(emulator: EmulatorServer) -> None:
    emulator.faults = FaultPlan(script=["429"], retry_after=1)
    started = dt.datetime.now(dt.timezone.utc)
    run_tap(
        tap_config(emulator, only="clevertap", backoff_max_seconds=5, clevertap_max_concurrency=1)
    )
    waited = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    assert waited >= 1.0
