"""The fault suite: every stream under 429 storms, 5xx, drops, truncation, garbage and
timeouts, and killed at random moments. The result must equal the truth every time.

Run with ``pytest -s tests/test_faults.py`` to see the report tables.
"""

from __future__ import annotations

import datetime as dt
import random
import typing as t

import pytest

from tap_msgreports.emulator import EmulatorServer, FaultPlan, World
from tests.conftest import TODAY, tap_config
from tests.harness import PRIMARY_KEYS, Warehouse, differences, run_tap
from tests.processes import run_until_killed, write_config

if t.TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
STREAMS = tuple(PRIMARY_KEYS)
START = TODAY - dt.timedelta(days=5)
STORMS = {
    "429 storm, no Retry-After": FaultPlan(rates={"429": 0.3}, seed=1),
    "429 storm, Retry-After 1": FaultPlan(rates={"429": 0.3}, retry_after=1, seed=2),
    "5xx 10%": FaultPlan(rates={"500": 0.05, "503": 0.05}, seed=3),
    "drops, truncation, garbage": FaultPlan(
        rates={"drop": 0.1, "truncate": 0.1, "malformed": 0.1}, seed=4
    ),
    "slower than the timeout": FaultPlan(rates={"slow": 0.1}, slow_seconds=1.5, seed=5),
}


def small_emulator(seed: int) -> EmulatorServer:
    server = EmulatorServer(World(seed=seed, today=TODAY, scale=2), max_lifetime=300)
    server.messangi.lines_per_day = 20
    server.moengage.rows_per_file = 30
    return server


def fast_config(server: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    defaults = {
        "start_date": START.isoformat(),
        "request_timeout": 1,
        "max_retries": 12,
        "backoff_max_seconds": 0.3,
        "clevertap_report_window_days": 2,
        "clevertap_campaign_window_days": 3,
        "messangi_window_hours": 12,
    }
    return tap_config(server, **{**defaults, **changes})


def report_line(name: str, server: EmulatorServer, warehouse: Warehouse) -> dict[str, t.Any]:
    status = server.status()
    rows = {s: differences(warehouse, server, *window_of(s, server), (s,))[s] for s in STREAMS}
    return {
        "case": name,
        "requests": sum(status["requests"].values()),
        "faults injected": sum(status["faults_injected"].values()),
        "rows": sum(r["truth"] for r in rows.values()),
        "missing": sum(r["missing"] for r in rows.values()),
        "stale": sum(r["stale"] for r in rows.values()),
        "unexpected": sum(r["unexpected"] for r in rows.values()),
    }


def window_of(stream: str, server: EmulatorServer) -> tuple[dt.date, dt.date]:
    if stream == "moengage_campaign_rows":  # files live 7 days; today's is not generated yet
        return TODAY - dt.timedelta(days=5), server.world.today - dt.timedelta(days=1)
    return START, server.world.today


def show(lines: list[dict[str, t.Any]]) -> None:
    print()  # noqa: T201 - the report is the point of `pytest -s`
    for line in lines:
        print("  ".join(f"{k}: {v}" for k, v in line.items()))  # noqa: T201


@pytest.mark.parametrize("name", list(STORMS))
def test_every_stream_survives_the_faults(name: str) -> None:
    with small_emulator(seed=20) as server:
        server.faults = STORMS[name]
        warehouse = Warehouse()
        warehouse.load(run_tap(fast_config(server)))
        line = report_line(name, server, warehouse)
    show([line])
    assert line["faults injected"] > 0
    assert (line["missing"], line["stale"], line["unexpected"]) == (0, 0, 0), line


@pytest.mark.parametrize("seed", range(10))
def test_killed_at_a_random_moment_then_resumed(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)  # noqa: S311 - a test's dice
    with small_emulator(seed=100 + seed) as server:
        server.faults = FaultPlan(latency_ms=2, rates={"429": 0.05, "500": 0.05}, seed=seed)
        config = fast_config(
            server, clevertap_report_window_days=1, clevertap_campaign_window_days=1
        )
        warehouse, state = run_until_killed(write_config(tmp_path, config), rng.randint(2, 60))
        server.world.advance(rng.randint(0, 1))  # sometimes a day passes before the rerun
        config["end_date"] = server.world.today.isoformat()
        warehouse.load(run_tap(config, state))
        line = report_line(f"kill seed {seed}", server, warehouse)
    show([line])
    assert (line["missing"], line["stale"], line["unexpected"]) == (0, 0, 0), line
