"""End-to-end fixtures: a real PostgreSQL server and Meltano with the inline plugins.

In CI (``CI`` set) a missing component fails the test; elsewhere it is skipped with a
note of what to install.
"""

from __future__ import annotations

import os
import tempfile
import typing as t
from pathlib import Path

import pytest

from tests.clock import install_tap_seam
from tests.e2e.postgres import Server, find_bindir, running_server
from tests.processes import run_recorded

ROOT = Path(__file__).parent.parent.parent
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
PLUGINS = ("tap-msgreports", "target-postgres")


def missing(what: str) -> None:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; CI must install it (see .ci/run and the Makefile)")
    pytest.skip(f"{what} is missing (make test installs Meltano; PostgreSQL comes from apt)")


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[Server]:
    bindir = find_bindir()
    if bindir is None:
        missing("PostgreSQL (initdb, pg_ctl)")
    # Not pytest's tmp_path: its parents are private to root, and as root the server runs
    # as the postgres user, which must reach its data directory.
    with tempfile.TemporaryDirectory(prefix="tap-msgreports-pg-") as workdir:
        Path(workdir).chmod(0o755)
        with running_server(str(bindir), Path(workdir) / "server") as server:
            yield server


def install(meltano: Path, *plugins: str) -> None:
    """``meltano install`` these plugins of the project (idempotent); its output on failure."""
    done = run_recorded(
        [str(meltano), "install", *plugins],
        what="meltano install",
        timeout=900,
        cwd=ROOT,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert done.returncode == 0, f"meltano install {' '.join(plugins)}:\n{done.stderr[-3000:]}"
    if "tap-msgreports" in plugins:
        install_tap_seam(ROOT)  # its MoEngage clock can follow the emulator (tests/clock.py)


@pytest.fixture(scope="session")
def meltano() -> Path:
    if not MELTANO.exists():
        missing("Meltano (.tools/meltano)")
    install(MELTANO, *PLUGINS)
    return MELTANO
