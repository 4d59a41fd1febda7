"""Extract mlog_items from the emulator; check it against the truth; report speed and splits.

Usage: .venv/bin/python bench/mlog_extract.py [--days N] [--lines-per-day N] [--max-items N]
       [--max-report-lines N]

``--lines-per-day`` is per channel (five channels). The emulator's today is fixed, so every run
reads the same lines. The tap runs as a subprocess; its records are compared with the
emulator's truth (keyed as the tap keys them) and the run fails loudly on any difference. The
split depth comes from the tap's "too large (...); splitting in N (split depth D)" log lines;
the one reported is the deepest reached on the largest day.
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
import typing as t
from collections import Counter
from pathlib import Path

from tap_msgreports.messangi.lines import iso_utc, keyed_lines
from tap_msgreports_emulator import EmulatorServer, World
from tap_msgreports_emulator.messangi import DEFAULT_MAX_REPORT_LINES

TODAY = dt.date(2026, 1, 20)  # the emulator's today: a fixed date, so every run is the same
SPLIT = re.compile(r"window (\S+)\.\.(\S+) too large .*\(split depth (\d+)\)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--lines-per-day", type=int, default=4000)
    parser.add_argument("--max-items", type=int, default=1000)
    parser.add_argument("--max-report-lines", type=int, default=DEFAULT_MAX_REPORT_LINES)
    args = parser.parse_args()
    first = TODAY - dt.timedelta(days=args.days - 1)
    with EmulatorServer(World(seed=1, today=TODAY), max_lifetime=900) as emulator:
        emulator.messangi.lines_per_day = args.lines_per_day
        emulator.messangi.max_items_per_response = args.max_items
        emulator.messangi.max_report_lines = args.max_report_lines
        config = {
            key: value
            for key, value in emulator.tap_config().items()
            if key.startswith("messangi_")
        }
        config |= {"start_date": first.isoformat(), "end_date": TODAY.isoformat()}
        done, seconds = run_tap(config)
        requests = emulator.status()["requests"]["messangi"]
        truth = emulator.truth("mlog_items", first, TODAY)
    records = [
        message["record"]
        for message in map(json.loads, done.stdout.splitlines())
        if message["type"] == "RECORD"
    ]
    check_against_truth(records, truth, first)
    per_day = Counter(row["date"][:10] for row in truth)
    largest, largest_lines = max(per_day.items(), key=lambda item: (item[1], item[0]))
    depths = [int(level) for start, _, level in SPLIT.findall(done.stderr) if start[:10] == largest]
    print(f"lines extracted:         {len(records)} (equal to the emulator's truth)")
    print(f"wall time:               {seconds:.2f} s (tap process, startup included)")
    print(f"lines per second:        {len(records) / seconds:,.0f}")
    print(f"requests:                {requests} ({requests / args.days:.1f} per day of data)")
    print(
        f"largest day:             {largest}, {largest_lines} lines: "
        f"split depth {max(depths, default=0)} ({len(depths)} windows split)"
    )


def run_tap(config: dict[str, t.Any]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the tap on ``config``; on failure show its stderr and stop."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tap_msgreports.tap", "--config", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"the tap failed with exit status {done.returncode}")
    return done, seconds


def check_against_truth(
    records: list[dict[str, t.Any]], truth: list[dict[str, t.Any]], first: dt.date
) -> None:
    """Stop unless the records are the truth: the same keys, the same values."""
    start, end = (
        iso_utc(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc))
        for day in (first, TODAY + dt.timedelta(days=1))
    )
    expected = {
        line["mlog_id"]: {name: line[name] for name in row}
        for row, line in zip(
            truth, keyed_lines(truth, raw=False, start=start, end=end).records, strict=True
        )
    }
    held = {record["mlog_id"]: record for record in records}
    missing, unexpected = expected.keys() - held.keys(), held.keys() - expected.keys()
    stale = [
        key
        for key, row in expected.items()
        if key in held and any(held[key][name] != value for name, value in row.items())
    ]
    if missing or unexpected or stale or len(held) != len(records):
        sys.exit(
            f"NOT EQUAL TO THE TRUTH: {len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(stale)} stale, {len(records) - len(held)} repeated keys "
            f"(of {len(expected)} lines)"
        )


if __name__ == "__main__":
    main()
