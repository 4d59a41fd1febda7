"""A corrupted or foreign state is ignored with a warning, never a crash or a skipped day.

A state file that is not JSON at all is refused with one line: nothing in it can be trusted.
"""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_msgreports.state import usable_state
from tap_msgreports.tap import TapMsgReports
from tests.conftest import START, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli

if t.TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = pytest.mark.emulator


def state_with(value: object, key: object = "scheduled_at") -> dict[str, t.Any]:
    partition = {
        "context": {"account_id": "EMU-ACCT-0001"},
        "replication_key": key,
        "replication_key_value": value,
    }
    return {"bookmarks": {"campaigns": {"partitions": [partition]}}}


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (state_with("not a date"), "it is not a date"),
        (state_with("2026-13-45"), "it is not a date"),
        (state_with(12345), "it is not a date"),
        (state_with("2026-01-10", key="some_other_key"), "another replication key"),
    ],
)
def test_an_unreadable_bookmark_is_ignored_with_a_warning(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture, state: dict[str, t.Any], why: str
) -> None:
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emulator, only="clevertap"), state)
    assert why in caplog.text
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.dates().map(str),
        st.datetimes().map(lambda d: d.isoformat()),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_any_bookmark_value_runs_to_completion(emulator: EmulatorServer, value: object) -> None:
    config = tap_config(
        emulator,
        only="clevertap",
        clevertap_accounts=tap_config(emulator)["clevertap_accounts"][:1],
    )
    run = run_tap(config, state_with(value))  # no exception: that is the property
    assert run.final_state is not None  # (a bookmark after end_date rightly reads nothing)


#: States whose shape the SDK cannot read: each crashed the tap before it was checked.
MISSHAPEN = [
    {"bookmarks": "x"},
    {"bookmarks": {"campaigns": "x"}},
    {"bookmarks": {"campaigns": {"partitions": "x"}}},
    {"bookmarks": {"campaigns": {"partitions": [1, {"context": "x"}]}}},
    {"bookmarks": {"campaigns": {"progress_markers": "x"}}},
    {
        "bookmarks": {
            "message_reports": {
                "partitions": [
                    {
                        "context": {"account_id": "EMU-ACCT-0001"},
                        "open_days": 5,
                        "progress_markers": [1],
                    },
                ]
            }
        }
    },
]


@pytest.mark.parametrize("state", MISSHAPEN)
def test_a_misshapen_state_is_ignored_with_a_warning_and_nothing_is_lost(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture, state: object
) -> None:
    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config(emulator, only="clevertap"), state)  # type: ignore[arg-type]
    assert "Ignoring part of the state" in caplog.text or "open_days" in json.dumps(state)
    warehouse = Warehouse()
    warehouse.load(run)
    assert_equal_to_truth(differences(warehouse, emulator, START, emulator.world.today))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "bookmarks",
                    "campaigns",
                    "mlog_items",
                    "partitions",
                    "context",
                    "progress_markers",
                    "replication_key_value",
                    "open_days",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
OFFLINE = {  # plans need no request
    "clevertap_account_id": "ACC-1",
    "clevertap_passcode": "p-12345678",
    "messangi_api_url": "https://api.example.com",
    "messangi_api_key": "k-12345678",
}


@settings(max_examples=300, deadline=None)
@given(state=JSON)
def test_any_state_loads_and_every_partition_can_plan(state: object) -> None:
    usable, dropped = usable_state(state)
    assert all("\n" not in line for line in dropped)
    tap = TapMsgReports(config=OFFLINE, state=usable, setup_mapper=False)
    tap._reset_state_progress_markers()  # what sync_all does first
    for stream in tap.streams.values():
        for context in stream.partitions or [{}]:
            stream.plan(context)  # type: ignore[attr-defined]


def run_with_state(
    tmp_path: Path, config: dict[str, t.Any], state_text: str
) -> subprocess.CompletedProcess[str]:
    state_file = tmp_path / "state.json"
    state_file.write_text(state_text)
    return run_cli(tmp_path, config, arguments=["--state", str(state_file)])


def test_a_state_file_that_is_not_an_object_is_ignored_with_a_warning(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    done = run_with_state(tmp_path, tap_config(emulator, only="clevertap"), '["a", "list"]')
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Ignoring part of the state: the state is a list, not an object" in done.stderr
    assert '"type":"RECORD"' in done.stdout


def test_a_state_file_that_is_not_json_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_with_state(tmp_path, OFFLINE, '{"bookmarks": {"campaigns": {"partitions": [')
    assert done.returncode == 1
    assert "the state file is not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing was extracted
