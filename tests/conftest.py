"""Shared fixtures: an emulator per test, and a tap config pointing at it.

Also the session's end: the secret scan over everything printed and logged, and the fault
suite's report, both in the terminal summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from pathlib import Path

import pytest

from tap_msgreports.moengage.client import MoEngageStream
from tap_msgreports_emulator import EmulatorServer, World
from tests.clock import emulator_now
from tests.e2e.report import FIGURES as E2E_FIGURES
from tests.fault_report import REPORT
from tests.hostile_report import REPORT as HOSTILE_REPORT
from tests.hostile_report import Attack
from tests.secret_scan import ISSUERS, LOG_HANDLER, ScanResult, scan_session

#: A fixed simulated today, so that windows cross a year boundary (start dates without a
#: year must take the right one) and runs are reproducible.
TODAY = dt.date(2026, 1, 20)
START = dt.date(2025, 11, 20)


VENDOR_PREFIXES = ("clevertap_", "messangi_", "moengage_")


_CLOCK = pytest.MonkeyPatch()


@pytest.fixture
def emulator() -> t.Iterator[EmulatorServer]:
    """A fresh emulator on loopback that stops by itself if a test forgets it."""
    with EmulatorServer(World(seed=7, today=TODAY, scale=6), max_lifetime=300) as server:
        server.messangi.lines_per_day = 30  # per channel; tests that need volume raise it
        yield server


def tap_config(
    server: EmulatorServer, *, only: str | None = None, **changes: t.Any
) -> dict[str, t.Any]:
    """The emulator's config with the test's dates and fast retries.

    ``only="clevertap"`` (or another vendor) leaves the other vendors' settings out.
    """
    config = server.tap_config()
    if only:
        config = {
            key: value
            for key, value in config.items()
            if key.startswith(f"{only}_") or not key.startswith(VENDOR_PREFIXES)
        }
    return {
        **config,
        "start_date": START.isoformat(),
        "end_date": server.world.today.isoformat(),
        "request_timeout": 5,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.2,
        **changes,
    }


@pytest.fixture
def attack(request: pytest.FixtureRequest) -> t.Iterator[t.Callable[..., Attack]]:
    """Rows of the hostile-world table: ``attack(point, what, expected)``, then ``.observed``.

    Each row says at the end of the run whether its test passed.
    """
    rows: list[Attack] = []

    def add(point: str, what: str, expected: str) -> Attack:
        rows.append(row := Attack(point, what, expected))
        return row

    yield add
    report = getattr(request.node, "rep_call", None)
    for row in rows:
        row.held = report is not None and report.passed
        HOSTILE_REPORT.rows.append(row)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> t.Any:
    """Keep the call's report on the item, for :func:`attack` to read at teardown."""
    report = yield
    if call.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


# ----- session-wide: the secret scan and the fault report -----------------------------------

ROOT = Path(__file__).parent.parent
FAULT_REPORT_PATH = ROOT / "output" / "test-report" / "faults.md"
HOSTILE_REPORT_PATH = ROOT / "output" / "test-report" / "hostile.md"
E2E_REPORT_PATH = ROOT / "output" / "test-report" / "e2e.md"
SCAN_RESULT = pytest.StashKey[ScanResult]()


def pytest_configure(config: pytest.Config) -> None:
    """From the start of the session (the SDK's standard tests discover at collection).

    - MoEngage file life counts from the tap's today: make it the emulator's (tests/clock.py);
    - keep every log line of the session for the secret scan.
    """
    del config
    _CLOCK.setattr(MoEngageStream, "now", emulator_now)
    logging.getLogger().addHandler(LOG_HANDLER)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give MoEngageStream its own clock back; stop keeping log lines."""
    del config
    _CLOCK.undo()
    logging.getLogger().removeHandler(LOG_HANDLER)


@pytest.fixture(autouse=True, scope="session")
def _secrets_of_every_emulator_are_scanned_for() -> t.Iterator[None]:
    """Every emulator a test starts, however it makes it, takes part in the scan."""
    start = EmulatorServer.start

    def start_and_remember(server: EmulatorServer) -> EmulatorServer:
        ISSUERS.add(server)
        return start(server)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EmulatorServer, "start", start_and_remember)
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Scan what the session printed and logged; a leaked secret fails the session."""
    result = scan_session()
    session.config.stash[SCAN_RESULT] = result
    if result.leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if REPORT:
        FAULT_REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        FAULT_REPORT_PATH.write_text(REPORT.markdown(), encoding="utf-8")
    if HOSTILE_REPORT:
        HOSTILE_REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        HOSTILE_REPORT_PATH.write_text(HOSTILE_REPORT.markdown(), encoding="utf-8")


def pytest_terminal_summary(
    terminalreporter: t.Any, exitstatus: int, config: pytest.Config
) -> None:
    """Print the fault report (when fault cases ran), end-to-end figures, the secret scan."""
    if REPORT:
        terminalreporter.write_sep("=", "fault suite")
        for line in REPORT.markdown().splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also written to {FAULT_REPORT_PATH.relative_to(ROOT)})")
    if HOSTILE_REPORT:
        terminalreporter.write_sep("=", "hostile world")
        for line in HOSTILE_REPORT.markdown().splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also written to {HOSTILE_REPORT_PATH.relative_to(ROOT)})")
    if E2E_FIGURES:
        terminalreporter.write_sep("=", "end to end")
        for line in E2E_FIGURES:
            terminalreporter.write_line(line)
        E2E_REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        E2E_REPORT_PATH.write_text("".join(f"- {line}\n" for line in E2E_FIGURES))
    result = config.stash.get(SCAN_RESULT, None)
    if result is None:
        return
    terminalreporter.write_sep("=", "secret scan")
    terminalreporter.write_line(result.summary(), red=bool(result.leaks))
    for leak in result.leaks:
        terminalreporter.write_line(f"LEAKED: {leak.secret} in {leak.output}", red=True)
