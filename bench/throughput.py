"""Figure 1, throughput: mlog_items records per second, the tap against a bare requests + json loop.

Usage: .venv/bin/python bench/throughput.py [--repeats N] [--profile]

About 200,000 Messangi lines (five channels, four days) are read in windows of six hours, with
a response cap high enough that no window is split, so that the tap and the baseline
(bench/baseline.py) fetch exactly the same requests; the emulator checks it. Both write
their Singer output to /dev/null and are timed from process start to exit (interpreter and
imports included), several times, interleaved; the figure compares the medians:
(tap records / tap seconds) / (baseline records / baseline seconds).

A first, untimed run of each side writes to a file: its RECORD lines are counted, and it fills
the emulator's reply cache, so that every timed request is answered from encoded bytes.
``--profile`` then runs the tap once under cProfile and prints the 25 costliest calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pstats
import sys
import tempfile
import typing as t
from pathlib import Path

import common

from tap_msgreports_emulator.messangi_data import CHANNELS, day_size

if t.TYPE_CHECKING:
    from collections.abc import Mapping

STREAM = "mlog_items"
TARGET_LINES = 200_000
DAYS = 4
WINDOW_HOURS = 6
MAX_ITEMS = 100_000  # more than any window holds: no window is split
SEED = 1
REPEATS = 5
GOAL = 1.0  # issue 16 (0.8 before)
TIMEOUT = 600  # per run


def lines_per_day_for(total: int, first_day: dt.date, days: int) -> tuple[int, int]:
    """The ``lines_per_day`` (per channel) whose days hold closest to ``total`` lines."""

    def lines(per_day: int) -> int:
        return sum(
            sum(day_size(SEED, per_day, channel, first_day + dt.timedelta(days=offset)))
            for channel in CHANNELS
            for offset in range(days)
        )

    guess = round(total / (days * len(CHANNELS)))
    for _ in range(3):  # day sizes are random but proportional: this converges at once
        guess = round(guess * total / lines(guess))
    return guess, lines(guess)


def measure(repeats: int = REPEATS, *, profile: bool = False) -> common.Figure:
    """Run figure 1 and return its row."""
    today = common.emulator_today()
    first_day = today - dt.timedelta(days=DAYS - 1)
    per_day, expected = lines_per_day_for(TARGET_LINES, first_day, DAYS)
    with common.emulator(cache=True) as server:
        server.messangi.lines_per_day = per_day
        server.messangi.max_items_per_response = MAX_ITEMS
        config = common.source_config(
            server,
            "messangi_",
            messangi_window_hours=WINDOW_HOURS,
            start_date=first_day.isoformat(),
            end_date=today.isoformat(),
        )
        plan = common.messangi_plan(
            config,
            common.midnight(first_day),
            common.midnight(today + dt.timedelta(days=1)),
            WINDOW_HOURS,
        )
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
            common.log(
                f"throughput: warm-up runs ({expected:,} lines, {len(plan['requests'])} requests)"
            )
            tap_out, base_out = Path(tmp) / "tap.jsonl", Path(tmp) / "baseline.jsonl"
            common.run_tap(config, timeout=TIMEOUT, stdout=tap_out)
            requests = server.take_requests()
            common.run_baseline(plan, timeout=TIMEOUT, stdout=base_out)
            common.same_requests(requests, server.take_requests(), "throughput (warm-up)")
            tap_records, base_records = (
                common.count_records(tap_out),
                common.count_records(base_out),
            )

        def timed(run: t.Callable[[], common.Run], side: str) -> t.Callable[[], float]:
            def once() -> float:
                seconds = run().seconds
                common.same_requests(requests, server.take_requests(), f"throughput ({side})")
                return seconds

            return once

        samples = common.interleaved(
            {
                "tap": timed(lambda: common.run_tap(config, timeout=TIMEOUT), "tap"),
                "baseline": timed(lambda: common.run_baseline(plan, timeout=TIMEOUT), "baseline"),
            },
            repeats,
            progress=common.log,
        )
        if profile:
            print_profile(config)
    tap_rate = tap_records / common.median(samples["tap"])
    base_rate = base_records / common.median(samples["baseline"])
    ratio = tap_rate / base_rate
    return common.Figure(
        figure=f"1 throughput, {STREAM} {tap_records:,} lines, records/s",
        tap=f"{tap_rate:,.0f}/s",
        baseline=f"{base_rate:,.0f}/s",
        ratio=ratio,
        goal=f">= {GOAL}",
        met=ratio >= GOAL,
        details=[
            (
                f"throughput: {len(plan['requests'])} requests ({DAYS} days x 5 channels, "
                f"{WINDOW_HOURS} h windows, none split), lines_per_day={per_day}; "
                f"records written: tap {tap_records:,}, baseline {base_records:,}"
            ),
            (
                f"throughput: tap {common.samples_text(samples['tap'])}; "
                f"baseline {common.samples_text(samples['baseline'])} "
                f"(wall time per process, medians compared)"
            ),
        ],
    )


def print_profile(config: Mapping[str, t.Any], top: int = 25) -> None:
    """Run the tap once under cProfile (stdout to /dev/null) and print the costliest calls."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        path = Path(tmp) / "tap.prof"
        common.log("throughput: one profiled tap run")
        common.run_tap(config, timeout=TIMEOUT, prefix=("-m", "cProfile", "-o", str(path)))
        print(f"\ncProfile of the tap, top {top} by cumulative time:")
        pstats.Stats(str(path), stream=sys.stdout).sort_stats("cumtime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--profile", action="store_true", help="also profile one tap run")
    args = parser.parse_args()
    common.print_figures([measure(args.repeats, profile=args.profile)])


if __name__ == "__main__":
    main()
