"""Every kind of setting reaches the tap through Meltano, from the environment too."""

from __future__ import annotations

import json
import subprocess
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


def test_decimal_integer_boolean_and_array_settings_pass_from_the_environment(
    meltano: Path, emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = {
        key: value
        for key, value in emulator.tap_config().items()
        if key.startswith("clevertap_") or not key.startswith(VENDOR_PREFIXES)
    } | {
        "backoff_initial_seconds": 0.5,  # Meltano 4.4 crashed on these as `kind: decimal`
        "backoff_max_seconds": 2.5,
        "max_retries": 3,
        "clevertap_daily": True,
        "clevertap_channels": ["push", "email"],
    }
    # The config file Meltano writes for the tap holds the passcodes: not for the secret scan.
    done = subprocess.run(
        [str(meltano), "invoke", "--dump=config", "tap-msgreports"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env=plugin_env(config) | private_meltano_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    passed = json.loads(done.stdout)
    for name in ("max_retries", "clevertap_daily", "clevertap_channels", "clevertap_accounts"):
        assert passed[name] == config[name], name
    assert float(passed["backoff_initial_seconds"]) == 0.5
    assert float(passed["backoff_max_seconds"]) == 2.5
    discovered = run_recorded(
        [str(meltano), "invoke", "tap-msgreports", "--discover"],
        what="meltano invoke --discover",
        timeout=300,
        cwd=ROOT,
        env=plugin_env(config) | private_meltano_env(tmp_path),
    )
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    streams = {s["tap_stream_id"] for s in json.loads(discovered.stdout)["streams"]}
    assert streams == {"campaigns", "message_reports"}
