"""Every test has a time limit: a hang fails that test instead of stalling `make test`."""

from __future__ import annotations

import time
import typing as t

import pytest

from tests.conftest import ROOT
from tests.processes import PYTEST, run_recorded

if t.TYPE_CHECKING:
    from pathlib import Path

HANGING = """
import socket

from tests.harness import run_tap


def test_a_tap_run_that_never_gets_an_answer():
    # The server accepts and never answers: nine tries of 5 s each, 45 s at least.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        run_tap({
            "messangi_api_url": url,
            "messangi_api_key": "k-1234567890",
            "messangi_channels": ["S"],
            "start_date": "2026-01-19",
            "end_date": "2026-01-19",
            "request_timeout": 5,
            "max_retries": 8,
        })
"""


def test_every_test_has_a_default_time_limit(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) == 300


@pytest.mark.slow
def test_a_hanging_in_process_run_fails_its_test_in_time(tmp_path: Path) -> None:
    """Past the limit the stacks are printed and the run ends: no wait for the requests."""
    hanging = tmp_path / "test_hanging.py"
    hanging.write_text(HANGING)
    started = time.monotonic()
    done = run_recorded(
        [*PYTEST, "--timeout=2", str(hanging)],
        what="pytest of a hanging test",
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode != pytest.ExitCode.OK, done.stdout[-2000:]
    assert "Timeout" in done.stdout + done.stderr
    assert "test_a_tap_run_that_never_gets_an_answer" in done.stdout + done.stderr
    assert time.monotonic() - started < 60
