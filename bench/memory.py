"""Figure 3, memory: the tap's peak RSS reading a 1,000,000-row MoEngage file over a 100-row one.

Usage: .venv/bin/python bench/memory.py

Each file is built by the emulator before the tap starts (bench/moengage_memory.py), the
emulator staying up for the measurement; the tap's peak RSS comes from wait4. One run each:
the peak of a streaming reader barely moves from run to run. Goal: a ratio of at most 1.3 and
under 150 MB for the large file.
"""

from __future__ import annotations

import common
import moengage_memory

SMALL, LARGE = 100, 1_000_000
GOAL_RATIO = 1.3
GOAL_MB = 150


def measure() -> common.Figure:
    """Run figure 3 and return its row."""
    small_seconds, small_mb = moengage_memory.measure(SMALL)
    large_seconds, large_mb = moengage_memory.measure(LARGE)
    ratio = large_mb / small_mb
    return common.Figure(
        figure=f"3 memory, MoEngage {LARGE:,} rows / {SMALL} rows, peak RSS",
        tap=f"{large_mb:.1f} MB",
        baseline=f"{small_mb:.1f} MB",
        ratio=ratio,
        goal=f"<= {GOAL_RATIO}, < {GOAL_MB} MB",
        met=ratio <= GOAL_RATIO and large_mb < GOAL_MB,
        details=[
            (
                f"memory: {LARGE:,} rows in {large_seconds:.1f} s ({LARGE / large_seconds:,.0f} "
                f"rows/s), peak {large_mb:.1f} MB; {SMALL} rows in {small_seconds:.1f} s, "
                f"peak {small_mb:.1f} MB (one run each)"
            ),
        ],
    )


def main() -> None:
    common.print_figures([measure()])


if __name__ == "__main__":
    main()
