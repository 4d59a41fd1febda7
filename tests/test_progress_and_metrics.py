"""What a run tells people watching it: progress per window and partition, metrics per partition."""

from __future__ import annotations

import json
import logging
import typing as t
from collections import Counter

import pytest

from tests.conftest import tap_config
from tests.harness import run_tap

if t.TYPE_CHECKING:
    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator


def metric_points(caplog: pytest.LogCaptureFixture, metric: str) -> list[dict[str, t.Any]]:
    points = []
    for record in caplog.records:
        message = record.getMessage()
        if record.name == "singer_sdk.metrics" and message.startswith("METRIC: "):
            point = json.loads(message.removeprefix("METRIC: "))
            if point["metric"] == metric:
                points.append(point)
    return points


def test_records_and_time_are_reported_under_each_partition(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        run = run_tap(tap_config(emulator, only="messangi", start_date="2026-01-18"))
    emitted = Counter(record["channel"] for record in run.records["mlog_items"])
    counted: Counter[str] = Counter()
    for point in metric_points(caplog, "record_count"):
        counted[point["tags"]["context"]["channel"]] += point["value"]
    assert counted == emitted
    assert len(emitted) == 5  # every channel had lines: each count has its own partition
    timed = [p["tags"]["context"]["channel"] for p in metric_points(caplog, "sync_duration")]
    assert sorted(timed) == sorted(emitted)


def test_each_window_and_partition_says_how_far_the_stream_is(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        run_tap(tap_config(emulator, only="messangi", start_date="2026-01-18"))
    lines = [r.getMessage() for r in caplog.records if "mlog_items" in r.getMessage()]
    assert any("Messangi channel E mlog_items: window " in line for line in lines)
    assert any("(window 2/3, partition 2/5, " in line for line in lines)
    summaries = [line for line in lines if "records from 3/3 windows" in line]
    assert len(summaries) == 5
    assert summaries[-1].endswith("(partition 5/5)")
