"""meltano run tap-msgreports target-postgres, day after day, into a real PostgreSQL server.

Every table must end equal to the emulator's truth: the same keys, current values, no
duplicates, with the column types a warehouse user expects. Meltano's own state store
carries the bookmarks from run to run, as in production.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import typing as t

import pytest

from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import ONE_DAY
from tap_msgreports_emulator import EmulatorServer, World
from tests.clock import clock_env
from tests.conftest import TODAY
from tests.e2e import report
from tests.e2e.conftest import ROOT
from tests.e2e.meltano_env import plugin_env, private_meltano_env
from tests.harness import PRIMARY_KEYS, json_type, truth_rows
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
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
#: PostgreSQL column types by JSON Schema type and format (as target-postgres 0.8.1 maps them).
TYPES = {
    ("integer", None): "bigint",
    ("string", None): "text",
    ("string", "date-time"): "timestamp without time zone",
    ("string", "date"): "date",
    ("array", None): "jsonb",
    ("object", None): "jsonb",
    ("boolean", None): "boolean",
}
#: The tap's log line that says where a partition's reading starts.
READING = re.compile(
    r"(?P<who>(?:Messangi|MoEngage|CleverTap) [^:]+?) (?P<stream>\w+): "
    r"reading (?P<first>\S+?)\.\.(?P<last>\S+) in \d+ windows"
)


class Pipeline:
    """The emulator, a Meltano project state store and a database, run day by day."""

    def __init__(
        self, meltano: Path, postgres: Server, emulator: EmulatorServer, tmp: Path
    ) -> None:
        self.meltano, self.postgres, self.emulator = meltano, postgres, emulator
        self.meltano_env = private_meltano_env(tmp)

    def env(self) -> dict[str, str]:
        config = {
            **self.emulator.tap_config(),
            "start_date": START.isoformat(),
            "end_date": self.emulator.world.today.isoformat(),
        }
        return {
            **plugin_env(config),
            **self.postgres.env,
            **clock_env(),  # the tap's MoEngage clock follows the emulator (tests/clock.py)
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
            "TARGET_POSTGRES_BATCH_SIZE_ROWS": "200",  # several commits per run
            **self.meltano_env,
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
        state: dict[str, t.Any] = json.loads(done.stdout)
        return state

    def rows(self, stream: str) -> list[dict[str, t.Any]]:
        rows: list[dict[str, t.Any]] = self.postgres.query(
            f"SELECT coalesce(json_agg(t), '[]') FROM {SCHEMA}.{stream} t"
        )
        return rows

    def differences(self, stream: str) -> dict[str, int]:
        keys = PRIMARY_KEYS[stream]
        first, last = START, self.emulator.world.today
        if stream == "moengage_campaign_rows":
            # Files are served until 7 days old: the first run could reach back 7 days; today's
            # file is never generated yet.
            first, last = TODAY - dt.timedelta(days=7), last - dt.timedelta(days=1)
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
    """Whether the loaded row holds the truth's values (times compared as instants).

    target-postgres 0.8.1 stores ``date-time`` as a timestamp without zone: the tap's UTC.
    """
    for field, expected in truth.items():
        loaded = held.get(field)
        if isinstance(expected, str) and ISO_TIME.match(expected):
            loaded = dt.datetime.fromisoformat(loaded) if loaded else None
            moment = dt.datetime.fromisoformat(expected.replace("Z", "+00:00"))
            expected = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)  # noqa: PLW2901
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


def partition_starts(stderr: str) -> dict[tuple[str, str], str]:
    """Where each partition's reading started, by (stream, partition), from the tap's log."""
    return {(m["stream"], m["who"]): m["first"] for m in READING.finditer(stderr)}


def test_daily_runs_into_postgres_equal_the_truth(pipeline: Pipeline) -> None:
    states, starts, seconds = [], [], []
    for day in range(3):
        if day:
            pipeline.emulator.world.advance(1)
        began = time.monotonic()
        done = pipeline.run()
        seconds.append(time.monotonic() - began)
        assert done.returncode == 0, done.stderr[-3000:]
        pipeline.assert_equal_to_truth()
        states.append(pipeline.state()["singer_state"]["bookmarks"])
        starts.append(partition_starts(done.stderr))
    assert set(states[-1]) == set(STREAMS)
    # Each run went on from the bookmarks Meltano stored after the one before: Messangi from
    # the bookmark minus its 3-day lookback, MoEngage from the day after its bookmark.
    for before, started in zip(states, starts[1:], strict=False):
        for partition in before["mlog_items"]["partitions"]:
            bookmark = dt.datetime.fromisoformat(partition["replication_key_value"])
            who = f"Messangi channel {partition['context']['channel']}"
            expected = bookmark - dt.timedelta(days=3)
            assert dt.datetime.fromisoformat(started["mlog_items", who]) == expected, who
        for partition in before["moengage_campaign_rows"]["partitions"]:
            report_day = dt.date.fromisoformat(partition["replication_key_value"])
            who = f"MoEngage report {partition['context']['report_name']!r}"
            if ("moengage_campaign_rows", who) in started:
                assert started["moengage_campaign_rows", who] == str(report_day + ONE_DAY), who
    rows = {stream: len(pipeline.rows(stream)) for stream in STREAMS}
    report.add(
        "PostgreSQL, 3 daily meltano runs of all four streams (seconds: "
        f"{', '.join(f'{s:.1f}' for s in seconds)}); rows per table after them: "
        + ", ".join(f"{stream} {count}" for stream, count in rows.items())
    )


def test_columns_have_the_types_and_names_a_user_expects(pipeline: Pipeline) -> None:
    done = pipeline.run()
    assert done.returncode == 0, done.stderr[-3000:]
    columns = pipeline.postgres.query(
        "SELECT json_object_agg(table_name || '.' || column_name, data_type) "
        f"FROM information_schema.columns WHERE table_schema = '{SCHEMA}'"
    )
    found = {tuple(key.split(".")): value for key, value in columns.items()}
    catalog = TapMsgReports(config=pipeline.emulator.tap_config()).catalog_dict
    expected = {
        (entry["tap_stream_id"], name): TYPES[json_type(schema)]
        for entry in catalog["streams"]
        for name, schema in entry["schema"]["properties"].items()
    }
    assert {key: found.get(key) for key in expected} == expected
    # No column is a word PostgreSQL reserves (the server's own list, not the tap's).
    reserved = set(
        pipeline.postgres.query(
            "SELECT json_agg(word) FROM pg_get_keywords() WHERE catcode IN ('R', 'T')"
        )
    )
    assert not {name for _, name in found} & reserved


def test_a_target_failure_leaves_meltano_state_where_it_was(pipeline: Pipeline) -> None:
    """target-postgres sends STATE only when all its batches are in: a failure keeps the last.

    (For a target that commits and sends STATE as it goes, see test_target_failures.py.)
    """
    assert pipeline.run().returncode == 0
    before = pipeline.state()
    # The target fails on the first W (WhatsApp) line: S, E and P lines of this run may be
    # committed already, in batches of 200, but Meltano holds no state of them.
    pipeline.postgres.execute(
        f"""CREATE FUNCTION {SCHEMA}.refuse() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.channel = 'W' THEN RAISE EXCEPTION 'refused on purpose'; END IF;
        RETURN NEW; END $$;
        CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {SCHEMA}.mlog_items
        FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse()"""
    )
    pipeline.emulator.world.advance(1)
    failed = pipeline.run()
    assert failed.returncode != 0
    assert "refused on purpose" in failed.stderr
    assert pipeline.state() == before  # the next run repeats the whole day, skips nothing
    pipeline.postgres.execute(f"DROP TRIGGER refuse ON {SCHEMA}.mlog_items")
    assert pipeline.run().returncode == 0
    pipeline.assert_equal_to_truth()


def test_an_unreachable_database_gives_the_target_error_not_a_tap_traceback(
    pipeline: Pipeline,
) -> None:
    done = pipeline.run({"TARGET_POSTGRES_PORT": "1"})  # nothing listens there
    assert done.returncode != 0
    assert "connection" in done.stderr.lower()
    assert "tap_msgreports" not in done.stderr  # no frame of the tap's code
