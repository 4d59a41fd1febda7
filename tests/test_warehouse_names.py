"""Every table and column name loads unquoted into PostgreSQL and Snowflake, without collisions."""

from __future__ import annotations

import re
import typing as t

import pytest

from tap_msgreports.moengage.columns import RESERVED
from tap_msgreports.tap import TapMsgReports
from tests.conftest import tap_config

if t.TYPE_CHECKING:
    from tap_msgreports_emulator import EmulatorServer

#: Unquoted identifiers: a letter or _, then letters, digits, _ (Snowflake also allows $,
#: PostgreSQL folds to lower case and cuts at 63 bytes).
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: JSON Schema types and formats that map to a plain column in both warehouses.
PLAIN_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
FORMATS = {None, "date", "date-time"}


@pytest.mark.emulator
def test_names_and_types_of_every_stream(emulator: EmulatorServer) -> None:
    catalog = TapMsgReports(config=tap_config(emulator)).catalog_dict
    streams = {
        entry["tap_stream_id"]: entry["schema"]["properties"] for entry in catalog["streams"]
    }
    assert set(streams) == {"campaigns", "message_reports", "mlog_items", "moengage_campaign_rows"}
    for stream, properties in streams.items():
        assert IDENTIFIER.match(stream)
        names = list(properties)
        assert len({name.upper() for name in names}) == len(names), stream  # Snowflake upper-cases
        for name, spec in properties.items():
            assert IDENTIFIER.match(name), (stream, name)
            assert name not in RESERVED, (stream, name)
            assert not name.startswith("_sdc_"), (stream, name)  # the targets' own columns
            types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
            assert set(types) <= PLAIN_TYPES, (stream, name, types)
            assert spec.get("format") in FORMATS, (stream, name)
    # The MoEngage columns were learnt from the files' headers at discovery.
    assert len(streams["moengage_campaign_rows"]) > 40
