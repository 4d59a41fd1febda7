"""What meltanolabs-target-snowflake makes of every column: plain names, the types users expect.

No Snowflake account is reachable here, and fakesnow (the usual stand-in) cannot take this
target's load path: it fails at the first ``PUT`` to the user stage ``@~``, and its
``MERGE ... FROM @stage``, ``QUALIFY`` and ``REMOVE`` do not parse either. So the target's
own connector, in its own venv, says how it would name and type each column of each stream
(with the ``timestamp_type`` meltano.yml configures): that is the DDL it would run.
"""

from __future__ import annotations

import json
import subprocess
import typing as t

import pytest
import yaml

from tap_msgreports.tap import TapMsgReports
from tests.conftest import tap_config
from tests.e2e.conftest import ROOT, install
from tests.harness import json_type

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]
COLUMNS_SCRIPT = ROOT / "tests" / "e2e" / "snowflake_columns.py"
#: Snowflake types by JSON Schema type and format (integers are NUMBER(38,0), shown DECIMAL).
EXPECTED = {
    ("integer", None): "DECIMAL",
    ("string", None): "VARCHAR",
    ("string", "date-time"): "TIMESTAMP_TZ",
    ("string", "date"): "DATE",
    ("array", None): "VARIANT",
    ("object", None): "VARIANT",
    ("number", None): "FLOAT",
    ("boolean", None): "BOOLEAN",
}


@pytest.fixture(scope="module")
def target_python(meltano: Path) -> Path:
    install(meltano, "target-snowflake")
    return ROOT / ".meltano" / "loaders" / "target-snowflake" / "venv" / "bin" / "python"


def target_config() -> dict[str, t.Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (loader,) = [p for p in project["plugins"]["loaders"] if p["name"] == "target-snowflake"]
    return dict(loader["config"])


def test_every_column_is_a_plain_name_of_the_expected_type(
    emulator: EmulatorServer, target_python: Path
) -> None:
    catalog = TapMsgReports(config=tap_config(emulator)).catalog_dict
    streams = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    done = subprocess.run(
        [str(target_python), str(COLUMNS_SCRIPT)],
        input=json.dumps({"config": target_config(), "streams": streams}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    columns = json.loads(done.stdout)
    assert set(columns) == {"campaigns", "message_reports", "mlog_items", "moengage_campaign_rows"}
    checked = 0
    for stream, properties in streams.items():
        names = [column["name"] for column in columns[stream].values()]
        assert len(set(names)) == len(names), stream  # no two alike once upper-cased
        assert not any(name.startswith("_SDC_") for name in names), stream  # the target's own
        for name, schema in properties.items():
            column = columns[stream][name]
            assert not column["quoted"], (stream, name)  # loads as a plain, upper-cased name
            assert column["type"] == EXPECTED[json_type(schema)], (stream, name, column)
            checked += 1
    assert checked > 80  # the MoEngage columns were learnt from the files' headers
