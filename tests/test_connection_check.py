"""The connection check: ``--check`` (one line per source partition) and ``--test``."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tap_msgreports.check import check_connections
from tap_msgreports.messangi.streams import MlogItemsStream
from tap_msgreports.tap import TapMsgReports
from tests.conftest import tap_config
from tests.loopback import serving
from tests.processes import run_cli

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer
    from tests.loopback import Handler

pytestmark = [pytest.mark.emulator]
WRONG = "wrong-passcode-123"


def checked(config: dict[str, t.Any]) -> list[str]:
    tap = TapMsgReports(config=config)
    return [outcome.line() for outcome in check_connections(tap.streams.values())]  # type: ignore[arg-type]


def test_check_passes_with_one_line_per_account_channel_and_report(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = tap_config(emulator, messangi_channels=["S", "E"])
    done = run_cli(tmp_path, config, arguments=["--check"])
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    partitions = len(config["clevertap_accounts"]) + 2 + len(config["moengage_reports"])
    assert len(lines) == partitions, lines
    assert all(line.startswith("OK: ") for line in lines), lines
    assert any("campaigns in the last 31 days" in line for line in lines)
    assert any("mlog lines in" in line for line in lines)
    assert any("newest file" in line for line in lines)
    assert " ERROR " not in done.stderr


def test_check_fails_for_refused_credentials_naming_the_account(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = tap_config(emulator, only="clevertap")
    config["clevertap_accounts"][0]["passcode"] = WRONG
    done = run_cli(tmp_path, config, arguments=["--check"])
    account = config["clevertap_accounts"][0]["account_id"]
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert account in failed[0]
    assert "clevertap_passcode" in failed[0]
    assert WRONG not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_check_shows_the_messangi_response_cap(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.messangi.lines_per_day = 24_000
    emulator.messangi.max_items_per_response = 50
    noon = dt.datetime.combine(emulator.world.today, dt.time(12), tzinfo=dt.timezone.utc)
    monkeypatch.setattr(MlogItemsStream, "now", lambda _: noon)
    lines = checked(tap_config(emulator, only="messangi", messangi_channels=["S"]))
    assert len(lines) == 1
    assert lines[0].startswith("OK: Messangi channel S:")
    assert "one response returned 50: the response cap is 50" in lines[0]


def test_check_fails_for_a_moengage_url_that_answers_404(
    emulator: EmulatorServer,
) -> None:
    def not_found(handler: Handler) -> None:
        handler.send_response(404)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        handler.wfile.write(b"<html>Not Found</html>")

    with serving(not_found) as server:
        config = tap_config(emulator, only="moengage", moengage_api_url=server.url)
        lines = checked(config)
    assert len(lines) == len(config["moengage_reports"])
    assert all(line.startswith("FAILED: MoEngage report") for line in lines), lines
    assert "HTTP 404" in lines[0]
    assert "moengage_api_url" in lines[0]


def test_tap_test_mode_passes_without_error_lines(emulator: EmulatorServer, tmp_path: Path) -> None:
    done = run_cli(tmp_path, tap_config(emulator), arguments=["--test"])
    assert done.returncode == 0, done.stderr
    assert '"type":"RECORD"' in done.stdout.replace(" ", "")
    assert " ERROR " not in done.stderr, done.stderr


def test_tap_test_mode_fails_in_one_line_for_refused_credentials(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = tap_config(emulator, only="clevertap")
    config["clevertap_accounts"][0]["passcode"] = WRONG
    done = run_cli(tmp_path, config, arguments=["--test"])
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "refused the credentials" in done.stderr
    assert WRONG not in done.stdout + done.stderr
