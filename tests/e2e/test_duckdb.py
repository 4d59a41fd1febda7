"""target-duckdb as meltano.yml pins it loads every row: the demo's DuckDB counts are true.

With duckdb 1.3 and later, target-duckdb 0.8.0 loads each batch with a ``COPY`` whose CSV
sniffer takes the first row of a batch of the tap's rows for a header, and drops it
(measured: 2,748 of 2,776 mlog_items in batches of 100 with duckdb 1.3.2); meltano.yml pins
duckdb 1.2.2. This loads the tap's own output in many batches and counts every table. It
also pins how an empty text arrives: the target's CSV files cannot tell "" from null, so it
stores NULL (the README and the demo say so); if a release keeps "", this fails, and they
must change.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t

import pytest

from tests.conftest import tap_config
from tests.e2e.conftest import ROOT, install
from tests.e2e.meltano_env import private_meltano_env
from tests.harness import run_tap
from tests.processes import run_recorded

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.emulator]
BATCH = 100
#: Run by the plugin's own interpreter, so the duckdb that reads is the one that wrote.
READ_TABLES = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
streams = json.loads(sys.argv[2])
counts = {s: con.execute(f"SELECT count(*) FROM msgreports.{s}").fetchone()[0] for s in streams}
columns = [r[0] for r in con.execute(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_name = 'moengage_campaign_rows' AND data_type = 'VARCHAR'").fetchall()]
nulls = [[*key, c] for c in columns for key in con.execute(
    f'SELECT report_name, CAST(report_date AS VARCHAR), row_number '
    f'FROM msgreports.moengage_campaign_rows WHERE "{c}" IS NULL').fetchall()]
print(json.dumps({"counts": counts, "moengage_null_cells": nulls}))
"""


def test_every_batch_is_loaded_whole_and_empty_texts_become_null(
    meltano: Path, emulator: EmulatorServer, tmp_path: Path
) -> None:
    install(meltano, "target-duckdb")
    emulator.messangi.lines_per_day = 120
    run = run_tap(tap_config(emulator))
    sent = {stream: len(records) for stream, records in run.records.items()}
    assert len(sent) == 4
    assert sent["mlog_items"] > 5 * BATCH
    empty_cells = {
        (row["report_name"], row["report_date"], row["row_number"], column)
        for row in run.records["moengage_campaign_rows"]
        for column, value in row.items()
        if value == ""
    }
    assert empty_cells, "no empty text in the MoEngage rows: the test proves nothing"
    database = tmp_path / "pin.duckdb"
    done = run_recorded(
        [str(meltano), "invoke", "target-duckdb"],
        what="meltano invoke target-duckdb",
        input="\n".join(json.dumps(message) for message in run.messages) + "\n",
        cwd=ROOT,
        env={
            **os.environ,
            **private_meltano_env(tmp_path),
            "TARGET_DUCKDB_FILEPATH": str(database),
            "TARGET_DUCKDB_BATCH_SIZE_ROWS": str(BATCH),
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    read = subprocess.run(
        [str(python), "-c", READ_TABLES, str(database), json.dumps(list(sent))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(read.stdout)
    assert loaded["counts"] == sent  # not one row of any batch dropped
    null_cells = {tuple(cell) for cell in loaded["moengage_null_cells"]}
    assert empty_cells <= null_cells  # every "" the tap sent is a NULL in DuckDB
