"""The tap as a process: killed and resumed, refused credentials, secrets never shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import typing as t

import pytest

from tap_msgreports.emulator import FaultPlan
from tests.clock import clock_env
from tests.conftest import START, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, parse_messages, run_tap

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports.emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
TAP = [sys.executable, "-m", "tap_msgreports.tap"]


def write_config(tmp_path: Path, config: dict[str, t.Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_cli(
    tmp_path: Path, config: dict[str, t.Any], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the tap as a process on ``config``, to its end."""
    return subprocess.run(
        [*TAP, "--config", str(write_config(tmp_path, config))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **clock_env(config), **(env or {})},
    )


def run_until_killed(config: Path, kill_after_states: int) -> tuple[Warehouse, dict[str, t.Any]]:
    """Run the tap, SIGKILL it after some STATE messages; keep what a target would commit.

    A target commits records when it receives the STATE that follows them, so records
    after the last STATE are dropped here: the harshest honest reading of a kill.
    """
    warehouse, pending, state = Warehouse(), [], None
    states = 0
    with subprocess.Popen(
        [*TAP, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **clock_env(json.loads(config.read_text()))},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            message = json.loads(line)
            pending.append(message)
            if message["type"] == "STATE":
                warehouse.load(parse_messages("\n".join(json.dumps(m) for m in pending)))
                pending, state, states = [], message["value"], states + 1
                if states == kill_after_states:
                    process.send_signal(signal.SIGKILL)
                    break
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the tap ended before it was killed"
    assert state is not None
    return warehouse, state


@pytest.mark.parametrize("kill_after_states", [3, 40, 120])
def test_killed_run_resumes_from_its_last_state_without_a_gap(
    emulator: EmulatorServer, tmp_path: Path, kill_after_states: int
) -> None:
    emulator.faults = FaultPlan(latency_ms=5)
    config = tap_config(
        emulator, only="clevertap", clevertap_report_window_days=1, clevertap_campaign_window_days=1
    )
    warehouse, state = run_until_killed(write_config(tmp_path, config), kill_after_states)
    resumed = run_tap(config, state)
    warehouse.load(resumed)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))


def test_refused_passcode_is_one_clear_line(emulator: EmulatorServer, tmp_path: Path) -> None:
    config = tap_config(emulator, only="clevertap")
    account = config["clevertap_accounts"][1]
    real_passcode = account["passcode"]
    account["passcode"] = "wrong-passcode-123"
    done = run_cli(tmp_path, config)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "refused the credentials" in line]
    assert len(errors) == 1
    assert account["account_id"] in errors[0]
    assert "CleverTap" in errors[0]
    assert "clevertap_passcode" in errors[0]
    assert "Traceback" not in done.stderr
    for secret in (
        "wrong-passcode-123",
        real_passcode,
        config["clevertap_accounts"][0]["passcode"],
    ):
        assert secret not in done.stderr + done.stdout


def test_secrets_never_appear_in_output_or_logs(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.faults = FaultPlan(rates={"429": 0.2, "500": 0.1, "drop": 0.05, "malformed": 0.05})
    config = tap_config(emulator, only="clevertap", max_retries=10)
    done = run_cli(tmp_path, config, {"TAP_MSGREPORTS_LOGLEVEL": "DEBUG"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "retrying in" in done.stderr  # the faults were logged, so the scan means something
    passcodes = [account["passcode"] for account in config["clevertap_accounts"]]
    assert all(len(passcode) >= 8 for passcode in passcodes)
    for passcode in passcodes:
        assert passcode not in done.stdout
        assert passcode not in done.stderr
