"""A throwaway PostgreSQL server on 127.0.0.1, for end-to-end tests.

It lives in a temporary directory and is stopped (fast) when the test session ends. As
root, the server runs as the ``postgres`` user that the Debian package creates.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path

if t.TYPE_CHECKING:
    from collections.abc import Iterator

SUPERUSER = "tap"


def find_bindir() -> str | None:
    """The directory of ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    if found := shutil.which("pg_ctl"):
        return str(Path(found).resolve().parent)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return str(candidates[-1].parent) if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """Where the server listens, and how to query it."""

    bindir: str
    port: int
    database: str = "postgres"
    user: str = SUPERUSER

    @property
    def env(self) -> dict[str, str]:
        """Settings of target-postgres for this server."""
        return {
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": "",
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def execute(self, sql: str) -> None:
        """Run statements that return nothing."""
        self._psql(sql)

    def query(self, sql: str) -> t.Any:
        """Run one query returning one JSON value (e.g. ``SELECT json_agg(t) FROM t``)."""
        text = self._psql(sql).strip()
        return json.loads(text) if text else None

    def _psql(self, sql: str) -> str:
        connection = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", self.database]
        done = subprocess.run(
            [
                f"{self.bindir}/psql",
                *connection,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode:
            msg = f"psql failed: {done.stderr.strip()}"
            raise RuntimeError(msg)
        return done.stdout


def _as_postgres(command: list[str]) -> list[str]:
    """Run as the postgres user when we are root (the server refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def running_server(bindir: str, workdir: Path) -> Iterator[Server]:
    """Initialise and start a server in ``workdir``; stop it on exit."""
    data = workdir / "data"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    data.chmod(0o700)
    subprocess.run(
        _as_postgres(
            [f"{bindir}/initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c full_page_writes=off"
    pg_ctl = [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "-w"]
    subprocess.run(
        _as_postgres([*pg_ctl, "-o", options, "start"]),
        check=True,
        timeout=120,
        capture_output=True,
    )
    try:
        yield Server(bindir=bindir, port=port)
    finally:
        subprocess.run(
            _as_postgres([*pg_ctl, "-m", "immediate", "stop"]),
            check=False,
            timeout=60,
            capture_output=True,
        )
