"""Peak memory and rows per second of the tap reading one MoEngage file of N rows.

Usage: .venv/bin/python bench/moengage_memory.py [ROWS ...]   (default: 100 1000000)

For each size, the emulator builds the file first (not timed), then the tap runs as a
subprocess with stdout to /dev/null; its peak RSS comes from the kernel (wait4).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tap_msgreports.emulator import EmulatorServer, World

REPORT = "Daily Push Report"


def measure(rows: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of the tap extracting one file of ``rows`` rows."""
    today = dt.datetime.now(dt.timezone.utc).date()
    with EmulatorServer(World(seed=1, today=today), max_lifetime=1800) as emulator:
        emulator.moengage.rows_per_file = rows
        emulator.moengage.body_file(REPORT, today - dt.timedelta(days=1))
        config = {k: v for k, v in emulator.tap_config().items() if k.startswith("moengage_")}
        config |= {
            "moengage_reports": [REPORT],
            "start_date": (today - dt.timedelta(days=1)).isoformat(),
            "end_date": today.isoformat(),
        }
        with tempfile.TemporaryDirectory() as tmp, Path(os.devnull).open("w") as sink:
            path = Path(tmp) / "config.json"
            path.write_text(json.dumps(config))
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "tap_msgreports.tap", "--config", str(path)],
                stdout=sink,
                stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        msg = f"the tap failed with {process.returncode}"
        raise RuntimeError(msg)
    return seconds, usage.ru_maxrss / 1024


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
