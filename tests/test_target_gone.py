"""A target that dies mid-run: the tap says so in one line and stops, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t

import pytest

from tests.conftest import tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_a_target_that_stops_reading_ends_the_run_in_one_line(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(emulator, only="messangi")))
    with subprocess.Popen(
        [sys.executable, "-m", "tap_msgreports.tap", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as tap:
        assert tap.stdout is not None
        tap.stdout.read(4096)  # the target reads a little, then dies
        tap.stdout.close()
        _, stderr = tap.communicate(timeout=120)
    text = stderr.decode()
    assert tap.returncode == 1
    assert "The target stopped reading this tap's output; see its error" in text
    assert "Traceback" not in text
    assert "Exception ignored" not in text
