"""Peak memory and rows per second of the tap reading one MoEngage file of N rows.

Usage: .venv/bin/python bench/moengage_memory.py [ROWS ...]   (default: 100 1000000)

For each size, the emulator builds the file first (not timed; a million rows take ~40 s) and
stays up while the tap runs as a subprocess; its peak RSS comes from the kernel (wait4). Its
output goes to a temporary file (page cache, not the tap's memory) whose RECORD lines are
counted: a run that read nothing would make a meaningless ratio. bench/memory.py turns two
sizes into figure 3.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import common

REPORT = "Daily Push Report"
TIMEOUT = 900  # per tap run


def measure(rows: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of the tap extracting one file of ``rows`` rows.

    Raises:
        common.BenchError: when the tap does not write ``rows`` records.
    """
    today = common.emulator_today()
    day = today - dt.timedelta(days=1)
    with common.emulator() as server:
        server.moengage.rows_per_file = rows
        common.log(f"memory: building a MoEngage file of {rows:,} rows (not timed)")
        server.moengage.body_file(REPORT, day)
        config = common.source_config(
            server,
            "moengage_",
            moengage_reports=[REPORT],
            start_date=day.isoformat(),
            end_date=today.isoformat(),
        )
        common.log(f"memory: the tap reads {rows:,} rows")
        with tempfile.TemporaryDirectory(prefix="bench-moengage-") as tmp:
            out = Path(tmp) / "tap.jsonl"
            run = common.run_tap(config, timeout=TIMEOUT, stdout=out)
            records = common.count_records(out)
    if records != rows:
        msg = f"memory: the tap wrote {records:,} records from a file of {rows:,} rows"
        raise common.BenchError(msg)
    return run.seconds, run.peak_rss_mb


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [100, 1_000_000]
    results = {rows: measure(rows) for rows in sizes}
    for rows, (seconds, peak) in results.items():
        rate = rows / seconds
        print(f"{rows:>9} rows: {seconds:6.1f} s, {rate:>9,.0f} rows/s, peak RSS {peak:6.1f} MB")
    if len(sizes) > 1:
        small, large = results[min(sizes)][1], results[max(sizes)][1]
        print(f"peak RSS ratio, {max(sizes)} rows / {min(sizes)} rows: {large / small:.2f}")


if __name__ == "__main__":
    main()
