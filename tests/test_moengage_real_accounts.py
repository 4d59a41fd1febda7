"""MoEngage as a real account may behave: the file dated today - 7, and Basic auth.

The vendor refuses a report only when it is "older than 7 days", so the file dated today - 7
is still served; a workspace may demand Basic auth (workspace id, API key) besides the
signature, as public clients send it. Each run is against the emulator over simulated days.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import pytest

from tests.conftest import TODAY
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli
from tests.test_moengage_runs import ROWS, WEEK_AGO, bookmarks, daily_runs, moengage_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator
SEVEN_DAYS_AGO = TODAY - dt.timedelta(days=7)
YESTERDAY = TODAY - dt.timedelta(days=1)


def dates_read(warehouse: Warehouse, report: str = "Daily Push Report") -> set[str]:
    """The report dates of a report's rows in the warehouse."""
    return {
        key[1] for key in warehouse.tables.get("moengage_campaign_rows", {}) if key[0] == report
    }


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.message for r in caplog.records if r.levelno >= logging.WARNING and text in r.message]


# ----- the file dated today - 7 ----------------------------------------------------------------


def test_a_first_run_reads_the_file_dated_today_minus_7(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = moengage_config(emulator, start_date=(TODAY - dt.timedelta(days=30)).isoformat())
    with caplog.at_level(logging.INFO):
        run = run_tap(config)
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, SEVEN_DAYS_AGO, YESTERDAY, ROWS))
    assert SEVEN_DAYS_AGO.isoformat() in dates_read(warehouse)
    # No daily file skipped, no date lost (the weekly report has no file on most days).
    assert [m for m in warnings_about(caplog, "; skipped") if "Daily_Push_Report_" in m] == []
    assert warnings_about(caplog, "have expired") == []
    assert f"start_date {TODAY - dt.timedelta(days=30)} is before {SEVEN_DAYS_AGO}" in caplog.text


def test_a_run_after_six_days_without_one_reads_the_file_dated_today_minus_7(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = Warehouse()
    first = run_tap(moengage_config(emulator))
    warehouse.load(first)
    assert bookmarks(first)["Daily Push Report"] == YESTERDAY.isoformat()
    emulator.world.advance(7)  # six days pass without a run: TODAY is today - 7 now
    with caplog.at_level(logging.WARNING):
        late = run_tap(
            moengage_config(emulator, end_date=emulator.world.today.isoformat()), first.final_state
        )
    late_rows = Warehouse()
    late_rows.load(late)
    assert TODAY.isoformat() in dates_read(late_rows)
    assert warnings_about(caplog, "have expired") == []  # no date lost
    warehouse.load(late)
    emulator.world.advance(1)  # and the runs go on
    next_run = run_tap(
        moengage_config(emulator, end_date=emulator.world.today.isoformat()), late.final_state
    )
    warehouse.load(next_run)
    last = emulator.world.today - dt.timedelta(days=1)
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, last, ROWS))


def test_a_refused_file_dated_today_minus_7_is_a_warning_naming_it_and_skipped(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.moengage.served_days = 6  # the vendor's day runs ahead: today - 7 is too old
    config = moengage_config(emulator, start_date=SEVEN_DAYS_AGO.isoformat())
    with caplog.at_level(logging.INFO):
        run = run_tap(config)  # no failure
    (said,) = warnings_about(caplog, f"Daily_Push_Report_{SEVEN_DAYS_AGO:%Y%m%d}.zip")
    expired = f"the file of {SEVEN_DAYS_AGO} has expired (Requested report is older than 7 days)"
    assert f"{expired}; skipped" in said
    warehouse = Warehouse()
    warehouse.load(run)
    # Nothing of today - 7 (it would be "unexpected"), every later file.
    assert_equal_to_truth(
        differences(warehouse, emulator, TODAY - dt.timedelta(days=6), YESTERDAY, ROWS)
    )
    assert set(bookmarks(run).values()) == {YESTERDAY.isoformat()}


# ----- Basic auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "sent"), [(None, False), ("signature", False), ("signature+basic", True)]
)
def test_basic_auth_is_sent_only_with_signature_basic(
    emulator: EmulatorServer, mode: str | None, sent: bool
) -> None:
    config = moengage_config(emulator)
    if mode is not None:
        config["moengage_auth"] = mode
    assert run_tap(config).records["moengage_campaign_rows"]
    # Every download, discovery's probes too.
    assert len(emulator.moengage.basic_auth_given) > 10
    assert set(emulator.moengage.basic_auth_given) == {sent}


def test_signature_basic_reads_a_workspace_that_demands_basic_auth_exactly(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.moengage.require_basic_auth = True
    with caplog.at_level(logging.DEBUG):  # urllib3 and the SDK say the most at DEBUG
        warehouse = daily_runs(emulator, days=3, moengage_auth="signature+basic")
    last = emulator.world.today - dt.timedelta(days=1)
    assert_equal_to_truth(differences(warehouse, emulator, WEEK_AGO, last, ROWS))
    assert set(emulator.moengage.basic_auth_given) == {True}
    for secret in (emulator.moengage.basic_credentials(), emulator.moengage.secret_key):
        assert secret not in caplog.text


@pytest.mark.slow
def test_a_workspace_that_demands_basic_auth_refuses_the_signature_alone_naming_moengage_auth(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.moengage.require_basic_auth = True
    config = moengage_config(emulator)
    del config["moengage_auth"]  # the default: the signature alone
    done = run_cli(tmp_path, config)
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "refused the signature" in line]
    assert config["moengage_app_id"] in line
    assert "if both are right, set moengage_auth to signature+basic" in line
    # Discovery's probes, refused first, say so too.
    probes = [line for line in done.stderr.splitlines() if "no columns learnt" in line]
    assert probes
    assert all("HTTP 401" in probe and "moengage_auth" in probe for probe in probes)
    assert "Traceback" not in done.stderr
    for secret in (emulator.moengage.basic_credentials(), emulator.moengage.secret_key):
        assert secret not in done.stderr + done.stdout


@pytest.mark.slow
def test_an_unknown_moengage_auth_is_one_line_naming_the_setting(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    done = run_cli(tmp_path, moengage_config(emulator, moengage_auth="basic"))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    # One line names the setting; the SDK adds its "Config validation failed".
    (line,) = [line for line in errors if "moengage_auth" in line]
    assert [rest for rest in errors if rest != line] == [
        rest for rest in errors if rest.endswith("Config validation failed")
    ]
    assert "signature+basic" in line  # the values it takes
    assert "Traceback" not in done.stderr
    assert emulator.status()["requests"]["moengage"] == 0
