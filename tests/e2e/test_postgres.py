"""meltano run tap-msgreports target-postgres, day after day, into a real PostgreSQL server.

Every table must end equal to the emulator's truth: the same keys, current values, no
duplicates, with the column types a warehouse user expects. Meltano's own state store
carries the bookmarks from run to run, as in production.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import typing as t

import pytest

from tap_msgreports.emulator import EmulatorServer, World
from tap_msgreports.moengage.settings import EMULATOR_TODAY_VARIABLE
from tests.conftest import TODAY
from tests.e2e.conftest import ROOT
from tests.harness import PRIMARY_KEYS, truth_rows
from tests.processes import run_recorded

if t.TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from tests.e2e.postgres import Server

# The first test also waits for `meltano install` (up to 15 minutes, see conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]
# The SQL below is built from this module's constants only.
# ruff: noqa: S608
SCHEMA = "msgreports"
START = TODAY - dt.timedelta(days=12)
STREAMS = tuple(PRIMARY_KEYS)
EXPECTED_TYPES = {
    ("campaigns", "id"): "bigint",
    ("campaigns", "scheduled_on"): "bigint",
    # target-postgres 0.8.1 maps date-time to a timestamp without zone; the tap emits UTC.
    ("campaigns", "scheduled_at"): "timestamp without time zone",
    ("message_reports", "sent"): "bigint",
    ("message_reports", "data"): "jsonb",
    ("message_reports", "labels"): "jsonb",
    ("mlog_items", "date"): "timestamp without time zone",
    ("mlog_items", "template_parameters"): "jsonb",
    ("mlog_items", "campaignid"): "text",
    ("moengage_campaign_rows", "report_date"): "date",
    ("moengage_campaign_rows", "row_number"): "bigint",
    ("moengage_campaign_rows", "all_platform_sent"): "text",
}


class Pipeline:
    """The emulator, a Meltano project state store and a database, run day by day."""

    def __init__(
        self, meltano: Path, postgres: Server, emulator: EmulatorServer, tmp: Path
    ) -> None:
        self.meltano, self.postgres, self.emulator = meltano, postgres, emulator
        self.system_db = f"sqlite:///{tmp / 'meltano.db'}"

    def env(self) -> dict[str, str]:
        config = {
            **self.emulator.tap_config(),
            "start_date": START.isoformat(),
            "end_date": self.emulator.world.today.isoformat(),
        }
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("TAP_MSGREPORTS_", "TARGET_"))
        }
        return {
            **base,
            **{
                f"TAP_MSGREPORTS_{k.upper()}": v if isinstance(v, str) else json.dumps(v)
                for k, v in config.items()
            },
            **self.postgres.env,
            EMULATOR_TODAY_VARIABLE: self.emulator.world.today.isoformat(),  # its clock
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
            "TARGET_POSTGRES_BATCH_SIZE_ROWS": "200",  # several commits per run
            "MELTANO_DATABASE_URI": self.system_db,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def meltano_command(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``meltano --environment=emulator ARGS`` with this pipeline's settings (and ``env``).

        Its output goes to the session's secret scan.
        """
        return run_recorded(
            [str(self.meltano), "--environment=emulator", *args],
            what=f"meltano {args[0]}",
            cwd=ROOT,
            env={**self.env(), **(env or {})},
            timeout=600,
        )

    def run(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.meltano_command("run", "tap-msgreports", "target-postgres", env=env)

    def state(self) -> dict[str, t.Any]:
        done = self.meltano_command("state", "get", "emulator:tap-msgreports-to-target-postgres")
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    def rows(self, stream: str) -> list[dict[str, t.Any]]:
        return self.postgres.query(f"SELECT coalesce(json_agg(t), '[]') FROM {SCHEMA}.{stream} t")

    def differences(self, stream: str) -> dict[str, int]:
        keys = PRIMARY_KEYS[stream]
        first, last = START, self.emulator.world.today
        if stream == "moengage_campaign_rows":
            # Files live 7 days: the first run could reach back 6 days; today's file is never
            # generated yet.
            first, last = TODAY - dt.timedelta(days=6), last - dt.timedelta(days=1)
        truth = {
            tuple(r[k] for k in keys): r for r in truth_rows(self.emulator, stream, first, last)
        }
        loaded = self.rows(stream)
        held = {tuple(r[k] for k in keys): r for r in loaded}
        stale = [k for k, row in truth.items() if k in held and not _same(held[k], row)]
        return {
            "truth": len(truth),
            "duplicates": len(loaded) - len(held),
            "missing": len(truth.keys() - held.keys()),
            "unexpected": len(held.keys() - truth.keys()),
            "stale": len(stale),
        }

    def assert_equal_to_truth(self) -> None:
        for stream in STREAMS:
            report = self.differences(stream)
            assert report["truth"] > 0, stream
            assert report == {
                **report,
                "duplicates": 0,
                "missing": 0,
                "unexpected": 0,
                "stale": 0,
            }, (
                stream,
                report,
            )


def _same(held: dict[str, t.Any], truth: dict[str, t.Any]) -> bool:
    """Whether the loaded row holds the truth's values (timestamps compared as instants)."""
    for field, expected in truth.items():
        loaded = held.get(field)
        if field in {"date", "statusdate"} and isinstance(expected, str):
            loaded = dt.datetime.fromisoformat(loaded) if loaded else None
            expected = dt.datetime.fromisoformat(expected.replace("Z", "+00:00"))  # noqa: PLW2901
            expected = expected.replace(tzinfo=None)  # noqa: PLW2901 - stored as UTC, no zone
        if loaded != expected:
            return False
    return True


@pytest.fixture
def pipeline(meltano: Path, postgres: Server, tmp_path: Path) -> t.Iterator[Pipeline]:
    postgres.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with EmulatorServer(World(seed=13, today=TODAY, scale=4), max_lifetime=900) as emulator:
        emulator.messangi.lines_per_day = 40
        emulator.moengage.rows_per_file = 60
        yield Pipeline(meltano, postgres, emulator, tmp_path)


def test_daily_runs_into_postgres_equal_the_truth(pipeline: Pipeline) -> None:
    for day in range(3):
        if day:
            pipeline.emulator.world.advance(1)
        done = pipeline.run()
        assert done.returncode == 0, done.stderr[-3000:]
        pipeline.assert_equal_to_truth()
    bookmarks = pipeline.state()["singer_state"]["bookmarks"]
    assert set(bookmarks) == set(STREAMS)


def test_columns_have_the_types_a_user_expects(pipeline: Pipeline) -> None:
    done = pipeline.run()
    assert done.returncode == 0, done.stderr[-3000:]
    columns = pipeline.postgres.query(
        "SELECT json_object_agg(table_name || '.' || column_name, data_type) "
        f"FROM information_schema.columns WHERE table_schema = '{SCHEMA}'"
    )
    found = {tuple(key.split(".")): value for key, value in columns.items()}
    assert {key: found.get(key) for key in EXPECTED_TYPES} == EXPECTED_TYPES


@pytest.mark.parametrize("channel", ["E", "W", "R"])
def test_a_target_failure_leaves_state_at_the_last_loaded_point(
    pipeline: Pipeline, channel: str
) -> None:
    assert pipeline.run().returncode == 0
    # The target fails when it reaches this channel's lines: after the channels before it
    # (S, E, P, W, R) were committed. Three channels, three points of failure.
    pipeline.postgres.execute(
        f"""CREATE FUNCTION {SCHEMA}.refuse_w() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.channel = '{channel}' THEN RAISE EXCEPTION 'refused on purpose'; END IF;
        RETURN NEW; END $$;
        CREATE TRIGGER refuse_w BEFORE INSERT OR UPDATE ON {SCHEMA}.mlog_items
        FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_w()"""
    )
    pipeline.emulator.world.advance(1)
    failed = pipeline.run()
    assert failed.returncode != 0
    assert "refused on purpose" in failed.stderr
    channels = {
        p["context"]["channel"]: p["replication_key_value"]
        for p in pipeline.state()["singer_state"]["bookmarks"]["mlog_items"]["partitions"]
    }
    today_end = (pipeline.emulator.world.today + dt.timedelta(days=1)).isoformat()
    assert channels[channel] < today_end  # not moved past what the target refused
    pipeline.postgres.execute(f"DROP TRIGGER refuse_w ON {SCHEMA}.mlog_items")
    assert pipeline.run().returncode == 0
    pipeline.assert_equal_to_truth()


def test_an_unreachable_database_gives_the_target_error_not_a_tap_traceback(
    pipeline: Pipeline,
) -> None:
    done = pipeline.run({"TARGET_POSTGRES_PORT": "1"})  # nothing listens there
    assert done.returncode != 0
    assert "connection" in done.stderr.lower()
    assert "tap_msgreports" not in done.stderr  # no frame of the tap's code
