"""Nothing the tap prints or logs holds a passcode, a key or a signature; TLS stays on.

Every test's output is also scanned at the end of the session (``tests/secret_scan.py``).
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_msgreports.client import WindowedReportStream
from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import FaultPlan
from tests.conftest import ROOT, TODAY, tap_config
from tests.harness import run_tap
from tests.processes import PYTEST, run_cli, run_recorded
from tests.secret_scan import ISSUERS, LOG_HANDLER, TRANSCRIPT, Leak, current_test, scan

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


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
    secrets = emulator.issued_secrets()  # the session's scan looks for these too, at the end
    assert sum("MoEngage signature" in what for what in secrets.values()) >= 4
    assert scan([("this run", (done.stdout + done.stderr).encode())], secrets).leaks == ()


def test_what_tests_print_and_log_reaches_the_session_scan(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults = FaultPlan(streams=["campaigns"], script=["500"])
    config = tap_config(emulator, only="clevertap", start_date=TODAY.isoformat())
    run_tap(config)  # in process: its retry warning goes through the logging handler
    assert run_cli(tmp_path, config).returncode == 0
    LOG_HANDLER.flush()
    kept = {label: data for label, data in TRANSCRIPT.outputs() if current_test() in label}
    assert any(label.endswith("in-process tap stdout") for label in kept)
    assert any(label.endswith("tap-msgreports stderr") for label in kept)
    log_lines = [data for label, data in kept.items() if label.endswith("log lines")]
    assert any(b"retrying in" in data for data in log_lines)
    assert emulator in ISSUERS.servers  # its secrets are looked for at the end


def test_the_scan_finds_a_secret_anywhere_and_names_it_without_showing_it() -> None:
    signature = "0123456789abcdef" * 4
    secrets = {
        "emu-0123456789abcdef": "CleverTap passcode of A",
        "emu-fedcba9876543210": "Messangi API key",
        signature: "MoEngage signature of F.zip",
        "key-1": "a fixed test key",
    }
    outputs = [
        ("quiet", b"nothing here, emu-0123 and 0123456789abcdef only"),
        ("loud", b"...xemu-0123456789abcdefx..."),
        ("url", b"GET /f?Signature=ff" + signature.upper().encode() + b"00&x=1"),
        ("both", b"emu-fedcba9876543210 " + signature.encode()),
    ]
    result = scan(outputs, secrets)
    assert result.leaks == (
        Leak("loud", "CleverTap passcode of A"),
        Leak("url", "MoEngage signature of F.zip"),
        Leak("both", "MoEngage signature of F.zip"),
        Leak("both", "Messangi API key"),
    )
    assert (result.outputs, result.secrets, result.too_short) == (4, 3, 1)
    assert "4 leaked" in result.summary()
    assert not [secret for secret in secrets if secret in result.summary()]


def test_a_leak_fails_the_whole_session(tmp_path: Path) -> None:
    leaking = tmp_path / "test_leak.py"
    leaking.write_text(
        "from tap_msgreports_emulator import EmulatorServer, World\n"
        "from tests.secret_scan import record_output\n\n"
        "def test_prints_a_passcode():\n"
        "    with EmulatorServer(World(seed=99)) as server:\n"
        "        passcode = server.tap_config()['clevertap_accounts'][0]['passcode']\n"
        "    record_output('a careless print', f'passcode={passcode}')\n"
    )
    done = run_recorded(
        [*PYTEST, "-p", "tests.conftest", str(leaking)],
        what="pytest of a leaking test",
        cwd=ROOT,
    )
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-2000:]
    assert "1 passed" in done.stdout
    assert "1 leaked" in done.stdout
    assert "LEAKED: CleverTap passcode of EMU-ACCT-0001 in" in done.stdout
    assert "a careless print" in done.stdout


def test_tls_certificates_are_always_verified() -> None:
    config = {"messangi_api_url": "https://api.example.com", "messangi_api_key": "k-1234567890"}
    for stream in TapMsgReports(config=config).streams.values():
        assert isinstance(stream, WindowedReportStream)
        assert stream.requests_session.verify is True
    assert not [name for name in TapMsgReports.config_jsonschema["properties"] if "verify" in name]
