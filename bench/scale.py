"""Figures 5 and 6, scale: many partitions in one run against one, 200 ms per request.

Usage: .venv/bin/python bench/scale.py [--repeats N] [--only accounts|channels]

The emulator adds 200 ms to every request (``FaultPlan(latency_ms=200)``), the latency that
partitions read in parallel can hide. Each figure compares two tap runs against the same
emulator, interleaved, timed from process start to exit:

5. many accounts: 20 CleverTap accounts (UTC), both streams, one-day windows over 10 days,
   against the first of them alone. Goal: wall time at most 2x (read one after another,
   20 accounts take about 20x);
   With it, memory: the peak RSS (wait4) of the same runs, 20 accounts against one. Goal: at
   most 1.3x, records leaving as they are read whatever the number of partitions in flight;
6. Messangi channels: 5 channels, windows of 2 h over 2 days, against one channel (S).
   Goal: at most 1.5x.

Each run's requests are counted by the emulator: the many-partition run must send as many
requests as the partitions' own (the figure is not a run that skipped work).
"""

from __future__ import annotations

import argparse
import datetime as dt
import typing as t

import common

from tap_msgreports_emulator import World
from tap_msgreports_emulator.faults import FaultPlan
from tap_msgreports_emulator.messangi_data import CHANNELS
from tap_msgreports_emulator.world import Account

if t.TYPE_CHECKING:
    from collections.abc import Mapping

LATENCY_MS = 200
REPEATS = 2
TIMEOUT = 300  # per run; 20 accounts read one after another take about 40 s
ACCOUNTS = tuple(Account(f"EMU-ACCT-{number:04d}", "UTC") for number in range(1, 21))
ACCOUNT_DAYS = 10
CHANNEL_DAYS = 2
CHANNEL_WINDOW_HOURS = 2
ACCOUNTS_GOAL = 2.0
CHANNELS_GOAL = 1.5
MEMORY_GOAL = 1.3


class Side(t.NamedTuple):
    """One side of a comparison: its name and the tap's config (with a catalog, or None)."""

    name: str
    config: Mapping[str, t.Any]
    catalog: Mapping[str, t.Any] | None = None


class Sides(t.NamedTuple):
    """Both sides' runs (interleaved) and the requests each run sent."""

    runs: dict[str, list[common.Run]]
    requests: dict[str, int]


def run_sides(
    server: common.BenchEmulator, one: Side, many: Side, repeats: int, what: str
) -> Sides:
    """Run both sides ``repeats`` times, interleaved; check every run sends the same count.

    Raises:
        common.BenchError: when a side's runs send different numbers of requests.
    """
    runs: dict[str, list[common.Run]] = {one.name: [], many.name: []}
    requests: dict[str, int] = {}

    def side(chosen: Side) -> t.Callable[[], float]:
        def once() -> float:
            run = common.run_tap(chosen.config, catalog=chosen.catalog, timeout=TIMEOUT)
            sent = sum(server.take_requests().values())
            if requests.setdefault(chosen.name, sent) != sent:
                msg = f"{what}, {chosen.name}: {sent} requests, then {requests[chosen.name]}"
                raise common.BenchError(msg)
            runs[chosen.name].append(run)
            return run.seconds

        return once

    server.take_requests()
    common.interleaved({one.name: side(one), many.name: side(many)}, repeats, progress=common.log)
    return Sides(runs, requests)


def seconds_of(runs: list[common.Run]) -> list[float]:
    """The wall times of runs."""
    return [run.seconds for run in runs]


def ratio_figure(  # noqa: PLR0913 - a row: its name, both sides and the goal
    figure: str, sides: Sides, *, one: str, many: str, goal: float, note: str
) -> common.Figure:
    """A row comparing the median wall times of both sides."""
    one_s, many_s = (common.median(seconds_of(sides.runs[name])) for name in (one, many))
    ratio = many_s / one_s
    return common.Figure(
        figure=figure,
        tap=f"{many_s:.2f} s",
        baseline=f"{one_s:.2f} s",
        ratio=ratio,
        goal=f"<= {goal}",
        met=ratio <= goal,
        details=[
            (
                f"{note}: {many} {common.samples_text(seconds_of(sides.runs[many]))} "
                f"({sides.requests[many]} requests); {one} "
                f"{common.samples_text(seconds_of(sides.runs[one]))} "
                f"({sides.requests[one]} requests), {LATENCY_MS} ms each"
            ),
        ],
    )


def memory_figure(sides: Sides, one: str, many: str) -> common.Figure:
    """Figure 5's memory: the peak RSS of the many-accounts runs against one's (medians)."""
    one_mb, many_mb = (
        common.median([run.peak_rss_mb for run in sides.runs[name]]) for name in (one, many)
    )
    ratio = many_mb / one_mb
    peaks = {
        name: ", ".join(f"{run.peak_rss_mb:.1f}" for run in sides.runs[name])
        for name in (one, many)
    }
    return common.Figure(
        figure=f"5 memory, {many} / {one}, peak RSS",
        tap=f"{many_mb:.1f} MB",
        baseline=f"{one_mb:.1f} MB",
        ratio=ratio,
        goal=f"<= {MEMORY_GOAL}",
        met=ratio <= MEMORY_GOAL,
        details=[f"memory, accounts: {many} {peaks[many]} MB; {one} {peaks[one]} MB (wait4)"],
    )


def measure_accounts(repeats: int = REPEATS) -> list[common.Figure]:
    """Figure 5: 20 CleverTap accounts against one, both streams: wall time and peak RSS."""
    today = common.emulator_today()
    world = World(seed=1, today=today, accounts=ACCOUNTS)
    with common.emulator(world, FaultPlan(latency_ms=LATENCY_MS)) as server:
        config = common.source_config(
            server,
            "clevertap_",
            clevertap_report_window_days=1,
            clevertap_campaign_window_days=1,
            start_date=(today - dt.timedelta(days=ACCOUNT_DAYS - 1)).isoformat(),
            end_date=today.isoformat(),
        )
        first = {**config, "clevertap_accounts": config["clevertap_accounts"][:1]}
        one, many = "1 account", f"{len(ACCOUNTS)} accounts"
        sides = run_sides(server, Side(one, first), Side(many, config), repeats, "accounts")
    if sides.requests[many] < len(ACCOUNTS) * sides.requests[one] * 0.9:
        msg = f"accounts: {sides.requests[many]} requests for {many}, {sides.requests[one]} for one"
        raise common.BenchError(msg)
    note = f"many accounts, both streams, {ACCOUNT_DAYS} days of one-day windows"
    return [
        ratio_figure(
            f"5 many accounts, {many} / {one}, wall s",
            sides,
            one=one,
            many=many,
            goal=ACCOUNTS_GOAL,
            note=note,
        ),
        memory_figure(sides, one, many),
    ]


def measure_channels(repeats: int = REPEATS) -> list[common.Figure]:
    """Figure 6: 5 Messangi channels against one."""
    today = common.emulator_today()
    with common.emulator(faults=FaultPlan(latency_ms=LATENCY_MS)) as server:
        config = common.source_config(
            server,
            "messangi_",
            messangi_channels=list(CHANNELS),
            messangi_window_hours=CHANNEL_WINDOW_HOURS,
            start_date=(today - dt.timedelta(days=CHANNEL_DAYS - 1)).isoformat(),
            end_date=today.isoformat(),
        )
        first = {**config, "messangi_channels": ["S"]}
        one, many = "1 channel", f"{len(CHANNELS)} channels"
        sides = run_sides(server, Side(one, first), Side(many, config), repeats, "channels")
    if sides.requests[many] != len(CHANNELS) * sides.requests[one]:
        msg = f"channels: {sides.requests[many]} requests for {many}, {sides.requests[one]} for one"
        raise common.BenchError(msg)
    note = f"Messangi channels, {CHANNEL_DAYS} days of {CHANNEL_WINDOW_HOURS} h windows"
    return [
        ratio_figure(
            f"6 Messangi, {many} / {one}, wall s",
            sides,
            one=one,
            many=many,
            goal=CHANNELS_GOAL,
            note=note,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--only", choices=("accounts", "channels"))
    args = parser.parse_args()
    figures = []
    if args.only in (None, "accounts"):
        figures += measure_accounts(args.repeats)
    if args.only in (None, "channels"):
        figures += measure_channels(args.repeats)
    common.print_figures(figures)


if __name__ == "__main__":
    main()
