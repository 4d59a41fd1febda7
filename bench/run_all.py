"""Every figure of the benchmark, each a ratio measured in this one run, as one table.

Usage: .venv/bin/python bench/run_all.py [--write-results] [--only N ...]   (make bench)

1. throughput (bench/throughput.py): mlog_items records/s, tap / bare requests + json loop;
2. latency hidden (bench/latency.py): wall time with 200 ms per request, tap / sequential,
   for CleverTap and for Messangi;
3. memory (bench/memory.py): peak RSS, 1,000,000-row MoEngage file / 100-row file;
4. end to end (bench/e2e.py): meltano run into PostgreSQL / the same target loading a
   recording of the same messages;
5. many accounts (bench/scale.py): wall time with 200 ms per request, 20 CleverTap accounts
   / one, both streams; and memory: the peak RSS of the same runs, 20 accounts / one;
6. Messangi channels (bench/scale.py): wall time with 200 ms per request, 5 channels / one.

Progress goes to stderr, the table to stdout. ``--write-results`` also writes it, with the
command, date and machine, to bench/RESULTS.md. A figure that cannot be measured is shown as
an error and the exit status is 1; a goal not met is only shown (``NO``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import traceback
import typing as t
from pathlib import Path

import common
import e2e
import latency
import memory
import scale
import throughput

if t.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

RESULTS = common.BENCH / "RESULTS.md"
FIGURES: dict[int, tuple[str, Callable[[], list[common.Figure]]]] = {
    1: ("1 throughput", lambda: [throughput.measure()]),
    2: ("2 latency hidden", latency.measure),
    3: ("3 memory", lambda: [memory.measure()]),
    4: ("4 end to end", lambda: [e2e.measure()]),
    5: ("5 many accounts", scale.measure_accounts),
    6: ("6 Messangi channels", scale.measure_channels),
}


def run(numbers: Sequence[int]) -> tuple[list[common.Figure], bool]:
    """Measure the figures; a failed one becomes an error row. Returns (rows, all measured)."""
    rows: list[common.Figure] = []
    measured = True
    for number in numbers:
        name, measure = FIGURES[number]
        common.log(f"== figure {name}")
        started = time.monotonic()
        try:
            figures = measure()
        except Exception as exc:  # noqa: BLE001 - one figure failing must not hide the others
            traceback.print_exc()
            measured = False
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            figures = [
                common.Figure(
                    figure=name,
                    tap="error",
                    baseline="error",
                    ratio=None,
                    goal="",
                    met=None,
                    details=[f"{name}: not measured: {reason}"],
                )
            ]
        seconds = time.monotonic() - started
        for figure in figures:
            figure.seconds = seconds / len(figures)
        rows += figures
        common.log(f"   figure {name}: {seconds:.0f} s")
    return rows, measured


def machine() -> str:
    """nproc, the CPU model and the Python version."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:  # noqa: PTH123
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, "
        f"Python {platform.python_version()} ({_interpreter()}), {platform.platform()}"
    )


def results_markdown(
    figures: Sequence[common.Figure], command: str, started: dt.datetime, seconds: float
) -> str:
    """bench/RESULTS.md: the table, how and where it was measured, and each figure's details."""
    details = [f"- {line}" for figure in figures for line in figure.details]
    times = ", ".join(
        f"{figure.figure.split(',')[0]}: {figure.seconds:.0f} s" for figure in figures
    )
    details.append(f"- time per row (set-up included): {times}")
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `make bench` (`bench/run_all.py --write-results`); every figure is a",
            "ratio of two measurements taken in the same run (see the docstrings in `bench/`).",
            "",
            f"- command: {command}",
            f"- date: {started:%Y-%m-%d %H:%M:%S} UTC, {seconds:.0f} s in all",
            f"- machine: {machine()}",
            "",
            common.table(figures, markdown=True),
            "",
            "## Details",
            "",
            *details,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-results", action="store_true", help=f"also write {RESULTS.name}")
    parser.add_argument(
        "--only", type=int, nargs="+", choices=sorted(FIGURES), help="only these figures"
    )
    args = parser.parse_args()
    started_at = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    figures, measured = run(args.only or sorted(FIGURES))
    seconds = time.monotonic() - started
    print()
    common.print_figures(figures)
    print(f"\n{len(figures)} figures in {seconds:.0f} s on {machine()}")
    if args.write_results:
        command = "`" + " ".join([_interpreter(), *sys.argv]) + "`"
        if os.environ.get("MAKELEVEL"):
            command = f"`make bench` ({command})"
        RESULTS.write_text(results_markdown(figures, command, started_at, seconds))
        print(f"written to {RESULTS.relative_to(common.ROOT)}")
    if not measured:
        sys.exit(1)


def _interpreter() -> str:
    """The interpreter, relative to the repository or from its venv: no path of the machine."""
    executable = Path(sys.executable)
    if executable.is_relative_to(common.ROOT):
        return str(executable.relative_to(common.ROOT))
    parts = executable.parts
    if ".venv" in parts:  # a checkout's venv elsewhere (a git worktree uses its main's)
        return str(Path(*parts[parts.index(".venv") :]))
    return executable.name


if __name__ == "__main__":
    main()
