"""Nothing the tap prints or logs holds a passcode, a key or a signature; TLS stays on."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_msgreports.emulator import FaultPlan
from tap_msgreports.moengage.files import file_name
from tap_msgreports.tap import TapMsgReports
from tests.conftest import TODAY, tap_config
from tests.test_cli_runs import run_cli

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports.emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def secrets_of(config: dict[str, t.Any], emulator: EmulatorServer) -> set[str]:
    """Every secret the run used: passcodes, keys, and each file's MoEngage signature."""
    found = {account["passcode"] for account in config["clevertap_accounts"]}
    found |= {config["messangi_api_key"], config["moengage_secret_key"]}
    days = [TODAY - dt.timedelta(days=n) for n in range(10)]
    found |= {
        emulator.moengage.signature(file_name(report, day))
        for report in config["moengage_reports"]
        for day in days
    }
    return found


@pytest.mark.parametrize("place", ["header", "query"])
def test_no_secret_in_any_output_even_at_debug_with_faults(
    emulator: EmulatorServer, tmp_path: Path, place: str
) -> None:
    emulator.messangi.lines_per_day = 10
    emulator.faults = FaultPlan(
        rates={"429": 0.2, "500": 0.1, "drop": 0.05, "truncate": 0.05, "malformed": 0.05}
    )
    config = tap_config(
        emulator,
        start_date=(TODAY - dt.timedelta(days=4)).isoformat(),
        max_retries=10,
        moengage_signature_in=place,
    )
    done = run_cli(tmp_path, config, {"TAP_MSGREPORTS_LOGLEVEL": "DEBUG"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "retrying in" in done.stderr  # faults were logged: the scan covers retry lines
    secrets = secrets_of(config, emulator)
    assert len(secrets) > 20
    leaked = [secret for secret in secrets if secret in done.stdout or secret in done.stderr]
    assert leaked == []


def test_tls_certificates_are_always_verified() -> None:
    config = {"messangi_api_url": "https://api.example.com", "messangi_api_key": "k-1234567890"}
    for stream in TapMsgReports(config=config).streams.values():
        assert stream.requests_session.verify is True
    assert not [name for name in TapMsgReports.config_jsonschema["properties"] if "verify" in name]
