"""A target that dies mid-run under Meltano: the next run repeats rows, never skips them.

Meltano stores each STATE the target echoes, so after a failure it holds the state of the
last records the target committed. ``flaky_target.py`` commits at every STATE and dies
after a random number of records; the tap runs without lookback (a re-read of the past
would hide a bookmark written too early) on one simulated day (nothing changes between
the failed run and the next). For every seed, the rows committed over the failed run and
the resumed one must equal the emulator's truth.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shlex
import sys
import typing as t

import pytest
import yaml

from tap_msgreports_emulator import EmulatorServer, World
from tests.clock import LAUNCHER
from tests.conftest import TODAY
from tests.harness import PRIMARY_KEYS, Warehouse, assert_equal_to_truth, differences
from tests.processes import run_recorded

if t.TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
START = TODAY - dt.timedelta(days=5)
SEEDS = range(6)
FLAKY_TARGET = os.path.join(os.path.dirname(__file__), "flaky_target.py")  # noqa: PTH118, PTH120
STATE_ID = "dev:tap-msgreports-to-target-flaky"


def wrapper(path: Path, *command: str) -> str:
    """An executable file that runs ``command`` with this interpreter (Meltano needs a path)."""
    # Meltano drops PYTHONPATH from a plugin's environment: the wrapper keeps this process's.
    pythonpath = os.environ.get("PYTHONPATH")
    keep = f"PYTHONPATH={shlex.quote(pythonpath)} " if pythonpath else ""
    path.write_text(f'#!/bin/sh\n{keep}exec {sys.executable} {" ".join(command)} "$@"\n')
    path.chmod(0o755)
    return str(path)


class FlakyProject:
    """A Meltano project of the tap and the flaky target, in a temporary directory."""

    def __init__(self, meltano: Path, emulator: EmulatorServer, tmp: Path) -> None:
        self.meltano, self.emulator, self.tmp = meltano, emulator, tmp
        self.warehouse_file = tmp / "warehouse.json"
        config = {
            **emulator.tap_config(),
            "start_date": START.isoformat(),
            "end_date": TODAY.isoformat(),
            "clevertap_lookback_days": 0,
            "clevertap_track_open_days": False,
            "messangi_lookback_days": 0,
            "request_timeout": 10,
        }
        project = {
            "default_environment": "dev",
            "environments": [{"name": "dev"}],
            "project_id": "tap-msgreports-flaky-target",
            "plugins": {
                "extractors": [
                    {
                        "name": "tap-msgreports",
                        "namespace": "tap_msgreports",
                        # MoEngage file life counts from the emulator's today (tests/clock.py)
                        "executable": wrapper(
                            tmp / "tap", *LAUNCHER[1:], f"--today={emulator.world.today}"
                        ),
                        "capabilities": ["catalog", "discover", "state", "about"],
                        "config": config,
                    }
                ],
                "loaders": [
                    {
                        "name": "target-flaky",
                        "namespace": "target_flaky",
                        "executable": wrapper(tmp / "target", FLAKY_TARGET),
                    }
                ],
            },
        }
        (tmp / "meltano.yml").write_text(yaml.safe_dump(project))

    def meltano_command(self, *args: str, records_before_death: int | None = None) -> str:
        env = {
            **os.environ,
            "MELTANO_DATABASE_URI": f"sqlite:///{self.tmp / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONPATH": os.pathsep.join(sys.path),
            "FLAKY_WAREHOUSE": str(self.warehouse_file),
            "FLAKY_KEYS": json.dumps(PRIMARY_KEYS),
            "FLAKY_RECORDS_BEFORE_DEATH": str(records_before_death or ""),
        }
        done = run_recorded(
            [str(self.meltano), *args], what="meltano (flaky target)", cwd=self.tmp, env=env
        )
        if records_before_death is None:
            assert done.returncode == 0, done.stderr[-3000:]
        else:
            assert done.returncode != 0, "the target was to die"
            assert "refusing record" in done.stderr
        return done.stdout

    def run(self, records_before_death: int | None = None) -> None:
        self.meltano_command(
            "run", "tap-msgreports", "target-flaky", records_before_death=records_before_death
        )

    def stored_bookmarks(self) -> dict[str, t.Any]:
        text = self.meltano_command("state", "get", STATE_ID)
        bookmarks: dict[str, t.Any] = (
            json.loads(text or "{}").get("singer_state", {}).get("bookmarks", {})
        )
        return bookmarks

    def committed(self) -> Warehouse:
        warehouse = Warehouse()
        tables = json.loads(self.warehouse_file.read_text())
        for stream, rows in tables.items():
            keys = PRIMARY_KEYS[stream]
            warehouse.tables[stream] = {tuple(row[k] for k in keys): row for row in rows.values()}
        return warehouse


def total_records(project: FlakyProject) -> int:
    return sum(len(rows) for rows in project.committed().tables.values())


@pytest.fixture(scope="module")
def full_run_size(meltano: Path, tmp_path_factory: pytest.TempPathFactory) -> int:
    """How many records one whole run sends (to draw kill points from)."""
    with emulator() as server:
        project = FlakyProject(meltano, server, tmp_path_factory.mktemp("flaky-full"))
        project.run()
        return total_records(project)


def emulator() -> EmulatorServer:
    server = EmulatorServer(World(seed=5, today=TODAY, scale=3), max_lifetime=600)
    server.messangi.lines_per_day = 25
    server.moengage.rows_per_file = 30
    return server


@pytest.mark.parametrize("seed", SEEDS)
def test_a_target_dying_at_a_random_record_loses_nothing(
    meltano: Path, tmp_path: Path, full_run_size: int, seed: int
) -> None:
    death = random.Random(seed).randrange(1, full_run_size)  # noqa: S311 - a test's choice
    with emulator() as server:
        project = FlakyProject(meltano, server, tmp_path)
        project.run(records_before_death=death)
        partial = project.stored_bookmarks()
        project.run()
        warehouse = project.committed()
        report = differences(warehouse, server, START, TODAY, ("campaigns", "message_reports"))
        report |= differences(warehouse, server, START, TODAY, ("mlog_items",))
        files = START, TODAY - dt.timedelta(days=1)  # today's file is generated tomorrow
        report |= differences(warehouse, server, *files, ("moengage_campaign_rows",))
    assert_equal_to_truth(report)
    if death > full_run_size // 2:  # by then some streams were done: their state was stored
        assert partial, f"no state stored before record {death} of {full_run_size}"
