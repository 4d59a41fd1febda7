"""Shared fixtures: an emulator per test, and a tap config pointing at it."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_msgreports.emulator import EmulatorServer, World
from tap_msgreports.moengage.client import MoEngageStream
from tests.clock import emulator_now

#: A fixed simulated today, so that windows cross a year boundary (start dates without a
#: year must take the right one) and runs are reproducible.
TODAY = dt.date(2026, 1, 20)
START = dt.date(2025, 11, 20)


VENDOR_PREFIXES = ("clevertap_", "messangi_", "moengage_")


_CLOCK = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    """MoEngage file life counts from the tap's today: make it the emulator's (tests/clock.py).

    From the start of the session: the SDK's standard tests discover at collection.
    """
    del config
    _CLOCK.setattr(MoEngageStream, "now", emulator_now)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give MoEngageStream its own clock back."""
    del config
    _CLOCK.undo()


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
