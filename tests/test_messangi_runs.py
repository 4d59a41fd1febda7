"""mlog_items against the emulator: complete, current, stable keys in both modes."""

from __future__ import annotations

import logging
import typing as t

import pytest

from tap_msgreports.errors import SourceError
from tap_msgreports_emulator import FaultPlan
from tests.conftest import TODAY, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli, run_until_killed, write_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator
MLOG = ("mlog_items",)


def mlog_config(emulator: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    """Messangi only, over the last week (Messangi data is dense)."""
    return tap_config(emulator, only="messangi", **{"start_date": "2026-01-13", **changes})


def test_a_day_of_many_responses_is_extracted_completely(emulator: EmulatorServer) -> None:
    emulator.messangi.lines_per_day = 2000
    emulator.messangi.max_items_per_response = 100
    run = run_tap(mlog_config(emulator, start_date=TODAY.isoformat()))
    warehouse = Warehouse()
    warehouse.load(run)
    report = differences(warehouse, emulator, TODAY, TODAY, MLOG)
    assert_equal_to_truth(report)
    assert report["mlog_items"]["truth"] > 20 * 100  # many times the per-response cap
    assert emulator.status()["requests"]["messangi"] > 40  # it had to split, repeatedly


def test_daily_runs_keep_statuses_current(emulator: EmulatorServer) -> None:
    warehouse, state, runs = Warehouse(), None, []
    for day in range(4):
        if day:
            emulator.world.advance(1)
        run = run_tap(mlog_config(emulator, end_date=emulator.world.today.isoformat()), state)
        warehouse.load(run)
        runs.append(run)
        state = run.final_state
    report = differences(warehouse, emulator, TODAY.replace(day=13), emulator.world.today, MLOG)
    assert_equal_to_truth(report)
    # Later runs re-read only the lookback (3 days), not the whole week.
    assert len(runs[-1].records["mlog_items"]) < len(runs[0].records["mlog_items"])


def test_without_lookback_statuses_go_stale(emulator: EmulatorServer) -> None:
    warehouse, state = Warehouse(), None
    for day in range(3):
        if day:
            emulator.world.advance(1)
        config = mlog_config(
            emulator, end_date=emulator.world.today.isoformat(), messangi_lookback_days=0
        )
        run = run_tap(config, state)
        warehouse.load(run)
        state = run.final_state
    report = differences(warehouse, emulator, TODAY.replace(day=13), emulator.world.today, MLOG)
    assert report["mlog_items"]["stale"] > 0


def test_both_modes_give_the_same_keys_and_shared_values(emulator: EmulatorServer) -> None:
    pretty = run_tap(mlog_config(emulator)).records["mlog_items"]
    raw = run_tap(mlog_config(emulator, messangi_raw_fields=True)).records["mlog_items"]
    assert [r["mlog_id"] for r in pretty] == [r["mlog_id"] for r in raw]
    shared = (
        "channel", "sender", "date", "campaignid", "status", "statusdate", "direction",
        "subject", "platform", "subscriberid",
    )  # fmt: skip
    for left, right in zip(pretty, raw, strict=True):
        assert {f: left[f] for f in shared} == {f: right[f] for f in shared}
        # As sent (README): the vendor writes "+" in one mode only, and no e-mail content
        # in pretty mode.
        assert left["recipient"].removeprefix("+") == right["recipient"].removeprefix("+")
        if left["channel"] == "E":
            assert left["content"] is None
            assert right["content"]
        else:
            assert left["content"] == right["content"]
    assert any(r["subject"] for r in raw)
    assert any(r["platform"] for r in raw)
    assert any(r["subscriberid"] for r in raw)
    assert any(r["owner"] for r in raw)  # the extra fields arrive under readable names
    assert any(r["status_description"] for r in raw)
    assert not any(r.get("owner") for r in pretty)


def test_lines_sharing_a_key_are_all_kept(emulator: EmulatorServer) -> None:
    emulator.messangi.lines_per_day = 1500
    run = run_tap(mlog_config(emulator, start_date=TODAY.isoformat()))
    suffixed = [r for r in run.records["mlog_items"] if "-" in r["mlog_id"]]
    assert suffixed, "the emulator sends duplicate lines; each must get its own key"


@pytest.mark.slow
def test_killed_run_resumes_without_a_gap(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.messangi.lines_per_day = 200
    config = mlog_config(emulator, messangi_window_hours=2, messangi_max_concurrency=2)
    warehouse, state = run_until_killed(write_config(tmp_path, config), kill_after_states=25)
    warehouse.load(run_tap(config, state))
    assert_equal_to_truth(differences(warehouse, emulator, TODAY.replace(day=13), TODAY, MLOG))


@pytest.mark.slow
def test_a_refused_key_is_one_clear_line(emulator: EmulatorServer, tmp_path: Path) -> None:
    config = mlog_config(emulator, messangi_api_key="wrong-key-123456")
    done = run_cli(tmp_path, config)
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "refused" in line]
    assert "Messangi" in line
    assert "messangi_api_key" in line
    assert "wrong-key-123456" not in done.stderr + done.stdout
    assert emulator.messangi.api_key not in done.stderr + done.stdout


def test_a_report_too_big_is_split_until_it_fits(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.messangi.lines_per_day = 400
    # Under one channel's day, and under the per-response cap: only "too big" splits.
    emulator.messangi.max_report_lines = 150
    assert emulator.messangi.max_items_per_response > emulator.messangi.max_report_lines
    with caplog.at_level(logging.INFO):
        run = run_tap(mlog_config(emulator, start_date=TODAY.isoformat()))
    warehouse = Warehouse()
    warehouse.load(run)
    report = differences(warehouse, emulator, TODAY, TODAY, MLOG)
    assert_equal_to_truth(report)
    assert report["mlog_items"]["truth"] > 5 * 150 * 2
    splits = [r.getMessage() for r in caplog.records if "too large" in r.getMessage()]
    assert splits
    assert all("The size of the report is too big. Please contact support" in m for m in splits)
    assert any("(split depth 2)" in m for m in splits)  # recursively


def test_a_range_the_api_refuses_fails_with_its_explain(emulator: EmulatorServer) -> None:
    # The tap never sends more than 92 days; an API stricter than assumed still says why.
    emulator.messangi.max_range_days = 1
    config = mlog_config(
        emulator, messangi_window_hours=48, messangi_channels=["E"], messangi_max_concurrency=1
    )
    with pytest.raises(SourceError) as caught:
        run_tap(config)
    assert str(caught.value) == (
        "Messangi channel E, mlog_items 2026-01-13T00:00:00+00:00..2026-01-15T00:00:00+00:00: "
        "HTTP 400: The date range exceeds the allowed limit: 1"
    )
    assert emulator.status()["requests"]["messangi"] == 1  # not retried


def test_bodies_that_stay_malformed_fail_clearly(emulator: EmulatorServer) -> None:

    emulator.faults = FaultPlan(script=["malformed", "truncate", "malformed"])
    # One request at a time (one channel, one slot): the script's faults all meet it.
    config = mlog_config(
        emulator, max_retries=2, messangi_channels=["S"], messangi_max_concurrency=1
    )
    with pytest.raises(
        SourceError, match=r"Messangi channel S, mlog_items .*gave up after 3 tries"
    ):
        run_tap(config)
