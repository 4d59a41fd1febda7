"""A Singer target that commits at every STATE, then dies on purpose after some records.

It stands for any target that loads eagerly: the records before a STATE are written (upserted
by primary key) to a JSON file, then the STATE is echoed on stdout, which Meltano stores
as the run's state. After ``FLAKY_RECORDS_BEFORE_DEATH`` records it exits with status 1, as a
target would on a refused row. A tap that emitted a STATE before the records it vouches for
would leave, after the death, a stored state past rows that were never committed.

Usage: python flaky_target.py   (FLAKY_WAREHOUSE: the JSON file; FLAKY_KEYS: JSON of the
primary keys by stream; FLAKY_RECORDS_BEFORE_DEATH: a number, or unset to never die)
"""

from __future__ import annotations

import json
import os
import sys
import typing as t
from pathlib import Path


def main() -> None:
    warehouse_path = Path(os.environ["FLAKY_WAREHOUSE"])
    keys: dict[str, list[str]] = json.loads(os.environ["FLAKY_KEYS"])
    limit = int(os.environ.get("FLAKY_RECORDS_BEFORE_DEATH") or sys.maxsize)
    tables: dict[str, dict[str, dict[str, t.Any]]] = (
        json.loads(warehouse_path.read_text()) if warehouse_path.exists() else {}
    )
    pending: list[tuple[str, dict[str, t.Any]]] = []
    seen = 0
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "RECORD":
            seen += 1
            if seen > limit:
                sys.stderr.write(f"flaky target: refusing record {seen} on purpose\n")
                sys.exit(1)
            pending.append((message["stream"], message["record"]))
        elif message["type"] == "STATE":
            for stream, record in pending:  # commit, then vouch for it
                key = json.dumps([record[k] for k in keys[stream]])
                tables.setdefault(stream, {})[key] = record
            pending = []
            warehouse_path.write_text(json.dumps(tables))
            sys.stdout.write(json.dumps(message["value"]) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
