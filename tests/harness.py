"""Run the tap against the emulator and compare what a target would hold with the truth."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import typing as t
from collections import Counter
from dataclasses import dataclass, field

from tap_msgreports.client import WindowedReportStream
from tap_msgreports.messangi.lines import iso_utc, keyed_lines
from tap_msgreports.moengage.columns import column_names
from tap_msgreports.tap import TapMsgReports
from tests.secret_scan import record_output

if t.TYPE_CHECKING:
    from tap_msgreports_emulator.server import EmulatorServer

PRIMARY_KEYS = {
    "campaigns": ("account_id", "id"),
    "message_reports": ("account_id", "message_id"),
    "mlog_items": ("mlog_id",),
    "moengage_campaign_rows": ("report_name", "report_date", "row_number"),
}
CLEVERTAP_STREAMS = ("campaigns", "message_reports")


@dataclass
class TapRun:
    """The Singer messages of one run, by type."""

    messages: list[dict[str, t.Any]]
    #: The output as written, when the run was read from it.
    text: str = ""

    @property
    def records(self) -> dict[str, list[dict[str, t.Any]]]:
        found: dict[str, list[dict[str, t.Any]]] = {}
        for message in self.messages:
            if message["type"] == "RECORD":
                found.setdefault(message["stream"], []).append(message["record"])
        return found

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any] | None:
        return self.states[-1] if self.states else None

    def duplicate_keys(self) -> dict[str, list[tuple[t.Any, ...]]]:
        """Primary keys emitted more than once in this run, by stream."""
        found = {}
        for stream, records in self.records.items():
            counts = Counter(tuple(r[k] for k in PRIMARY_KEYS[stream]) for r in records)
            if repeated := [key for key, n in counts.items() if n > 1]:
                found[stream] = repeated
        return found


def windowed(tap: TapMsgReports, name: str) -> WindowedReportStream:
    """The tap's stream ``name``, typed as the windowed base every stream of the tap is."""
    stream = tap.streams[name]
    assert isinstance(stream, WindowedReportStream), name
    return stream


def partition_of(stream: WindowedReportStream) -> dict[str, t.Any]:
    """The stream's first partition."""
    partitions = stream.partitions
    assert partitions, stream.name
    return partitions[0]


def parse_messages(text: str) -> TapRun:
    return TapRun([json.loads(line) for line in text.split("\n") if line.strip()], text)


def run_tap(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> TapRun:
    """Run the tap in this process and return what it wrote to stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapMsgReports(config=config, state=state, catalog=catalog).sync_all()
    record_output("in-process tap stdout", out.getvalue())
    run = parse_messages(out.getvalue())
    assert run.duplicate_keys() == {}, "a primary key was emitted twice in one run"
    return run


@dataclass
class Warehouse:
    """What an upserting target holds after the runs so far."""

    tables: dict[str, dict[tuple[t.Any, ...], dict[str, t.Any]]] = field(default_factory=dict)

    def load(self, run: TapRun) -> None:
        for stream, records in run.records.items():
            table = self.tables.setdefault(stream, {})
            for record in records:
                table[tuple(record[k] for k in PRIMARY_KEYS[stream])] = record


def truth_rows(
    emulator: EmulatorServer, stream: str, first_day: dt.date, last_day: dt.date
) -> list[dict[str, t.Any]]:
    """The truth of a stream; Messangi lines get the key the tap gives them."""
    rows = emulator.truth(stream, first_day, last_day)
    if stream == "mlog_items":
        return keyed_mlog_truth(rows, first_day, last_day)
    if stream == "moengage_campaign_rows":
        return [_as_record(row) for row in rows]
    return rows


def keyed_mlog_truth(
    rows: list[dict[str, t.Any]], first_day: dt.date, last_day: dt.date
) -> list[dict[str, t.Any]]:
    """Messangi truth rows with the ``mlog_id`` the tap gives them, keyed by the tap's code."""
    start, end = (
        iso_utc(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc))
        for day in (first_day, last_day + dt.timedelta(days=1))
    )
    keyed = keyed_lines(rows, raw=False, start=start, end=end)
    assert (keyed.outside, len(keyed.records)) == (0, len(rows)), "truth outside its days"
    return [
        {"mlog_id": record["mlog_id"], **{name: record[name] for name in row}}
        for row, record in zip(rows, keyed.records, strict=True)
    ]


def _as_record(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """A MoEngage truth row as the tap should emit it: one column per header."""
    values = row["values"]
    names = column_names(list(values))
    fixed = {k: row[k] for k in ("report_name", "report_date", "row_number")}
    return {**fixed, **dict(zip(names, values.values(), strict=True))}


def differences(
    warehouse: Warehouse,
    emulator: EmulatorServer,
    first_day: dt.date,
    last_day: dt.date,
    streams: t.Iterable[str] = CLEVERTAP_STREAMS,
) -> dict[str, dict[str, int]]:
    """Per stream: rows missing, unexpected and stale against the emulator's truth."""
    report = {}
    for stream in streams:
        keys = PRIMARY_KEYS[stream]
        truth = {
            tuple(row[k] for k in keys): row
            for row in truth_rows(emulator, stream, first_day, last_day)
        }
        held = warehouse.tables.get(stream, {})
        stale = [
            key
            for key, row in truth.items()
            if key in held and any(held[key].get(f) != v for f, v in row.items())
        ]
        report[stream] = {
            "truth": len(truth),
            "missing": len(truth.keys() - held.keys()),
            "unexpected": len(held.keys() - truth.keys()),
            "stale": len(stale),
        }
    return report


def assert_equal_to_truth(report: dict[str, dict[str, int]]) -> None:
    for stream, counts in report.items():
        assert counts["truth"] > 0, f"{stream}: the emulator holds nothing; the test proves nothing"
        assert (counts["missing"], counts["unexpected"], counts["stale"]) == (0, 0, 0), (
            stream,
            counts,
        )


def json_type(schema: dict[str, t.Any]) -> tuple[str, str | None]:
    """The one type of a property; text, object or array as sent (any of them) is JSON."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    kinds = [kind for kind in types if kind != "null"]
    if len(kinds) > 1 and {"object", "array"} & set(kinds):
        return "object", None
    (kind,) = kinds
    return kind, schema.get("format")
