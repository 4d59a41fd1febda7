"""`meltano config test tap-msgreports`: the Meltano way to check settings before a first run.

Meltano runs the tap and passes once a RECORD arrives (it then stops the tap); with refused
credentials the tap's one-line error is what Meltano shows.
"""

from __future__ import annotations

import typing as t

import pytest

from tests.conftest import VENDOR_PREFIXES
from tests.e2e.conftest import ROOT
from tests.e2e.meltano_env import plugin_env, private_meltano_env
from tests.processes import run_recorded

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]
WRONG = "wrong-passcode-123"


def clevertap_config(emulator: EmulatorServer) -> dict[str, t.Any]:
    """The emulator's CleverTap settings, as a user would set them."""
    return {
        key: value
        for key, value in emulator.tap_config().items()
        if key.startswith("clevertap_") or not key.startswith(VENDOR_PREFIXES)
    }


def config_test(meltano: Path, config: dict[str, t.Any], workdir: Path) -> tuple[int, str]:
    done = run_recorded(
        [str(meltano), "config", "test", "tap-msgreports"],
        what="meltano config test",
        timeout=300,
        cwd=ROOT,
        env=plugin_env(config) | private_meltano_env(workdir),
    )
    return done.returncode, done.stdout + done.stderr


def test_config_test_passes_with_working_credentials_without_error_lines(
    meltano: Path, emulator: EmulatorServer, tmp_path: Path
) -> None:
    status, output = config_test(meltano, clevertap_config(emulator), tmp_path)
    assert status == 0, output[-3000:]
    assert "Plugin configuration is valid" in output
    assert "error" not in output.lower(), output[-3000:]


def test_config_test_fails_naming_the_account_and_setting(
    meltano: Path, emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = clevertap_config(emulator)
    account = config["clevertap_accounts"][0]
    account["passcode"] = WRONG
    status, output = config_test(meltano, config, tmp_path)
    assert status != 0
    assert f"refused the credentials of account {account['account_id']}" in output, output
    assert "clevertap_passcode" in output
    assert WRONG not in output
