"""Extract mlog_items from the emulator and report lines per second, requests and split depth.

Usage: .venv/bin/python bench/mlog_extract.py [--days N] [--lines-per-day N] [--max-items N]

``--lines-per-day`` is per channel (five channels). The tap runs as a subprocess, its records
counted from stdout; the split depth comes from its "splitting in two" log lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tap_msgreports.emulator import EmulatorServer, World

SPLIT = re.compile(r"window (\S+)\.\.(\S+) too large .*\(split depth (\d+)\)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--lines-per-day", type=int, default=4000)
    parser.add_argument("--max-items", type=int, default=1000)
    args = parser.parse_args()
    today = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)
    world = World(seed=1, today=today)
    with EmulatorServer(world, max_lifetime=900) as emulator:
        emulator.messangi.lines_per_day = args.lines_per_day
        emulator.messangi.max_items_per_response = args.max_items
        config = {
            key: value
            for key, value in emulator.tap_config().items()
            if key.startswith("messangi_")
        }
        config |= {
            "start_date": (today - dt.timedelta(days=args.days - 1)).isoformat(),
            "end_date": today.isoformat(),
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.json"
            path.write_text(json.dumps(config))
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "tap_msgreports.tap", "--config", str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            )
            seconds = time.perf_counter() - started
        lines = done.stdout.count('"type":"RECORD"')
        requests = emulator.status()["requests"]["messangi"]
    splits = SPLIT.findall(done.stderr)
    depth = max((int(level) for _, _, level in splits), default=0)
    smallest = min(
        (
            (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
            for start, end, _ in splits
        ),
        default=None,
    )
    print(f"lines extracted:         {lines}")
    print(f"wall time:               {seconds:.2f} s (tap process, startup included)")
    print(f"lines per second:        {lines / seconds:,.0f}")
    print(f"requests:                {requests} ({requests / args.days:.1f} per day of data)")
    print(f"deepest split:           {depth} (smallest window refused as too large: {smallest} s)")


if __name__ == "__main__":
    main()
