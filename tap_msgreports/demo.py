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
root with the project's interpreter (``make demo`` does). It uses the standard library only:
the DuckDB file is read by the target-duckdb plugin's own interpreter, so the duckdb version
that reads the file is the one that wrote it.
"""

from __future__ import annotations

import argparse
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
    def duckdb_python(self) -> Path:
        """The interpreter of the target-duckdb plugin venv that Meltano built."""
        return self.project / ".meltano" / "loaders" / TARGET / "venv" / "bin" / "python"


def emulator_command(paths: Paths) -> list[str]:
    """The emulator's command line: a free port, its config written to a file."""
    script = Path(sys.executable).with_name("tap-msgreports-emulator")
    program = (
        [str(script)] if script.exists() else [sys.executable, "-m", "tap_msgreports.emulator"]
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
    """The environment of every Meltano command of the demo."""
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


def same_value(loaded: Any, truth: Any) -> bool:  # noqa: ANN401
    """Whether a loaded value equals the vendor's."""
    return bool(normal(loaded) == normal(truth))


@dataclass
class Comparison:
    """One stream: DuckDB next to the emulator's truth."""

    stream: str
    loaded_rows: int
    loaded_keys: int
    truth_rows: int
    missing: list[Key]
    extra: list[Key]
    differing: list[str]

    @property
    def equal(self) -> bool:
        """Every row there, nothing more, every value equal, no duplicate key."""
        return not (self.missing or self.extra or self.differing) and (
            self.loaded_rows == self.loaded_keys == self.truth_rows
        )


def compare(stream: Stream, table: Table | None, truth: list[Record]) -> Comparison:
    """Match records by key and compare every field the emulator reports."""
    fields = MATCH_FIELDS.get(stream.name, stream.key)
    loaded, expected = _grouped(_records(table), fields), _grouped(truth, fields)
    missing: list[Key] = []
    extra: list[Key] = []
    differing: list[str] = []
    for key in expected.keys() | loaded.keys():
        want, got = expected.get(key, []), loaded.get(key, [])
        missing += [key] * (len(want) - len(got))
        extra += [key] * (len(got) - len(want))
        differing += _differences(key, want, got)
    return Comparison(
        stream=stream.name,
        loaded_rows=len(_records(table)),
        loaded_keys=table.distinct_keys if table else 0,
        truth_rows=len(truth),
        missing=sorted(missing, key=str),
        extra=sorted(extra, key=str),
        differing=sorted(differing),
    )


def _grouped(records: list[Record], fields: Sequence[str]) -> dict[Key, list[Record]]:
    groups: dict[Key, list[Record]] = {}
    for record in records:
        groups.setdefault(tuple(normal(record.get(f)) for f in fields), []).append(record)
    return groups


def _differences(key: Key, want: list[Record], got: list[Record]) -> list[str]:
    """Fields that differ between records sharing a key, paired in a stable order."""
    if not want or not got:
        return []
    if len(want) > 1 or len(got) > 1:
        names = list(want[0])

        def order(record: Record) -> str:
            return repr([normal(record.get(name)) for name in names])

        want, got = sorted(want, key=order), sorted(got, key=order)
    return [
        f"{key} {name}: loaded {loaded.get(name)!r}, emulator {value!r}"
        for truth, loaded in zip(want, got, strict=False)
        for name, value in truth.items()
        if not same_value(loaded.get(name), value)
    ]


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
}


@dataclass
class Check:
    """DuckDB next to the emulator, every stream, after one run."""

    run: int
    comparisons: list[Comparison]
    tables: dict[str, Table | None]
    truths: dict[str, list[Record]]

    @property
    def equal(self) -> bool:
        """Whether every stream equals the emulator."""
        return all(c.equal for c in self.comparisons)


def check(
    run: int, paths: Paths, emulator: Emulator, streams: Sequence[Stream], first: dt.date
) -> Check:
    """Compare DuckDB with the emulator's truth over ``first`` to the emulator's today."""
    today = emulator.today()
    tables = read_duckdb(paths, streams)
    truths = {s.name: emulator.truth(s.name, first, today) for s in streams}
    comparisons = [compare(s, tables[s.name], truths[s.name]) for s in streams]
    return Check(run, comparisons, tables, truths)


# ----- the report --------------------------------------------------------------------------


def print_reads(stream: str, first: Run, second: Run) -> None:
    """Per partition: the days each run read, and the bookmark it left."""
    say(f"  {stream}: {first.records[stream]} records in run 1, {second.records[stream]} in run 2")
    for run, before in ((first, {}), (second, first.bookmarks_after.get(stream, {}))):
        after = run.bookmarks_after.get(stream, {})
        alike: dict[str, list[str]] = {}  # partitions that read the same, said once
        for read in run.reads.get(stream, []):
            start = _why(read, _bookmark_of(before, read.who))
            what = f"{read}, {start}; bookmark {_bookmark_of(after, read.who)}"
            alike.setdefault(what, []).append(read.who)
        for what, partitions in alike.items():
            say(f"    run {run.number}, {_names(partitions)}: {what}")


def _names(partitions: list[str]) -> str:
    """``Messangi channel S, E, P`` for partitions named alike."""
    prefix = partitions[0].rsplit(" ", 1)[0]
    if len(partitions) > 1 and all(p.rsplit(" ", 1)[0] == prefix for p in partitions):
        return f"{prefix} {', '.join(p.rsplit(' ', 1)[-1] for p in partitions)}"
    return ", ".join(partitions)


def _bookmark_of(bookmarks: Mapping[str, str], who: str) -> str | None:
    """The bookmark of a partition named by the tap's logs, e.g. ``CleverTap account A``."""
    return bookmarks.get(who.rsplit(" ", 1)[-1])


def _why(read: Read, bookmark: str | None) -> str:
    if bookmark is None:
        return "from start_date"
    days = (dt.date.fromisoformat(bookmark[:10]) - dt.date.fromisoformat(read.first[:10])).days
    return f"from bookmark {bookmark} minus {days} days (lookback)"


def print_table(checks: Sequence[Check]) -> None:
    """Per stream and run: rows and keys in DuckDB, rows the emulator holds, differences."""
    columns = ("stream", "after", "DuckDB rows", "distinct keys", "emulator rows")
    say("  {:<18}{:>7}{:>13}{:>15}{:>15}".format(*columns) + "  missing  extra  values differing")
    for index in range(len(checks[0].comparisons)):
        for result in checks:
            c = result.comparisons[index]
            say(
                f"  {c.stream:<18}{'run ' + str(result.run):>7}{c.loaded_rows:>13}"
                f"{c.loaded_keys:>15}{c.truth_rows:>15}{len(c.missing):>9}{len(c.extra):>7}"
                f"{len(c.differing):>18}" + ("" if c.equal else "  <-- DIFFERS"),
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
        return {k: v for k, v in record.items() if not k.startswith("_sdc_")}

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
    """Check that Meltano and the plugins are installed.

    Raises:
        DemoError: naming what is missing and how to get it.
    """
    needed = (paths.project / "meltano.yml", paths.meltano, paths.duckdb_python)
    if missing := [str(path) for path in needed if not path.exists()]:
        msg = f"missing: {', '.join(missing)}; run `make demo` from the project root"
        raise DemoError(msg)


def fresh_output(paths: Paths) -> None:
    """Remove what an earlier demo left, so that every demo starts from nothing."""
    shutil.rmtree(paths.output, ignore_errors=True)
    paths.output.mkdir(parents=True)


def run_twice(
    paths: Paths, emulator: Emulator, first_day: dt.date
) -> tuple[list[Run], list[Check]]:
    """Run, compare, advance the emulator's clock one day, run again, compare."""
    config = {**emulator.config, "start_date": first_day.isoformat()}
    env = meltano_env(paths, {**config, "end_date": emulator.today().isoformat()})
    streams = selected_streams(paths, env)
    say(f"Streams: {', '.join(s.name for s in streams)}. start_date: {first_day}.")
    runs = [timed_run(1, paths, env, emulator)]
    checks = [check(1, paths, emulator, streams, first_day)]
    emulator.advance(1)
    env = meltano_env(paths, {**config, "end_date": emulator.today().isoformat()})
    runs.append(timed_run(2, paths, env, emulator))
    checks.append(check(2, paths, emulator, streams, first_day))
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
        print_reads(stream, first, second)
    say(f"\nDuckDB next to the emulator, days {first_day}..today:")
    print_table(checks)
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
    parser = argparse.ArgumentParser(prog="python -m tap_msgreports.demo", description=__doc__)
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
