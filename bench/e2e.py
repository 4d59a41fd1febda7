"""Figure 4, end to end: ``meltano run tap-msgreports target-postgres`` against the load alone.

Usage: .venv/bin/python bench/e2e.py [--repeats N]

About 200,000 Messangi lines (the emulator and windows of figure 1: five channels, four days,
six-hour windows, no window split) go into a throwaway PostgreSQL server (tests/e2e/postgres.py)
with the project's own target-postgres settings (meltano.yml: COPY, no validation, upsert), the
settings given as in tests/e2e/test_postgres.py (``Pipeline.env``).

- **run**: ``meltano --environment=emulator run --full-refresh tap-msgreports target-postgres``
  (``--full-refresh``: every run reads everything, whatever state an earlier run saved).
- **load**: the tap's output recorded once (``meltano invoke tap-msgreports > file``, not
  timed), then ``meltano --environment=emulator invoke target-postgres < file``.

Why ``meltano invoke`` for the load and not the plugin's bare executable with a config file:
both sides then pay the same Meltano start-up (project, settings and environment resolution,
some 3-4 s, sdk-notes section 3) and hand the target exactly the same settings (meltano.yml,
the emulator environment, the TARGET_POSTGRES_* variables), so the ratio shows what extracting
adds to loading: the tap's own work, the pipe, and ``meltano run``'s state handling. The bare
executable would charge Meltano's fixed start-up to the tap and measure Meltano instead.

The schema is dropped before every timed run, so both sides load into empty tables, and after
each the table must hold every line. Repeats are interleaved; the figure compares medians.

Meltano's own files are kept apart from the project's (tests/e2e/meltano_env.py): a
``make test`` running at the same time would otherwise rewrite the same catalog and config
files under this benchmark's feet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import typing as t
from pathlib import Path

import common
import throughput

from tests.e2e.meltano_env import plugin_env, private_meltano_env
from tests.e2e.postgres import Server, find_bindir, running_server

MELTANO = common.ROOT / ".tools" / "meltano" / "bin" / "meltano"
PLUGINS = ("tap-msgreports", "target-postgres")
ENVIRONMENT = "--environment=emulator"
SCHEMA = "bench_msgreports"
REPEATS = 3
GOAL = 1.15  # issue 16 (1.3 before)
TIMEOUT = 900  # per Meltano command


def pipeline_env(config: dict[str, t.Any], postgres: Server, workdir: Path) -> dict[str, str]:
    """The variables of tests/e2e/test_postgres.py's ``Pipeline.env``, for this config.

    Meltano's system database and run files go under ``workdir`` (see the module's docstring).
    """
    return {
        **plugin_env(config),
        **postgres.env,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
        **private_meltano_env(workdir),
    }


def measure(repeats: int = REPEATS) -> common.Figure:
    """Run figure 4 and return its row (``met`` None when PostgreSQL or Meltano is missing)."""
    bindir = find_bindir()
    missing = [
        what
        for what, there in (
            ("PostgreSQL (initdb, pg_ctl)", bindir is not None),
            (f"Meltano ({MELTANO.relative_to(common.ROOT)})", MELTANO.exists()),
        )
        if not there
    ]
    if missing or bindir is None:
        return common.Figure(
            figure="4 end to end, meltano run / load alone",
            tap="skipped",
            baseline="skipped",
            ratio=None,
            goal=f"<= {GOAL}",
            met=None,
            details=[f"end to end: skipped, missing {' and '.join(missing)}"],
        )
    common.compile_tap()  # installed with -e: its bytecode is this checkout's
    common.log("end to end: meltano install " + " ".join(PLUGINS))
    common.run_process(
        [str(MELTANO), "install", *PLUGINS],
        timeout=TIMEOUT,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    # Not a private temp dir: as root the server runs as the postgres user, which must reach it.
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        with running_server(bindir, workdir / "server") as postgres:
            return _measure(postgres, workdir, repeats)


def _measure(postgres: Server, workdir: Path, repeats: int) -> common.Figure:
    today = common.emulator_today()
    first_day = today - dt.timedelta(days=throughput.DAYS - 1)
    per_day, expected = throughput.lines_per_day_for(
        throughput.TARGET_LINES, first_day, throughput.DAYS
    )
    with common.emulator(cache=True) as server:
        server.messangi.lines_per_day = per_day
        server.messangi.max_items_per_response = throughput.MAX_ITEMS
        config = common.source_config(
            server,
            "messangi_",
            messangi_window_hours=throughput.WINDOW_HOURS,
            start_date=first_day.isoformat(),
            end_date=today.isoformat(),
        )
        env = pipeline_env(config, postgres, workdir)
        recording = workdir / "recording.jsonl"
        common.log(f"end to end: recording the tap's output ({expected:,} lines, not timed)")
        meltano = [str(MELTANO), ENVIRONMENT]
        common.run_process(
            [*meltano, "invoke", "tap-msgreports"], timeout=TIMEOUT, stdout=recording, env=env
        )
        records = common.count_records(recording)

        def loaded(side: str, command: list[str], stdin: Path | None = None) -> float:
            postgres.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            seconds = common.run_process(command, timeout=TIMEOUT, stdin=stdin, env=env).seconds
            rows = postgres.query(f"SELECT count(*) FROM {SCHEMA}.mlog_items")  # noqa: S608
            if rows != records:
                msg = f"end to end ({side}): {rows} rows loaded, {records} records recorded"
                raise common.BenchError(msg)
            return seconds

        run = [*meltano, "run", "--full-refresh", *PLUGINS]
        load = [*meltano, "invoke", "target-postgres"]
        samples = common.interleaved(
            {"run": lambda: loaded("run", run), "load": lambda: loaded("load", load, recording)},
            repeats,
            progress=common.log,
        )
        postgres.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    run_seconds, load_seconds = common.median(samples["run"]), common.median(samples["load"])
    ratio = run_seconds / load_seconds
    return common.Figure(
        figure=f"4 end to end, {records:,} lines, meltano run / load alone",
        tap=f"{run_seconds:.1f} s",
        baseline=f"{load_seconds:.1f} s",
        ratio=ratio,
        goal=f"<= {GOAL}",
        met=ratio <= GOAL,
        details=[
            (
                f"end to end: meltano run {common.samples_text(samples['run'])}; "
                "meltano invoke target-postgres < recording "
                f"{common.samples_text(samples['load'])} "
                f"({records:,} records, {recording.stat().st_size / 1e6:.0f} MB of Singer messages)"
            ),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    common.print_figures([measure(args.repeats)])


if __name__ == "__main__":
    main()
