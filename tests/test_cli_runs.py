"""The tap as a process: killed and resumed, refused credentials, secrets never shown."""

from __future__ import annotations

import typing as t

import pytest

from tap_msgreports_emulator import FaultPlan
from tests.conftest import START, tap_config
from tests.harness import assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli, run_until_killed, write_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


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
