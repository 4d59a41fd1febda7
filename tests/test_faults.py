"""The fault suite: every stream under 429 storms, 5xx, drops, truncation, garbage and
timeouts, and killed at random points of its output. The result must equal the truth every
time; the report (``tests/fault_report.py``) is printed at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import random
import typing as t
from dataclasses import dataclass, field

import pytest

from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import EmulatorServer, FaultPlan, LoggedRequest, World
from tests.conftest import TODAY, tap_config
from tests.fault_report import REPORT, KillOutcome, kind_of, stream_outcomes
from tests.harness import PRIMARY_KEYS, Warehouse, differences, run_tap
from tests.processes import RECORD_TYPE, STATE_TYPE, STREAM_FIELD, run_and_kill, write_config

if t.TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
STREAMS = tuple(PRIMARY_KEYS)
START = TODAY - dt.timedelta(days=5)
#: Every stream gets at least this many faults of each kind of its case, whatever the dice.
AT_LEAST = 3


@dataclass(frozen=True)
class Case:
    """One kind of trouble, given to every stream: a storm at a rate, after a few sure hits."""

    rates: dict[str, float]
    retry_after: int | None = None
    slow_seconds: float = 1.0
    config: dict[str, t.Any] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return list(self.rates)

    def plans(self, seed: int) -> list[FaultPlan]:
        """One plan per stream: ``AT_LEAST`` faults of each kind first, then the rates."""
        script = [kind for _ in range(AT_LEAST) for kind in self.kinds]
        return [
            FaultPlan(
                streams=[stream],
                script=list(script),
                rates=self.rates,
                retry_after=self.retry_after,
                slow_seconds=self.slow_seconds,
                seed=seed * 10 + number,
            )
            for number, stream in enumerate(STREAMS)
        ]

    def report_kinds(self) -> list[str]:
        """The kinds as the report names them (a 429 with Retry-After is its own)."""
        return ["429 Retry-After" if k == "429" and self.retry_after else k for k in self.kinds]


#: Fewer, larger windows for the cases where every fault costs a second.
FEWER_WINDOWS = {
    "messangi_window_hours": 24,
    "clevertap_report_window_days": 2,
    "clevertap_campaign_window_days": 2,
}
CASES = {
    "429 storm, no Retry-After": Case(rates={"429": 0.3}),
    # Backoff alone would wait at most 3 s here and starts at 0.01 s: only a tap that reads
    # Retry-After waits the full second every time.
    "429 storm, Retry-After 1": Case(
        rates={"429": 0.3}, retry_after=1, config={**FEWER_WINDOWS, "backoff_max_seconds": 3}
    ),
    "5xx on 10%": Case(rates={"500": 0.05, "503": 0.05}),
    "dropped connections": Case(rates={"drop": 0.1}),
    "truncated bodies": Case(rates={"truncate": 0.1}),
    "malformed bodies": Case(rates={"malformed": 0.1}),
    "slower than the timeout": Case(rates={"slow": 0.1}, slow_seconds=1.5, config=FEWER_WINDOWS),
}


def small_emulator(seed: int) -> EmulatorServer:
    server = EmulatorServer(World(seed=seed, today=TODAY, scale=2), max_lifetime=300)
    server.messangi.lines_per_day = 20
    server.moengage.rows_per_file = 30
    return server


def fast_config(server: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    defaults = {
        "start_date": START.isoformat(),
        "request_timeout": 1,
        "max_retries": 12,
        "backoff_max_seconds": 0.3,
        "clevertap_report_window_days": 1,
        "clevertap_campaign_window_days": 1,
        "messangi_window_hours": 12,
    }
    return tap_config(server, **{**defaults, **changes})


def window_of(stream: str, server: EmulatorServer) -> tuple[dt.date, dt.date]:
    if stream == "moengage_campaign_rows":  # files live 7 days; today's is not generated yet
        return TODAY - dt.timedelta(days=5), server.world.today - dt.timedelta(days=1)
    return START, server.world.today


def rows_against_truth(warehouse: Warehouse, server: EmulatorServer) -> dict[str, dict[str, int]]:
    return {s: differences(warehouse, server, *window_of(s, server), (s,))[s] for s in STREAMS}


def early_retries(log: Sequence[LoggedRequest]) -> tuple[int, list[float]]:
    """How many 429s with Retry-After were retried, and each wait shorter than asked."""
    checked, early = 0, []
    log = sorted(log, key=lambda entry: entry.arrived)
    for position, entry in enumerate(log):
        if entry.retry_after is None:
            continue
        later = next((e for e in log[position + 1 :] if e.resource == entry.resource), None)
        if later is not None:
            checked += 1
            waited = later.arrived - entry.arrived
            if waited < entry.retry_after:
                early.append(round(waited, 3))
    return checked, early


@pytest.mark.parametrize("name", list(CASES))
def test_every_stream_survives_every_fault(name: str) -> None:
    case = CASES[name]
    with small_emulator(seed=20) as server:
        config = fast_config(server, **case.config)
        # Discovery first, untroubled: its MoEngage header probe is best effort by design
        # (one try per date, then the columns come with the first file read).
        catalog = TapMsgReports(config=config).catalog_dict
        discovered = len(server.request_log())
        server.faults = case.plans(seed=list(CASES).index(name) + 1)
        warehouse = Warehouse()
        warehouse.load(run_tap(config, catalog=catalog))
        log = server.request_log()[discovered:]
        rows = rows_against_truth(warehouse, server)
    outcomes = stream_outcomes(name, log, rows)
    REPORT.cases.extend(outcomes)
    for outcome in outcomes:
        assert outcome.truth > 0, f"{outcome.stream}: the emulator holds nothing"
        assert outcome.equal_to_truth, outcome
        for kind in case.report_kinds():
            assert outcome.injected[kind] >= AT_LEAST, (outcome.stream, kind, outcome.injected)
        assert outcome.survived == outcome.injected_total, outcome
    if case.retry_after:
        for stream in STREAMS:
            checked, early = early_retries([e for e in log if e.stream == stream])
            assert checked >= AT_LEAST, stream
            assert early == [], f"{stream}: retried {early} s after Retry-After: 1"


def test_clevertap_failures_inside_200s_are_survived() -> None:
    """CleverTap's 429 and 500 inside an HTTP 200 ("status": "fail") are retried like real
    ones: each is asked again, and the streams end equal to the truth."""
    name = "CleverTap 429/500 inside a 200"
    kinds = ["200-429", "200-500"]
    streams = ("campaigns", "message_reports")
    with small_emulator(seed=21) as server:
        config = tap_config(
            server,
            only="clevertap",
            start_date=START.isoformat(),
            max_retries=12,
            backoff_max_seconds=0.3,
            clevertap_report_window_days=1,
            clevertap_campaign_window_days=1,
        )
        server.faults = [
            FaultPlan(
                streams=[stream],
                script=kinds * AT_LEAST,
                rates={"200-429": 0.15, "200-500": 0.1},
                seed=210 + number,
            )
            for number, stream in enumerate(streams)
        ]
        warehouse = Warehouse()
        warehouse.load(run_tap(config))
        log = server.request_log()
        rows = {
            s: differences(warehouse, server, START, server.world.today, (s,))[s] for s in streams
        }
    outcomes = stream_outcomes(name, log, rows)
    REPORT.cases.extend(outcomes)
    for outcome in outcomes:
        assert outcome.truth > 0, f"{outcome.stream}: the emulator holds nothing"
        assert outcome.equal_to_truth, outcome
        assert all(outcome.injected[kind] >= AT_LEAST for kind in kinds), outcome.injected
        assert outcome.survived == outcome.injected_total, outcome


def test_the_report_counts_a_fault_survived_only_when_asked_again_and_answered() -> None:
    def entry(resource: str, fault: str | None, status: int | None) -> LoggedRequest:
        return LoggedRequest(0.0, "v", "s", resource, fault, None, status)

    log = [
        entry("a", "500", 500),
        entry("a", None, 429),  # the vendor's own limit: not an answer yet
        entry("a", None, 200),
        entry("b", "malformed", 200),  # accepted as it was: never asked again
        entry("c", "drop", None),
        entry("c", "truncate", 200),
        entry("c", None, 200),
    ]
    rows = {"s": {"truth": 5, "missing": 0, "stale": 0, "unexpected": 0}}
    (outcome,) = stream_outcomes("case", log, rows)
    assert outcome.injected_total == 4
    assert outcome.survived == 3
    assert [kind_of(e) for e in log] == ["500", None, None, "malformed", "drop", "truncate", None]
    rows["s"]["missing"] = 1
    assert stream_outcomes("case", log, rows)[0].survived == 0


# Kills


@dataclass(frozen=True)
class KillCase:
    """How one seed's run is configured, and in which stream it is killed."""

    seed: int

    @property
    def stream(self) -> str:
        return STREAMS[self.seed % len(STREAMS)]

    @property
    def without_lookback(self) -> bool:
        """Most seeds re-read nothing: a bookmark written too early then loses rows."""
        return self.seed < 6

    def config(self, server: EmulatorServer) -> dict[str, t.Any]:
        if self.without_lookback:
            return fast_config(
                server,
                clevertap_lookback_days=0,
                messangi_lookback_days=0,
                clevertap_track_open_days=False,
                clevertap_report_window_days=2,  # a window of two days: the first one can go
                clevertap_campaign_window_days=2,
            )
        return fast_config(server)


def kill_span(output: bytes, stream: str) -> tuple[int, int]:
    """Bytes of a run's output from just after the stream's first STATE to its last record."""
    offset, first_record, after_state, end = 0, None, None, 0
    for line in output.split(b"\n"):
        size = len(line) + 1
        named = STREAM_FIELD.search(line)
        if RECORD_TYPE.search(line) and named and named[1] == stream.encode():
            first_record = offset if first_record is None else first_record
            end = offset + size
        elif STATE_TYPE.search(line) and first_record is not None and after_state is None:
            after_state = offset + size
        offset += size
    assert after_state is not None, f"{stream}: no STATE after its first records"
    assert after_state < end, f"{stream}: nothing after its first STATE"
    return after_state, end


def record_count(run_records: dict[str, list[t.Any]]) -> int:
    return sum(len(records) for records in run_records.values())


@pytest.mark.parametrize("seed", range(10))
def test_killed_at_a_random_point_then_resumed_from_its_state(seed: int, tmp_path: Path) -> None:
    case, rng = KillCase(seed), random.Random(seed)  # noqa: S311 - a test's dice
    with small_emulator(seed=100 + seed) as server:
        config = case.config(server)
        fresh = run_tap(config)  # where the bytes of each stream are, and how much it reads
        start, end = kill_span(fresh.text.encode(), case.stream)
        server.faults = FaultPlan(latency_ms=2, rates={"429": 0.05, "500": 0.05}, seed=seed)
        killed = run_and_kill(write_config(tmp_path, config), after_bytes=rng.randrange(start, end))
        assert killed.state is not None
        assert "Traceback" not in killed.stderr
        if not case.without_lookback:
            server.world.advance(rng.randint(0, 1))  # sometimes a day passes before the rerun
        config["end_date"] = server.world.today.isoformat()
        resumed = run_tap(config, killed.state)
        warehouse = killed.warehouse
        warehouse.load(resumed)
        rows = rows_against_truth(warehouse, server)
    outcome = KillOutcome(
        seed=seed,
        stream=killed.stream,
        lookback_days="0" if case.without_lookback else "default",
        read=killed.read,
        cut_message=killed.cut_message,
        states=killed.states,
        fresh_rows=record_count(fresh.records),
        resumed_rows=record_count(resumed.records),
        missing=sum(r["missing"] for r in rows.values()),
        stale=sum(r["stale"] for r in rows.values()),
        unexpected=sum(r["unexpected"] for r in rows.values()),
    )
    REPORT.kills.append(outcome)
    assert killed.stream == case.stream, "the kill landed in another stream than planned"
    assert all(r["truth"] > 0 for r in rows.values()), rows
    assert outcome.equal_to_truth, rows
    if case.without_lookback:
        # The resumed run started from the state: it read less than a run from start_date.
        assert outcome.resumed_rows < outcome.fresh_rows, outcome
        for stream, records in resumed.records.items():
            assert len(records) <= len(fresh.records[stream]), stream
