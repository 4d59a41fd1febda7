"""The seam that gives the tap the emulator's today: the tap itself has no hook for it."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import typing as t
import venv

import pytest

from tap_msgreports_emulator.clock import (
    PTH_LINE,
    SEAM_VARIABLE,
    emulator_today,
    install_seam,
    seam_env,
)
from tests.clock import LAUNCHER, tap_command

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

#: What a process prints about the tap's MoEngage clock, and whether it imported the tap before.
PROBE = """
import sys
before = "tap_msgreports" in sys.modules
from tap_msgreports.moengage.client import MoEngageStream
print(before, MoEngageStream.now.__name__)
"""


def moengage_url(server: EmulatorServer) -> str:
    return str(server.tap_config()["moengage_api_url"])


def test_the_emulator_today_follows_its_advances(emulator: EmulatorServer) -> None:
    assert emulator_today(moengage_url(emulator)) == emulator.world.today
    emulator.world.advance(2)
    assert emulator_today(moengage_url(emulator) + "/") == emulator.world.today


def test_only_an_emulator_on_this_machine_is_asked() -> None:
    assert emulator_today("https://api-01.moengage.com") is None  # never asked: not loopback
    assert emulator_today("") is None
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert emulator_today(f"http://127.0.0.1:{port}") is None  # nothing answers


@pytest.mark.parametrize("switched_on", [True, False])
def test_the_seam_of_a_tap_venv_moves_the_clock_when_the_environment_names_it(
    switched_on: bool,
) -> None:
    # What site.py does with the .pth line at start-up, then what the tap does.
    env = {k: v for k, v in os.environ.items() if k != SEAM_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", PTH_LINE + PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**env, **(seam_env() if switched_on else {})},
    )
    # Nothing of the tap imported before the tap does it (pip runs in that venv too).
    clock = "once_per_process_now" if switched_on else "now"
    assert done.stdout.split() == ["False", clock]


def test_the_seam_goes_into_a_venv_site_packages(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=False)
    pth = install_seam(tmp_path / "venv" / "bin" / "python")
    assert pth.parent.name == "site-packages"
    assert pth.is_relative_to(tmp_path / "venv")
    assert pth.read_text(encoding="utf-8") == PTH_LINE
    assert install_seam(tmp_path / "venv" / "bin" / "python") == pth  # again: the same file


@pytest.mark.parametrize("today", [dt.date(2026, 1, 20), None])
def test_the_launcher_moves_the_clock_when_told_to(today: dt.date | None) -> None:
    # The launcher as it is, with the tap's CLI replaced by a look at the clock it was given.
    probe = (
        "import sys\n"
        "from tap_msgreports.moengage.client import MoEngageStream\n"
        "from tap_msgreports.tap import TapMsgReports\n"
        "from tap_msgreports_emulator.clocked_tap import main\n"
        "TapMsgReports.cli = lambda: print(MoEngageStream.now(None).date(), *sys.argv[1:])\n"
        "main()\n"
    )
    option = [f"--today={today.isoformat()}"] if today else []
    done = subprocess.run(
        [sys.executable, "-c", probe, *option, "--config", "c.json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    day, *arguments = done.stdout.split()
    expected = today or dt.datetime.now(dt.timezone.utc).date()
    assert dt.date.fromisoformat(day) == expected
    assert arguments == ["--config", "c.json"]  # the tap's own arguments, as given


def test_a_tap_command_carries_the_emulator_today(emulator: EmulatorServer) -> None:
    command = tap_command(emulator.tap_config())
    assert command == [*LAUNCHER, f"--today={emulator.world.today.isoformat()}"]
    assert tap_command({"moengage_app_id": "A"}) == LAUNCHER  # the vendor: the real clock
