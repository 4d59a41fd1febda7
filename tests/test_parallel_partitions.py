"""Partitions in parallel, against the emulator: fetches overlap across accounts within each
account's limit, the tables equal the truth, every STATE covers only written records, and a
partition that fails stops the run after the earlier partitions are written and bookmarked."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import random
import threading
import time
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_msgreports.client import WindowedReportStream
from tap_msgreports.errors import SourceAuthError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import Account, EmulatorServer, FaultPlan, World
from tests.conftest import START, TODAY, tap_config
from tests.harness import (
    CLEVERTAP_STREAMS,
    PRIMARY_KEYS,
    TapRun,
    Warehouse,
    assert_equal_to_truth,
    differences,
    parse_messages,
    run_tap,
    truth_rows,
)
from tests.secret_scan import record_output

if t.TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.emulator
LATENCY_MS = 150
PER_ACCOUNT = 3  # clevertap_max_concurrency, CleverTap's limit


def accounts(count: int) -> list[Account]:
    zones = ("UTC", "Asia/Kolkata", "America/New_York")
    return [Account(f"EMU-ACCT-{n:04d}", zones[n % 3]) for n in range(1, count + 1)]


@contextlib.contextmanager
def emulator_of(count: int, latency_ms: float = 0) -> Iterator[EmulatorServer]:
    world = World(seed=7, today=TODAY, scale=6, accounts=accounts(count))
    faults = FaultPlan(latency_ms=latency_ms, vendors=["clevertap"]) if latency_ms else None
    with EmulatorServer(world, faults, max_lifetime=300) as server:
        yield server


def most_at_once(server: EmulatorServer, seconds: float) -> int:
    """The most CleverTap requests in flight at once, each taking ``seconds`` from arrival."""
    arrivals = sorted(e.arrived for e in server.request_log() if e.vendor == "clevertap")
    return max(
        sum(1 for other in arrivals if start <= other < start + seconds) for start in arrivals
    )


def test_accounts_are_fetched_at_once_within_each_accounts_limit() -> None:
    with emulator_of(6, LATENCY_MS) as server:
        run = run_tap(tap_config(server, only="clevertap"))
        warehouse = Warehouse()
        warehouse.load(run)
        assert_equal_to_truth(differences(warehouse, server, START, TODAY))
        log = [entry for entry in server.request_log() if entry.vendor == "clevertap"]
        peaks = server.status()["max_in_flight"]
        overlap = most_at_once(server, LATENCY_MS / 1000)
    assert len(peaks) == 6
    assert max(peaks.values()) <= PER_ACCOUNT  # each account's own limit, across both streams
    assert all(entry.status == 200 for entry in log)  # never a 429 for too many in flight
    assert overlap > PER_ACCOUNT  # several accounts at once


def test_one_account_at_a_time_is_what_a_cap_of_three_gives() -> None:
    with emulator_of(4, LATENCY_MS) as server:
        run_tap(tap_config(server, only="clevertap", max_requests_in_flight=PER_ACCOUNT))
        assert most_at_once(server, LATENCY_MS / 1000) <= PER_ACCOUNT


def capture_failed_run(config: dict[str, t.Any]) -> tuple[TapRun, BaseException]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SourceAuthError) as caught:
        TapMsgReports(config=config).sync_all()
    record_output("in-process tap stdout", out.getvalue())
    return parse_messages(out.getvalue()), caught.value


def partition_bookmarks(run: TapRun, stream: str) -> dict[str, str]:
    final = run.final_state or {}
    partitions = final.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {
        p["context"]["account_id"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }


def test_a_refused_account_stops_the_run_after_the_earlier_ones_are_bookmarked() -> None:
    with emulator_of(5, 50) as server:
        config = tap_config(server, only="clevertap")
        refused = config["clevertap_accounts"][2]
        refused["passcode"] = "not-the-passcode"
        run, error = capture_failed_run(config)
        assert str(error).startswith(
            f"CleverTap refused the credentials of account {refused['account_id']}: "
        )
        first = CLEVERTAP_STREAMS[0]
        written = {record["account_id"] for record in run.records.get(first, [])}
        earlier = {each["account_id"] for each in config["clevertap_accounts"][:2]}
        assert written == earlier  # nothing of the accounts after it, fetched or not
        assert partition_bookmarks(run, first) == dict.fromkeys(earlier, TODAY.isoformat())
        # A run with the credentials fixed reads the earlier accounts from their bookmarks.
        refused["passcode"] = server.world.passcode(server.world.accounts[2])
        again = run_tap(config, run.final_state)
        warehouse = Warehouse()
        for each in (run, again):
            warehouse.load(each)
        assert_equal_to_truth(differences(warehouse, server, START, TODAY))


# ----- the property: every STATE covers only records written before it -------------------------


def uncovered(run: TapRun, server: EmulatorServer) -> list[str]:
    """Truth rows of a bookmarked day not written before the STATE that bookmarks it."""
    truth: dict[tuple[str, str], set[tuple[t.Any, ...]]] = {}
    written: dict[str, set[tuple[t.Any, ...]]] = {stream: set() for stream in CLEVERTAP_STREAMS}
    problems = []
    for message in run.messages:
        if message["type"] == "RECORD":
            stream, record = message["stream"], message["record"]
            written[stream].add(tuple(record[k] for k in PRIMARY_KEYS[stream]))
            continue
        if message["type"] != "STATE":
            continue
        for stream in CLEVERTAP_STREAMS:
            for account, day in partition_bookmarks(TapRun([message]), stream).items():
                if (stream, day) not in truth:
                    rows = truth_rows(server, stream, START, dt.date.fromisoformat(day))
                    truth[stream, day] = {
                        tuple(row[k] for k in PRIMARY_KEYS[stream]) for row in rows
                    }
                keys = {key for key in truth[stream, day] if key[0] == account}
                if missing := keys - written[stream]:
                    problems.append(f"{stream} {account} up to {day}: {len(missing)} not written")
    return problems


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(2, 4),
    cap=st.integers(1, 10),
)
def test_every_state_covers_only_written_records(seed: int, count: int, cap: int) -> None:
    rng, lock = random.Random(seed), threading.Lock()  # noqa: S311 - a test's dice
    read = WindowedReportStream._timed_read  # the fetch of one window

    def delayed(stream: WindowedReportStream, *args: t.Any) -> t.Any:
        with lock:
            delay = rng.choice((0.0, 0.0, 0.005, 0.02, 0.05))
        time.sleep(delay)  # completions in a random order, across partitions
        return read(stream, *args)

    with (
        emulator_of(count) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(WindowedReportStream, "_timed_read", delayed)
        run = run_tap(tap_config(server, only="clevertap", max_requests_in_flight=cap))
        assert uncovered(run, server) == []
        warehouse = Warehouse()
        warehouse.load(run)
        assert_equal_to_truth(differences(warehouse, server, START, TODAY))
