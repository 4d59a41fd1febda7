"""CleverTap's "busy" 429 (no Retry-After: too many requests in flight) is retried soon.

A tap run against the emulator, whose CleverTap 429 fault comes without Retry-After, like
the real API's: the run ends equal to the truth, and every wait after a busy answer, read
from the retry log lines, is short although the backoff starts long.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import typing as t

import pytest

from tap_msgreports.retries import BUSY_SHORT_WAITS, BUSY_WAIT_SECONDS
from tap_msgreports_emulator import EmulatorServer, FaultPlan, World
from tap_msgreports_emulator.world import DEFAULT_ACCOUNTS
from tests.conftest import TODAY, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.emulator
START = TODAY - dt.timedelta(days=6)
RETRYING = re.compile(r"retrying in ([0-9.]+) s")
#: Busy answers in a row, as many as get the short wait, then an answer; twice over.
SCRIPT = (["429"] * (BUSY_SHORT_WAITS - 1) + ["200-429", "ok"]) * 2
#: Backoff alone would wait 1-2, 2-4 and 4-8 s for three failures in a row.
SLOW_BACKOFF = {"backoff_initial_seconds": 2.0, "backoff_max_seconds": 30.0}


def retry_waits_logged(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The waits of the retry log lines ("...; retrying in 1.2 s"), in order."""
    found = (RETRYING.search(record.getMessage()) for record in caplog.records)
    return [float(match.group(1)) for match in found if match]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """One account: its requests alone meet the script, in order."""
    world = World(seed=7, today=TODAY, scale=6, accounts=DEFAULT_ACCOUNTS[:1])
    with EmulatorServer(world, max_lifetime=300) as server:
        yield server


def test_busy_429s_are_retried_after_short_waits_and_the_run_is_exact(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = tap_config(
        emulator,
        only="clevertap",
        start_date=START.isoformat(),
        clevertap_max_concurrency=1,  # one request at a time: the script's order is its order
        clevertap_report_window_days=1,
        **SLOW_BACKOFF,
    )
    emulator.faults = FaultPlan(streams=["message_reports"], script=list(SCRIPT))
    caplog.set_level(logging.WARNING)
    warehouse = Warehouse()
    warehouse.load(run_tap(config))
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))
    waits = retry_waits_logged(caplog)
    assert len(waits) == len(SCRIPT) - SCRIPT.count("ok"), waits
    low, high = BUSY_WAIT_SECONDS
    assert all(low <= wait <= high for wait in waits), waits
    injected = [entry.fault for entry in emulator.request_log() if entry.fault]
    assert sorted(injected) == sorted(kind for kind in SCRIPT if kind != "ok")
