"""`make demo`: the emulator, Meltano and DuckDB end to end, run twice.

1. Start afresh: remove ``output/demo/`` (the DuckDB file and the demo's own Meltano system
   database), start the emulator with its clock two days back, and configure the tap from the
   config it writes.
2. ``meltano run tap-msgreports target-duckdb``: the first, full run.
3. Advance the emulator's clock by one day and run again: Meltano's state carries the
   bookmarks, and the tap reads again only the lookback days before them.
4. Compare every table with what the emulator holds: rows, keys and every value it reports.
   Print "OK" and exit 0, or print what differs and exit 1.

The emulator is stopped on exit, on Ctrl-C and on errors. Run this module from the project
root with the project's interpreter (``make demo`` does). Besides the standard library it uses
only the tap's own column naming (to map MoEngage's CSV headers as the tap does, so that the
emulator's truth can be compared column by column) and the emulator's clock seam, which gives
the taps Meltano starts the emulator's today (MoEngage file life counts from it; see clock.py).
The DuckDB file is read by the target-duckdb plugin's own interpreter, so the duckdb version
that reads the file is the one that wrote it.
"""

from __future__ import annotations

import argparse
import ast
import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap_msgreports.moengage.columns import column_names
from tap_msgreports_emulator.clock import install_seam, seam_env

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

TAP = "tap-msgreports"
TARGET = "target-duckdb"
ENVIRONMENT = "emulator"
STATE_ID = f"{ENVIRONMENT}:{TAP}-to-{TARGET}"
SCHEMA = "msgreports"
#: Days the first run reads. Longer than the tap's 30-day CleverTap lookback, so that the
#: second run visibly reads less than the first.
HISTORY_DAYS = 45
#: The emulator's clock starts this many days before today (UTC). After the one-day advance it
#: is still in the past: a day the tap may read to its end (Messangi's newest minutes are never
#: read, so a day that is not over yet could not equal the emulator's truth).
EMULATOR_DAYS_AGO = 2
MOENGAGE = "moengage_campaign_rows"
#: Every stream the emulator serves. The demo fails if one is not selected: Meltano hands the
#: tap only the settings meltano.yml declares, so a source whose settings are missing there
#: would otherwise drop out of the demo without a word.
EXPECTED_STREAMS = ("campaigns", "message_reports", "mlog_items", MOENGAGE)
#: MoEngage report files are served until they are 7 days old (api-notes 5.4, as the emulator
#: enforces it): the first run reads back to today - 7 only, whatever start_date says.
MOENGAGE_FILE_LIFE_DAYS = 7
EMULATOR_READY_SECONDS = 30.0
EMULATOR_STOP_SECONDS = 10.0
EMULATOR_MAX_LIFETIME_SECONDS = 1800
#: Settings the emulator config does not set but a project ``.env`` file might (a real
#: account): they are blanked, so that the demo reaches nothing but the emulator.
CLEARED_SETTINGS = ("clevertap_account_id", "clevertap_passcode")
#: Inherited variables that would configure the tap or the target behind the demo's back.
FOREIGN_PREFIXES = ("TAP_MSGREPORTS_", "TARGET_DUCKDB_")

Record = dict[str, Any]
Key = tuple[Any, ...]


class DemoError(Exception):
    """A step of the demo failed; the message says which and where to look."""


def say(text: str = "") -> None:
    """Print one line of the demo's report."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ----- paths and processes -----------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Where the demo reads and writes, all absolute."""

    project: Path
    meltano: Path

    @property
    def output(self) -> Path:
        """The demo's own directory, removed at every start."""
        return self.project / "output" / "demo"

    @property
    def duckdb(self) -> Path:
        """The DuckDB file target-duckdb writes."""
        return self.output / "tap_msgreports.duckdb"

    @property
    def system_db(self) -> Path:
        """Meltano's system database (runs and state) for the demo only."""
        return self.output / "meltano.db"

    @property
    def emulator_config(self) -> Path:
        """The tap config the emulator writes."""
        return self.output / "emulator-config.json"

    @property
    def tap_python(self) -> Path:
        """The interpreter of the tap-msgreports plugin venv that Meltano built."""
        return self.project / ".meltano" / "extractors" / TAP / "venv" / "bin" / "python"

    @property
    def duckdb_python(self) -> Path:
        """The interpreter of the target-duckdb plugin venv that Meltano built."""
        return self.project / ".meltano" / "loaders" / TARGET / "venv" / "bin" / "python"


def emulator_command(paths: Paths) -> list[str]:
    """The emulator's command line: a free port, its config written to a file."""
    script = Path(sys.executable).with_name("tap-msgreports-emulator")
    program = (
        [str(script)] if script.exists() else [sys.executable, "-m", "tap_msgreports_emulator"]
    )
    today = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=EMULATOR_DAYS_AGO)
    return [
        *program,
        "--port=0",
        f"--today={today.isoformat()}",
        f"--config-out={paths.emulator_config}",
        f"--max-lifetime={EMULATOR_MAX_LIFETIME_SECONDS}",
    ]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, by its PID; kill it if it does not stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(EMULATOR_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, indented, for error messages."""
    if not path.exists():
        return "    (no log)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in text)


# ----- the emulator ------------------------------------------------------------------------


@dataclass
class Emulator:
    """The running emulator: its URL, the config it wrote, and its control API."""

    url: str
    config: dict[str, Any]
    banner: str
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler({})),
    )

    def _call(self, path: str, body: Mapping[str, Any] | None = None) -> Any:  # noqa: ANN401
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
            self.url + path,
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with self._opener.open(request, timeout=60) as response:
            return json.load(response)

    def today(self) -> dt.date:
        """The emulator's simulated date."""
        return dt.date.fromisoformat(self._call("/_emulator/status")["today"])

    def requests_served(self) -> int:
        """Vendor requests served so far, all vendors."""
        return sum(self._call("/_emulator/status").get("requests", {}).values())

    def advance(self, days: int) -> dt.date:
        """Move the clock; returns the new date."""
        return dt.date.fromisoformat(self._call("/_emulator/advance", {"days": days})["today"])

    def truth(self, stream: str, first: dt.date, last: dt.date) -> list[Record]:
        """What the vendor holds for a stream over days ``first`` to ``last``."""
        query = f"stream={stream}&from={first.isoformat()}&to={last.isoformat()}"
        records: list[Record] = self._call(f"/_emulator/truth?{query}")["records"]
        return records


def wait_for_emulator(process: subprocess.Popen[bytes], log: Path, paths: Paths) -> Emulator:
    """Wait until the emulator says where it listens and its config file is written.

    Raises:
        DemoError: if it exits or is not ready in time.
    """
    deadline = time.monotonic() + EMULATOR_READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the emulator exited with status {process.returncode}:\n{tail(log)}"
            raise DemoError(msg)
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        match = re.search(r"listening on (http://\S+)", lines[0]) if lines else None
        if match and paths.emulator_config.exists():
            config = json.loads(paths.emulator_config.read_text(encoding="utf-8"))
            return Emulator(url=match.group(1), config=config, banner=lines[0])
        time.sleep(0.05)
    msg = f"the emulator was not ready after {EMULATOR_READY_SECONDS:.0f} s:\n{tail(log)}"
    raise DemoError(msg)


@dataclass
class RunningEmulator:
    """Starts the emulator on entry and always stops it on exit (errors, Ctrl-C too)."""

    paths: Paths
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulator:
        """Start the emulator and wait until it is ready."""
        log = self.paths.output / "emulator.log"
        with log.open("wb") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                emulator_command(self.paths),
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=self.paths.project,
            )
        return wait_for_emulator(self.process, log, self.paths)

    def __exit__(self, *exc_info: object) -> None:
        """Stop the emulator we started."""
        if self.process is not None:
            stop_process(self.process)


# ----- Meltano -----------------------------------------------------------------------------


def tap_settings_env(config: Mapping[str, Any]) -> dict[str, str]:
    """The tap config as ``TAP_MSGREPORTS_<NAME>`` variables (JSON for non-strings)."""
    env = {f"TAP_MSGREPORTS_{name.upper()}": "" for name in CLEARED_SETTINGS}
    for name, value in config.items():
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"TAP_MSGREPORTS_{name.upper()}"] = text
    return env


def meltano_env(paths: Paths, tap_config: Mapping[str, Any]) -> dict[str, str]:
    """The environment of every Meltano command of the demo, on the emulator's clock.

    The tap counts MoEngage file life from its today, which must be the emulator's
    (simulated) one, not the real clock's: the seam moves it (see clock.py).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    loopback = "127.0.0.1,localhost"
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_PROJECT_ROOT=str(paths.project),
        MELTANO_DATABASE_URI=f"sqlite:///{paths.system_db}",
        TARGET_DUCKDB_FILEPATH=str(paths.duckdb),
        TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=SCHEMA,
        NO_PROXY=loopback,
        no_proxy=loopback,
    )
    env.update(tap_settings_env(tap_config))
    env.update(seam_env())
    return env


def meltano(paths: Paths, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Meltano command in the emulator environment, capturing its output.

    Raises:
        DemoError: when it fails.
    """
    command = [str(paths.meltano), f"--environment={ENVIRONMENT}", *args]
    done = subprocess.run(  # noqa: S603 - our own command line
        command, cwd=paths.project, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = "\n".join("    " + line for line in done.stderr.splitlines()[-25:])
        msg = f"`meltano {' '.join(command[1:])}` failed (exit {done.returncode}):\n{lines}"
        raise DemoError(msg)
    return done


@dataclass(frozen=True)
class Stream:
    """A selected stream: its name and primary key, from the catalog Meltano hands the tap."""

    name: str
    key: tuple[str, ...]


def selected_streams(paths: Paths, env: Mapping[str, str]) -> list[Stream]:
    """The streams Meltano selects, from tap discovery (new streams appear by themselves)."""
    catalog = json.loads(meltano(paths, env, "invoke", "--dump=catalog", TAP).stdout)
    streams = []
    for entry in catalog["streams"]:
        top: dict[str, Any] = next(
            (m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []), {}
        )
        if top.get("selected", top.get("selected-by-default", False)):
            streams.append(Stream(entry["tap_stream_id"], tuple(entry["key_properties"])))
    return streams


def bookmarks(paths: Paths, env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The bookmark of each stream and partition in Meltano's state: stream -> who -> value."""
    state = json.loads(meltano(paths, env, "state", "get", STATE_ID).stdout or "{}")
    found: dict[str, dict[str, str]] = {}
    for stream, entry in state.get("singer_state", {}).get("bookmarks", {}).items():
        for partition in entry.get("partitions", [entry]):
            who = ",".join(str(v) for v in partition.get("context", {}).values()) or "-"
            found.setdefault(stream, {})[who] = str(partition.get("replication_key_value"))
    return found


# ----- one run -----------------------------------------------------------------------------

#: The tap's log line at the start of each partition: what it reads and in how many windows.
READING = re.compile(
    rf"{TAP} (?P<who>.+?) (?P<stream>\w+): reading (?P<first>\S+?)\.\.(?P<last>\S+) "
    r"in (?P<windows>\d+) window",
)
METRIC = re.compile(r"METRIC: (?P<json>\{.*\})\s*$")


@dataclass(frozen=True)
class Read:
    """One partition of one stream, as a run read it."""

    who: str
    first: str
    last: str
    windows: int

    def __str__(self) -> str:
        """E.g. ``2026-10-01..2026-11-01 (2 windows)``."""
        return f"{self.first}..{self.last} ({self.windows} windows)"


@dataclass
class Run:
    """What one ``meltano run`` did, read from its log and from Meltano's state."""

    number: int
    seconds: float
    requests: int
    records: collections.Counter[str]
    reads: dict[str, list[Read]]
    bookmarks_after: dict[str, dict[str, str]]


def parse_run_log(text: str) -> tuple[collections.Counter[str], dict[str, list[Read]]]:
    """Records emitted per stream (the SDK's record_count metric) and what each read."""
    records: collections.Counter[str] = collections.Counter()
    reads: dict[str, list[Read]] = {}
    for line in text.splitlines():
        if (metric := METRIC.search(line)) and '"record_count"' in line:
            body = json.loads(metric.group("json"))
            records[body["tags"]["stream"]] += int(body["value"])
        elif found := READING.search(line):
            read = Read(found["who"], found["first"], found["last"], int(found["windows"]))
            reads.setdefault(found["stream"], []).append(read)
    return records, reads


def meltano_run(number: int, paths: Paths, env: Mapping[str, str], emulator: Emulator) -> Run:
    """``meltano run tap-msgreports target-duckdb``, timed, its log kept in output/demo/.

    Raises:
        DemoError: when the run fails (with the end of its log).
    """
    log = paths.output / f"run-{number}.log"
    requests_before = emulator.requests_served()
    command = [str(paths.meltano), f"--environment={ENVIRONMENT}", "run", TAP, TARGET]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as sink:
        code = subprocess.call(  # noqa: S603 - our own command line
            command, cwd=paths.project, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
        )
    seconds = time.monotonic() - started
    if code != 0:
        msg = f"run {number}: `meltano {' '.join(command[1:])}` failed (exit {code}):\n{tail(log)}"
        raise DemoError(msg)
    records, reads = parse_run_log(log.read_text(encoding="utf-8"))
    return Run(
        number=number,
        seconds=seconds,
        requests=emulator.requests_served() - requests_before,
        records=records,
        reads=reads,
        bookmarks_after=bookmarks(paths, env),
    )


# ----- DuckDB and the comparison -----------------------------------------------------------

#: Run by the target-duckdb plugin's interpreter: DuckDB writes each table as JSON lines, and
#: the count of distinct keys is printed as JSON (null for a table that was never created).
DUCKDB_READER = """
import json, sys
import duckdb
request = json.loads(sys.argv[1])
con = duckdb.connect(request["path"], read_only=True)
counts = {}
for table, spec in request["tables"].items():
    name = '"%s"."%s"' % (request["schema"], table)
    file = spec["file"].replace("'", "''")
    try:
        con.execute("COPY (SELECT * FROM %s) TO '%s' (FORMAT JSON)" % (name, file))
    except duckdb.CatalogException:
        counts[table] = None
        continue
    keys = ", ".join('"%s"' % k for k in spec["keys"])
    query = "SELECT count(*) FROM (SELECT DISTINCT %s FROM %s)" % (keys, name)
    counts[table] = con.execute(query).fetchone()[0]
json.dump(counts, sys.stdout)
"""


@dataclass(frozen=True)
class Table:
    """A table as loaded in DuckDB (None when target-duckdb never created it)."""

    records: list[Record]
    distinct_keys: int


def table_name(stream: str) -> str:
    """The table target-duckdb makes of a stream."""
    return stream.replace("-", "_").lower()


def read_duckdb(paths: Paths, streams: Sequence[Stream]) -> dict[str, Table | None]:
    """Every stream's table, read with the plugin's own duckdb.

    Raises:
        DemoError: when the file cannot be read.
    """
    if not paths.duckdb.exists():
        msg = f"no DuckDB file was written at {paths.duckdb}"
        raise DemoError(msg)
    files = {s.name: paths.output / f"duckdb-{table_name(s.name)}.jsonl" for s in streams}
    request = {
        "path": str(paths.duckdb),
        "schema": SCHEMA,
        "tables": {
            table_name(s.name): {"keys": list(s.key), "file": str(files[s.name])} for s in streams
        },
    }
    done = subprocess.run(  # noqa: S603 - our own command line
        [str(paths.duckdb_python), "-c", DUCKDB_READER, json.dumps(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"reading {paths.duckdb} failed:\n{done.stderr[-2000:]}"
        raise DemoError(msg)
    counts = json.loads(done.stdout)
    return {s.name: _table(files[s.name], counts[table_name(s.name)]) for s in streams}


def _table(file: Path, distinct_keys: int | None) -> Table | None:
    if distinct_keys is None:
        return None
    with file.open(encoding="utf-8") as lines:
        return Table([json.loads(line) for line in lines], distinct_keys)


#: Streams whose primary key the tap derives, so the emulator's truth does not hold it: their
#: records are matched by the fields the key is derived from (several may share them).
MATCH_FIELDS = {"mlog_items": ("channel", "sender", "recipient", "date", "campaignid")}
#: Streams whose every column comes from the emulator's truth: a loaded row's other columns
#: (in MoEngage's one table for all reports, another report's columns) must be empty.
EXACT_COLUMNS = frozenset({MOENGAGE})
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def normal(value: Any) -> Any:  # noqa: ANN401
    """A value in a form both sides share: times as naive UTC datetimes.

    DuckDB writes timestamps without their offset (``2026-01-02 03:04:05.678``); the emulator
    sends ISO-8601 with ``Z``.
    """
    if isinstance(value, str) and ISO_TIME.match(value):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment
    return value


#: Streams whose texts come from CSV files, where an empty value is a value (see below).
EMPTY_TEXT_STREAMS = frozenset({MOENGAGE})


def same_value(loaded: Any, truth: Any, *, empty_may_be_null: bool) -> bool:  # noqa: ANN401
    """Whether a loaded value equals the vendor's (an empty text may be NULL, see below)."""
    if empty_may_be_null and empty_as_null(loaded, truth):
        return True
    return bool(normal(loaded) == normal(truth))


def empty_as_null(loaded: Any, truth: Any) -> bool:  # noqa: ANN401
    """An empty text the target stored as NULL.

    target-duckdb 0.8.0 loads each batch through a CSV file, where an empty field and a null
    are written alike and DuckDB reads both as NULL: the tap sends ``""`` (MoEngage keeps
    its CSV values exactly), the table holds NULL (tests/e2e/test_duckdb.py pins it). Only
    for MoEngage's CSV texts: anywhere else a NULL for "" would be a tap's fault. Counted
    and shown, not a difference.
    """
    return loaded is None and truth == ""


def truth_days(
    stream: str, first: dt.date, first_run_today: dt.date, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The days of the emulator's truth that DuckDB must hold after a run on ``today``.

    ``first`` (the first run's start_date) to today, except for MoEngage, at both ends:

    - Its files are refused once older than 7 days, so the first run (on ``first_run_today``)
      could read only the files of the seven days before it; older files are in the emulator's
      truth (which keeps expired files) but no tap could have loaded them. Later runs go on
      from their bookmark, so nothing is lost after that.
    - A file is generated the day after its date: today's does not exist yet (the tap tries
      it again next run), so the truth ends yesterday. The emulator leaves files that are not
      generated out of its truth anyway; asking up to yesterday says so.
    """
    if stream != MOENGAGE:
        return first, today
    oldest = first_run_today - dt.timedelta(days=MOENGAGE_FILE_LIFE_DAYS)
    return max(first, oldest), today - dt.timedelta(days=1)


def moengage_row(record: Record) -> Record:
    """A MoEngage truth row shaped as the tap writes it: one column per CSV header.

    The emulator reports ``{"report_name", "report_date", "row_number", "values": {header:
    value}}``, the values in header order. The tap names the columns of a header with
    ``column_names`` over the whole header, so clashes (``Sent``/``sent``), leading digits
    and reserved words get the same names here. Values stay text, exactly as in the file.
    """
    values: dict[str, Any] = record["values"]
    fixed = {name: record[name] for name in ("report_name", "report_date", "row_number")}
    return {**fixed, **dict(zip(column_names(list(values)), values.values(), strict=True))}


#: How the emulator's truth of a stream becomes records shaped like the tap's.
TRUTH_SHAPES: dict[str, Callable[[Record], Record]] = {MOENGAGE: moengage_row}


def shaped(stream: str, truth: list[Record]) -> list[Record]:
    """The truth of a stream as records of the tap's shape."""
    shape = TRUTH_SHAPES.get(stream)
    return [shape(record) for record in truth] if shape else truth


@dataclass
class Comparison:
    """One stream: DuckDB next to the emulator's truth over some days."""

    stream: str
    days: tuple[dt.date, dt.date]
    loaded_rows: int
    loaded_keys: int
    truth_rows: int
    missing: list[Key]
    extra: list[Key]
    differing: list[str]
    empty_as_null: int = 0

    @property
    def equal(self) -> bool:
        """Every row there, nothing more, every value equal, no duplicate key."""
        return not (self.missing or self.extra or self.differing) and (
            self.loaded_rows == self.loaded_keys == self.truth_rows
        )


def compare(
    stream: Stream, table: Table | None, truth: list[Record], days: tuple[dt.date, dt.date]
) -> Comparison:
    """Match records by key and compare every field the emulator reports."""
    fields = MATCH_FIELDS.get(stream.name, stream.key)
    loaded, expected = _grouped(_records(table), fields), _grouped(truth, fields)
    exact = stream.name in EXACT_COLUMNS
    missing: list[Key] = []
    extra: list[Key] = []
    differing: list[str] = []
    empties = 0
    for key in expected.keys() | loaded.keys():
        want, got = expected.get(key, []), loaded.get(key, [])
        missing += [key] * (len(want) - len(got))
        extra += [key] * (len(got) - len(want))
        found, empty = _differences(
            key, want, got, exact=exact, empty_may_be_null=stream.name in EMPTY_TEXT_STREAMS
        )
        differing += found
        empties += empty
    return Comparison(
        stream=stream.name,
        days=days,
        loaded_rows=len(_records(table)),
        loaded_keys=table.distinct_keys if table else 0,
        truth_rows=len(truth),
        missing=sorted(missing, key=str),
        extra=sorted(extra, key=str),
        differing=sorted(differing),
        empty_as_null=empties,
    )


def _grouped(records: list[Record], fields: Sequence[str]) -> dict[Key, list[Record]]:
    groups: dict[Key, list[Record]] = {}
    for record in records:
        groups.setdefault(tuple(normal(record.get(f)) for f in fields), []).append(record)
    return groups


def _differences(
    key: Key, want: list[Record], got: list[Record], *, exact: bool, empty_may_be_null: bool
) -> tuple[list[str], int]:
    """Fields that differ between records sharing a key, paired in a stable order.

    With ``exact``, a loaded column the truth does not name must be empty (metadata aside).
    Also returns how many empty texts were loaded as NULL (`empty_as_null`).
    """
    if not want or not got:
        return [], 0
    if len(want) > 1 or len(got) > 1:
        names = list(want[0])

        def order(record: Record) -> str:
            return repr([normal(record.get(name)) for name in names])

        want, got = sorted(want, key=order), sorted(got, key=order)
    pairs = list(zip(want, got, strict=False))
    found = [
        f"{key} {name}: loaded {loaded.get(name)!r}, emulator {value!r}"
        for truth, loaded in pairs
        for name, value in truth.items()
        if not same_value(loaded.get(name), value, empty_may_be_null=empty_may_be_null)
    ]
    if exact:
        found += [
            f"{key} {name}: loaded {value!r}, emulator has no such column"
            for truth, loaded in pairs
            for name, value in loaded.items()
            if name not in truth and value is not None and not name.startswith("_sdc_")
        ]
    empties = sum(
        empty_may_be_null and empty_as_null(loaded.get(name), value)
        for truth, loaded in pairs
        for name, value in truth.items()
    )
    return found, empties


def _records(table: Table | None) -> list[Record]:
    return table.records if table else []


def _sum_of(field_name: str) -> Callable[[list[Record]], str]:
    return lambda records: f"{sum(int(r.get(field_name) or 0) for r in records):,}"


def _count_by(field_name: str) -> Callable[[list[Record]], str]:
    def count(records: list[Record]) -> str:
        counts = collections.Counter(str(r.get(field_name)) for r in records)
        return ", ".join(f"{value} {n}" for value, n in sorted(counts.items()))

    return count


#: A figure per stream that changes from day to day, shown for DuckDB and the emulator.
FIGURES: dict[str, tuple[str, Callable[[list[Record]], str]]] = {
    "campaigns": ("rows per status", _count_by("status")),
    "message_reports": ("sum of sent", _sum_of("sent")),
    "mlog_items": ("lines per status", _count_by("status")),
    MOENGAGE: ("rows per report date", _count_by("report_date")),
}


@dataclass
class Check:
    """DuckDB next to the emulator, every stream, after one run."""

    run: int
    today: dt.date
    comparisons: list[Comparison]
    tables: dict[str, Table | None]
    truths: dict[str, list[Record]]

    @property
    def equal(self) -> bool:
        """Whether every stream equals the emulator."""
        return all(c.equal for c in self.comparisons)


def check(  # noqa: PLR0913 - a run, where to read, and the days to compare
    run: int,
    paths: Paths,
    emulator: Emulator,
    streams: Sequence[Stream],
    *,
    first: dt.date,
    first_run_today: dt.date,
) -> Check:
    """Compare DuckDB with the emulator's truth over ``first`` to today (see `truth_days`)."""
    today = emulator.today()
    tables = read_duckdb(paths, streams)
    days = {s.name: truth_days(s.name, first, first_run_today, today) for s in streams}
    truths = {s.name: shaped(s.name, emulator.truth(s.name, *days[s.name])) for s in streams}
    comparisons = [compare(s, tables[s.name], truths[s.name], days[s.name]) for s in streams]
    return Check(run, today, comparisons, tables, truths)


# ----- the report --------------------------------------------------------------------------


def print_reads(stream: str, first: Run, second: Run, start_date: dt.date) -> None:
    """Per partition: the days each run read, and the bookmark it left."""
    say(f"  {stream}: {first.records[stream]} records in run 1, {second.records[stream]} in run 2")
    for run, before in ((first, {}), (second, first.bookmarks_after.get(stream, {}))):
        after = run.bookmarks_after.get(stream, {})
        alike: dict[str, list[str]] = {}  # partitions that read the same, said once
        for read in run.reads.get(stream, []):
            start = _why(stream, read, _bookmark_of(before, read.who), start_date)
            what = f"{read}, {start}; bookmark {_bookmark_of(after, read.who)}"
            alike.setdefault(what, []).append(read.who)
        for what, partitions in alike.items():
            say(f"    run {run.number}, {_names(partitions)}: {what}")


def _split_who(who: str) -> tuple[str, str]:
    """A partition as the tap's logs name it, split into kind and name as written.

    ``CleverTap account A`` -> (``CleverTap account``, ``A``); a quoted name may hold
    spaces: ``MoEngage report 'Daily Push'`` -> (``MoEngage report``, ``'Daily Push'``).
    """
    if quoted := re.fullmatch(r"(?P<kind>.*?) (?P<name>'.*'|\".*\")", who):
        return quoted["kind"], quoted["name"]
    kind, _, name = who.rpartition(" ")
    return kind, name


def _names(partitions: list[str]) -> str:
    """``Messangi channel S, E, P`` for partitions named alike."""
    kind = _split_who(partitions[0])[0]
    if len(partitions) > 1 and all(_split_who(p)[0] == kind for p in partitions):
        return f"{kind} {', '.join(_split_who(p)[1] for p in partitions)}"
    return ", ".join(partitions)


def _bookmark_of(bookmarks: Mapping[str, str], who: str) -> str | None:
    """The bookmark of a partition named by the tap's logs, e.g. ``CleverTap account A``."""
    name = _split_who(who)[1]
    return bookmarks.get(str(ast.literal_eval(name)) if name[:1] in {"'", '"'} else name)


def _why(stream: str, read: Read, bookmark: str | None, start_date: dt.date) -> str:
    first = dt.date.fromisoformat(read.first[:10])
    if bookmark is None:
        if stream == MOENGAGE and first > start_date:
            return f"not from start_date: older files had expired ({MOENGAGE_FILE_LIFE_DAYS} days)"
        return "from start_date"
    days = (dt.date.fromisoformat(bookmark[:10]) - first).days
    if days < 0:
        return f"from the day after bookmark {bookmark}"
    return f"from bookmark {bookmark} minus {days} days (lookback)"


def print_table(checks: Sequence[Check]) -> None:
    """Per stream and run: rows and keys in DuckDB, rows the emulator holds, differences."""
    columns = ("stream", "after", "DuckDB rows", "distinct keys", "emulator rows")
    say("  {:<23}{:>6}{:>13}{:>15}{:>15}".format(*columns) + "  missing  extra  values differing")
    for index in range(len(checks[0].comparisons)):
        for result in checks:
            c = result.comparisons[index]
            say(
                f"  {c.stream:<23}{'run ' + str(result.run):>6}{c.loaded_rows:>13}"
                f"{c.loaded_keys:>15}{c.truth_rows:>15}{len(c.missing):>9}{len(c.extra):>7}"
                f"{len(c.differing):>18}" + ("" if c.equal else "  <-- DIFFERS"),
            )


def print_days(checks: Sequence[Check], first_day: dt.date) -> None:
    """The streams compared over other days than ``first_day``..today, and why."""
    for index, c in enumerate(checks[0].comparisons):
        ranges = [(result.run, result.comparisons[index].days, result.today) for result in checks]
        if all(days == (first_day, today) for _, days, today in ranges):
            continue
        runs = ", ".join(f"{days[0]}..{days[1]} after run {run}" for run, days, _ in ranges)
        say(f"  {c.stream}: days {runs}")
        if c.stream == MOENGAGE:
            say(
                f"    (files live {MOENGAGE_FILE_LIFE_DAYS} days: older ones had expired before"
                " run 1; today's file is generated tomorrow)"
            )


def print_empties(checks: Sequence[Check]) -> None:
    """Empty texts that DuckDB holds as NULL (see `empty_as_null`), per stream and run."""
    for index, c in enumerate(checks[0].comparisons):
        counts = [(result.run, result.comparisons[index].empty_as_null) for result in checks]
        if any(n for _, n in counts):
            runs = ", ".join(f"{n} after run {run}" for run, n in counts)
            say(
                f"  {c.stream}: empty texts held as NULL by target-duckdb (its CSV load reads"
                f" both alike), counted as equal: {runs}"
            )


def print_figures(first: Check, second: Check) -> None:
    """A changing figure per stream, and how many loaded rows run 2 refreshed."""
    for stream in second.tables:
        if stream in FIGURES:
            name, figure = FIGURES[stream]
            say(f"  {stream}, {name}:")
            for result in (first, second):
                loaded = figure(_records(result.tables[stream]))
                truth = figure(result.truths[stream])
                mark = "" if loaded == truth else "  <-- DIFFERS"
                say(f"    after run {result.run}: DuckDB {loaded}; emulator {truth}{mark}")
        changed, added = _refreshed(first.tables[stream], second.tables[stream])
        say(f"  {stream}: run 2 changed {changed} rows that run 1 had loaded, and added {added}")


def _refreshed(before: Table | None, after: Table | None) -> tuple[int, int]:
    """Rows of ``before`` whose values changed in ``after`` (metadata aside), rows added."""

    def values(record: Record) -> Record:
        # Nulls are left out: a column added later (MoEngage) is null in the older rows.
        return {k: v for k, v in record.items() if not k.startswith("_sdc_") and v is not None}

    old = {json.dumps(values(r), sort_keys=True) for r in _records(before)}
    new = [json.dumps(values(r), sort_keys=True) for r in _records(after)]
    unchanged = sum(1 for r in new if r in old)
    added = len(new) - len(_records(before))
    return len(new) - unchanged - added, added


def print_differences(result: Check) -> None:
    """A few examples of every kind of difference, if any."""
    for c in result.comparisons:
        for what, items in (("missing", c.missing), ("extra", c.extra), ("value", c.differing)):
            for item in items[:5]:
                say(f"  after run {result.run}, {c.stream}, {what}: {item}")
            if len(items) > 5:  # noqa: PLR2004 - a few examples are enough
                say(f"  after run {result.run}, {c.stream}, {what}: ... and {len(items) - 5} more")


# ----- main --------------------------------------------------------------------------------


def preflight(paths: Paths) -> None:
    """Check that Meltano and the plugins are installed; give the tap's venv the clock seam.

    Raises:
        DemoError: naming what is missing and how to get it.
    """
    needed = (paths.project / "meltano.yml", paths.meltano, paths.tap_python, paths.duckdb_python)
    if missing := [str(path) for path in needed if not path.exists()]:
        msg = f"missing: {', '.join(missing)}; run `make demo` from the project root"
        raise DemoError(msg)
    # The tap's MoEngage clock follows the emulator's (see clock.py); `meltano install`,
    # which `make demo` runs first, builds the venv anew, so the seam is added every time.
    install_seam(paths.tap_python)


def fresh_output(paths: Paths) -> None:
    """Remove what an earlier demo left, so that every demo starts from nothing."""
    shutil.rmtree(paths.output, ignore_errors=True)
    paths.output.mkdir(parents=True)


def run_twice(
    paths: Paths, emulator: Emulator, first_day: dt.date
) -> tuple[list[Run], list[Check]]:
    """Run, compare, advance the emulator's clock one day, run again, compare."""
    config = {**emulator.config, "start_date": first_day.isoformat()}
    today = emulator.today()
    env = meltano_env(paths, {**config, "end_date": today.isoformat()})
    streams = selected_streams(paths, env)
    say(f"Streams: {', '.join(s.name for s in streams)}. start_date: {first_day}.")
    if missing := [name for name in EXPECTED_STREAMS if name not in {s.name for s in streams}]:
        msg = (
            f"discovery did not select {', '.join(missing)}: check that meltano.yml declares "
            "the settings of its source (the emulator config sets them)"
        )
        raise DemoError(msg)
    first_run_today = emulator.today()
    runs = [timed_run(1, paths, env, emulator)]
    checks = [check(1, paths, emulator, streams, first=first_day, first_run_today=first_run_today)]
    today = emulator.advance(1)
    env = meltano_env(paths, {**config, "end_date": today.isoformat()})
    runs.append(timed_run(2, paths, env, emulator))
    checks.append(
        check(2, paths, emulator, streams, first=first_day, first_run_today=first_run_today)
    )
    return runs, checks


def timed_run(number: int, paths: Paths, env: Mapping[str, str], emulator: Emulator) -> Run:
    """One ``meltano run``, announced and timed."""
    today = emulator.today()
    say(f"Run {number}, today {today}: meltano --environment={ENVIRONMENT} run {TAP} {TARGET}")
    run = meltano_run(number, paths, env, emulator)
    say(f"  done in {run.seconds:.1f} s ({run.requests} requests to the emulator)")
    return run


def report(runs: Sequence[Run], checks: Sequence[Check], first_day: dt.date) -> None:
    """What each run read, the table, the figures, and every difference found."""
    first, second = runs
    say("\nWhat each run read, per stream and partition:")
    for stream in checks[-1].tables:
        print_reads(stream, first, second, first_day)
    say(f"\nDuckDB next to the emulator, days {first_day}..today:")
    print_table(checks)
    print_days(checks, first_day)
    print_empties(checks)
    say("\nFigures that change from day to day:")
    print_figures(*checks)
    for result in checks:
        print_differences(result)
    say(f"\nTimes: run 1 {first.seconds:.1f} s, run 2 (incremental) {second.seconds:.1f} s.")


def demo(paths: Paths, history_days: int) -> bool:
    """The whole demo; True when every table equals the emulator after both runs."""
    preflight(paths)
    fresh_output(paths)
    with RunningEmulator(paths) as emulator:
        say(emulator.banner)
        first_day = emulator.today() - dt.timedelta(days=history_days - 1)
        runs, checks = run_twice(paths, emulator, first_day)
    report(runs, checks, first_day)
    say(f"Logs: {paths.output}")
    return all(result.equal for result in checks)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: where the project and Meltano are."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_msgreports_emulator.demo", description=__doc__
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="has meltano.yml")
    parser.add_argument(
        "--meltano", type=Path, default=Path(".tools/meltano/bin/meltano"), help="executable"
    )
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS, help="first run")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 when DuckDB equals the emulator, 1 otherwise, 130 on Ctrl-C."""
    args = parse_args(argv)
    project = args.project_dir.resolve()
    meltano_path = args.meltano if args.meltano.is_absolute() else project / args.meltano
    paths = Paths(project=project, meltano=meltano_path)
    try:
        equal = demo(paths, args.history_days)
    except (DemoError, OSError) as error:  # OSError: a command or the emulator is unreachable
        say(f"\n*** DEMO FAILED ***\n{error}")
        return 1
    except KeyboardInterrupt:
        say("\nInterrupted; the emulator was stopped.")
        return 130
    if not equal:
        say("\n*** DEMO FAILED: DuckDB does not equal the emulator (see above) ***")
        return 1
    say("OK: every table equals the emulator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
