"""A user's own Meltano project: the README's path from ``meltano init`` to rows, twice.

A fresh project in a temporary folder adds the tap by reference to this checkout (a plugin
definition generated with pip_url = the checkout) and the loaders by reference to their
definitions in this repository's meltano.yml. Settings of every kind come from
``meltano config set``, from ``.env`` and from environment variables; then ``meltano run``
into target-jsonl and into the end-to-end suite's PostgreSQL, twice each, the second run going
on from the state Meltano stored. Everything loaded must equal the emulator's truth.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import typing as t

import pytest
import yaml

from tap_msgreports_emulator import EmulatorServer, World
from tests.clock import clock_env, install_tap_seam
from tests.conftest import TODAY
from tests.e2e import report
from tests.e2e.conftest import MELTANO, ROOT, missing
from tests.e2e.test_postgres import SCHEMA, START, STREAMS, Pipeline, partition_starts
from tests.harness import PRIMARY_KEYS, Warehouse, assert_equal_to_truth, differences
from tests.plugin_definition import definition, loader_block
from tests.processes import run_recorded

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.postgres import Server

# Installs target-jsonl and target-postgres from the package index into the new project.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator, pytest.mark.timeout(2400)]
TARGETS = ("target-jsonl", "target-postgres")


class OwnProject:
    """A Meltano project made with ``meltano init`` in a temporary folder, as a user would."""

    def __init__(self, folder: Path, emulator: EmulatorServer, postgres: Server) -> None:
        self.folder, self.emulator, self.postgres = folder, emulator, postgres
        self.root = folder / "own"
        # Nothing of this machine's Meltano or plugin settings: only what the test sets.
        self.base_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TAP_MSGREPORTS_", "TARGET_", "MELTANO_"))
        } | {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}

    def meltano(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
        """A Meltano command in the project (its output goes to the secret scan); its stdout."""
        done = self.command(*args, env=env, timeout=timeout)
        assert done.returncode == 0, f"meltano {' '.join(args[:3])}:\n{done.stderr[-3000:]}"
        return done.stdout

    def command(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        cwd = self.root if self.root.exists() else self.folder
        return run_recorded(
            [str(MELTANO), *args],
            what=f"meltano {args[0]}",
            timeout=timeout,
            cwd=cwd,
            env=self.base_env | (env or {}),
        )

    def run_env(self) -> dict[str, str]:
        """Settings from the environment: dates of the emulator's day, a decimal, an integer."""
        today = self.emulator.world.today.isoformat()
        return {
            "TAP_MSGREPORTS_START_DATE": START.isoformat(),
            "TAP_MSGREPORTS_END_DATE": today,
            "TAP_MSGREPORTS_BACKOFF_INITIAL_SECONDS": "0.05",  # a decimal Meltano must pass
            "TAP_MSGREPORTS_REQUEST_TIMEOUT": "30",
            "TAP_MSGREPORTS_MESSANGI_CHANNELS": '["S", "E", "P", "W", "R"]',
            **clock_env(),  # the tap's MoEngage clock follows the emulator (tests/clock.py)
            **self.postgres.env,
        }

    def run(self, target: str) -> tuple[str, int]:
        """``meltano run tap-msgreports TARGET``: its log, and the emulator requests it made."""
        before = sum(self.emulator.status()["requests"].values())
        done = self.command("run", "tap-msgreports", target, env=self.run_env(), timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr, sum(self.emulator.status()["requests"].values()) - before

    def bookmarks(self, target: str) -> dict[str, t.Any]:
        state = json.loads(self.meltano("state", "get", f"dev:tap-msgreports-to-{target}"))
        return t.cast("dict[str, t.Any]", state["singer_state"]["bookmarks"])


def write_definitions(folder: Path) -> dict[str, Path]:
    """The tap's definition installing this checkout, and the loaders' of meltano.yml."""
    made = {"tap-msgreports": definition(pip_url=str(ROOT))}
    made |= {name: loader_block(name) for name in TARGETS}
    files = {}
    for name, content in made.items():
        files[name] = folder / f"{name}.yml"
        files[name].write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return files


def configure(project: OwnProject) -> None:
    """Every kind of setting through ``meltano config set``, and one through ``.env``."""
    config = project.emulator.tap_config()
    settings = {
        "clevertap_accounts": json.dumps(config["clevertap_accounts"]),  # objects, secrets
        "messangi_api_url": config["messangi_api_url"],  # string
        "messangi_api_key": config["messangi_api_key"],  # secret
        "moengage_app_id": config["moengage_app_id"],
        "moengage_secret_key": config["moengage_secret_key"],
        "moengage_api_url": config["moengage_api_url"],
        "moengage_reports": json.dumps(config["moengage_reports"]),  # array
        "max_retries": "3",  # integer
        "clevertap_track_open_days": "false",  # boolean
        "backoff_max_seconds": "2.5",  # decimal
    }
    for name, value in settings.items():
        # Its output names the setting and says "(redacted)" for a secret: scanned.
        project.meltano("config", "set", "tap-msgreports", name, value)
    project.meltano("config", "set", "target-jsonl", "destination_path", "output")
    project.meltano("config", "set", "target-jsonl", "do_timestamp_file", "false")
    project.meltano("config", "set", "target-postgres", "default_target_schema", SCHEMA)
    # Upsert: every run reads the lookback days again (append-only is the target's default).
    project.meltano("config", "set", "target-postgres", "load_method", "upsert")
    with (project.root / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write("TAP_MSGREPORTS_MAX_RESPONSE_MB=64\n")


def passed_config(project: OwnProject) -> dict[str, t.Any]:
    """The config file Meltano writes for the tap.

    It holds the passcodes and keys, so it is not recorded for the secret scan.
    """
    done = subprocess.run(
        [str(MELTANO), "invoke", "--dump=config", "tap-msgreports"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=project.root,
        env=project.base_env | project.run_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return t.cast("dict[str, t.Any]", json.loads(done.stdout))


def jsonl_warehouse(project: OwnProject) -> Warehouse:
    """What target-jsonl wrote, later lines of a key over earlier ones (it appends)."""
    warehouse = Warehouse()
    for stream in STREAMS:
        table = warehouse.tables.setdefault(stream, {})
        text = (project.root / "output" / f"{stream}.jsonl").read_text(encoding="utf-8")
        for line in filter(None, text.split("\n")):
            record = json.loads(line)
            table[tuple(record[k] for k in PRIMARY_KEYS[stream])] = record
    return warehouse


def assert_jsonl_equal_to_truth(project: OwnProject) -> None:
    warehouse, today = jsonl_warehouse(project), project.emulator.world.today
    others = [s for s in STREAMS if s != "moengage_campaign_rows"]
    assert_equal_to_truth(differences(warehouse, project.emulator, START, today, others))
    # MoEngage files are served until 7 days old, and today's is never made yet.
    first, last = TODAY - dt.timedelta(days=7), today - dt.timedelta(days=1)
    moengage = ["moengage_campaign_rows"]
    assert_equal_to_truth(differences(warehouse, project.emulator, first, last, moengage))


def assert_went_on_from(bookmarks: dict[str, t.Any], log: str) -> None:
    """Messangi read again from each bookmark minus its 3-day lookback, no earlier."""
    started = partition_starts(log)
    for partition in bookmarks["mlog_items"]["partitions"]:
        who = f"Messangi channel {partition['context']['channel']}"
        bookmark = dt.datetime.fromisoformat(partition["replication_key_value"])
        assert dt.datetime.fromisoformat(started["mlog_items", who]) == bookmark - dt.timedelta(
            days=3
        ), who


def by_partition(bookmark: dict[str, t.Any]) -> dict[str, str]:
    """A stream's bookmark values by partition (ISO dates and times compare as text)."""
    return {
        json.dumps(p["context"], sort_keys=True): p["replication_key_value"]
        for p in bookmark["partitions"]
    }


@pytest.fixture
def project(postgres: Server, tmp_path: Path) -> t.Iterator[OwnProject]:
    if not MELTANO.exists():
        missing("Meltano (.tools/meltano)")
    postgres.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with EmulatorServer(World(seed=14, today=TODAY, scale=4), max_lifetime=2000) as emulator:
        emulator.messangi.lines_per_day = 40
        emulator.moengage.rows_per_file = 60
        yield OwnProject(tmp_path, emulator, postgres)


def test_a_new_project_adds_the_tap_by_reference_and_runs_it_twice(project: OwnProject) -> None:
    project.meltano("init", "own")
    files = write_definitions(project.folder)
    project.meltano(
        "add",
        "--plugin-type",
        "extractor",
        "tap-msgreports",
        "--from-ref",
        str(files["tap-msgreports"]),
    )
    install_tap_seam(project.root)  # its MoEngage clock can follow the emulator (tests/clock.py)
    for target in TARGETS:
        project.meltano("add", "--plugin-type", "loader", target, "--from-ref", str(files[target]))
    written = yaml.safe_load((project.root / "meltano.yml").read_text(encoding="utf-8"))
    assert set(written["plugins"]) == {"extractors", "loaders"}
    (extractor,) = written["plugins"]["extractors"]
    assert extractor["pip_url"] == str(ROOT)
    assert [s["name"] for s in extractor["settings"]] == [
        s["name"] for s in definition()["settings"]
    ]

    configure(project)
    written_text = (project.root / "meltano.yml").read_text(encoding="utf-8")
    assert project.emulator.tap_config()["messangi_api_key"] not in written_text  # in .env
    passed = passed_config(project)
    expected = {
        "clevertap_accounts": project.emulator.tap_config()["clevertap_accounts"],
        "max_retries": 3,
        "clevertap_track_open_days": False,
        "request_timeout": 30,
        "max_response_mb": 64,
        "messangi_channels": ["S", "E", "P", "W", "R"],
        "moengage_reports": project.emulator.tap_config()["moengage_reports"],
    }
    assert {name: passed[name] for name in expected} == expected
    assert float(passed["backoff_initial_seconds"]) == 0.05
    assert float(passed["backoff_max_seconds"]) == 2.5

    logs: dict[str, list[str]] = {target: [] for target in TARGETS}
    requests: dict[str, list[int]] = {target: [] for target in TARGETS}
    bookmarks: dict[str, list[dict[str, t.Any]]] = {target: [] for target in TARGETS}
    pipeline = Pipeline(MELTANO, project.postgres, project.emulator, project.folder)
    for day in range(2):
        if day:
            project.emulator.world.advance(1)
        for target in TARGETS:
            log, made = project.run(target)
            logs[target].append(log)
            requests[target].append(made)
            bookmarks[target].append(project.bookmarks(target))
        assert_jsonl_equal_to_truth(project)
        pipeline.assert_equal_to_truth()

    for target in TARGETS:
        assert set(bookmarks[target][0]) == set(STREAMS), target
        assert_went_on_from(bookmarks[target][0], logs[target][1])
        assert requests[target][1] < requests[target][0], (target, requests[target])
        for stream in ("mlog_items", "moengage_campaign_rows"):
            first, second = (by_partition(b[stream]) for b in bookmarks[target])
            assert first.keys() == second.keys(), (target, stream)
            # Never back; forward for every partition with a new day (a weekly report may
            # have none).
            assert all(second[p] >= first[p] for p in first), (target, stream, first, second)
            assert any(second[p] > first[p] for p in first), (target, stream, first, second)
    report.add(
        "Own Meltano project (meltano init, add --from-ref, config set/.env/environment): "
        + "; ".join(f"{target} requests per run {requests[target]}" for target in TARGETS)
    )
