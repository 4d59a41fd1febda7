"""The seam that gives the tap the emulator's today: the tap itself has no hook for it."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import typing as t

from tap_msgreports.moengage.client import MoEngageStream
from tap_msgreports_emulator.clock import config_url, emulator_today, seam_env

if t.TYPE_CHECKING:
    from pathlib import Path

    import pytest

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


def test_the_config_url_is_read_from_the_tap_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"moengage_api_url": "http://127.0.0.1:1"}))
    assert config_url(["--config", str(config), "--discover"]) == "http://127.0.0.1:1"
    assert config_url([f"--config={config}"]) == "http://127.0.0.1:1"
    assert config_url(["--config", str(tmp_path / "missing.json")]) == ""
    monkeypatch.setenv("TAP_MSGREPORTS_MOENGAGE_API_URL", "http://127.0.0.1:2")
    assert config_url(["--config=ENV"]) == "http://127.0.0.1:2"
    assert config_url(["--about"]) == ""


def test_the_tap_keeps_the_real_clock_unless_a_seam_moves_it() -> None:
    assert MoEngageStream.today.__qualname__ == "MoEngageStream.today"
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "now"]


def test_the_seam_on_pythonpath_moves_the_clock_of_a_tap_meltano_starts() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **seam_env()},
    )
    # Nothing imported before the tap does it (Meltano and the targets see the seam too).
    assert done.stdout.split() == ["False", "once_per_process_now"]


def test_a_tap_process_started_by_the_launcher_reads_by_the_emulator_today(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(emulator.tap_config()))
    # The launcher as it is, with the tap's CLI replaced by a look at the clock it was given.
    probe = (
        "from tap_msgreports.moengage.client import MoEngageStream\n"
        "from tap_msgreports.tap import TapMsgReports\n"
        "from tap_msgreports_emulator.clocked_tap import main\n"
        "TapMsgReports.cli = lambda: print(MoEngageStream.now(None).date())\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert dt.date.fromisoformat(done.stdout.strip()) == emulator.world.today
