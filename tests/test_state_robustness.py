"""A corrupted or foreign state is ignored with a warning, never a crash or a skipped day."""

from __future__ import annotations

import logging
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import START, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap

if t.TYPE_CHECKING:
    from tap_msgreports.emulator import EmulatorServer

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
