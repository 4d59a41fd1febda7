"""The SDK's standard tap tests, against the emulator."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.testing import get_tap_test_class

from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import EmulatorServer, World
from tests.conftest import TODAY, tap_config

# The test class needs its config when it is defined, so this emulator starts at import;
# it stops after the module (fixture below) or, at the latest, after ten minutes.
_EMULATOR = EmulatorServer(World(seed=3, today=TODAY, scale=3), max_lifetime=600).start()
_EMULATOR.messangi.lines_per_day = 10


@pytest.fixture(scope="module", autouse=True)
def _stop_emulator() -> t.Iterator[None]:
    yield
    _EMULATOR.stop()


TestTapMsgReports = get_tap_test_class(TapMsgReports, config=tap_config(_EMULATOR))
