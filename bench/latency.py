"""Figure 2, latency hidden: the tap's wall time against a sequential fetch, 200 ms per request.

Usage: .venv/bin/python bench/latency.py [--repeats N]

The emulator adds 200 ms to every request (``FaultPlan(latency_ms=200)``). For each source, 60
windows are read by the tap (requests in flight: its default concurrency) and by
bench/baseline.py, which sends the same 60 requests (same URLs, bodies and credentials) one
after another. The figure is median tap seconds / median baseline seconds, both timed from
process start to exit, runs interleaved; the emulator checks that every run sends exactly the
same requests.

- CleverTap: ``message_reports`` only (a catalog deselects ``campaigns``), one account (UTC),
  ``clevertap_report_window_days=1`` over 60 days, 3 requests in flight.
- Messangi: one channel (S), windows of 1 h, 4 requests in flight (the default). 60 hours
  are not whole days, so the run starts from a bookmark at noon, with no lookback: 60 windows
  from noon two days before the emulator's today to the end of today.
"""

from __future__ import annotations

import argparse
import datetime as dt
import typing as t

import common

from tap_msgreports_emulator import World
from tap_msgreports_emulator.faults import FaultPlan
from tap_msgreports_emulator.world import Account

if t.TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Mapping

LATENCY_MS = 200
WINDOWS = 60
REPEATS = 3
TIMEOUT = 300  # per run; a sequential run takes about 60 x 0.2 s
ACCOUNT = Account("EMU-ACCT-0001", "UTC")
CLEVERTAP_GOAL = 0.4
#: "Lower for the others": the same allowance as CleverTap's (0.4 where 3 requests in flight
#: would ideally give 1/3), scaled to Messangi's 4 requests in flight: 0.4 x 3/4.
MESSANGI_GOAL = 0.3
MESSANGI_CHANNEL = "S"


def clevertap_plan(config: Mapping[str, t.Any], days: list[dt.date]) -> dict[str, t.Any]:
    """The tap's Get Message Reports requests, one per day, for the baseline."""
    (account,) = config["clevertap_accounts"]
    headers = {
        "X-CleverTap-Account-Id": account["account_id"],
        "X-CleverTap-Passcode": account["passcode"],
        "Content-Type": "application/json",
    }
    url = str(account["api_url"]).rstrip("/") + "/1/message/report.json"
    requests = [
        {
            "method": "POST",
            "url": url,
            "headers": headers,
            "json": {"from": f"{day:%Y%m%d}", "to": f"{day:%Y%m%d}", "daily": False},
        }
        for day in days
    ]
    return common.request_plan("message_reports", "messages", requests)


def compare(  # noqa: PLR0913 - the two sides and how to judge them
    name: str,
    server: common.BenchEmulator,
    tap: t.Callable[[], common.Run],
    plan: Mapping[str, t.Any],
    *,
    repeats: int,
    goal: float,
) -> common.Figure:
    """Time both sides, interleaved, checking that every run sends the same requests.

    Raises:
        common.BenchError: when a run sends other requests than the first run, or not 60.
    """
    reference: list[Counter[common.Signature]] = []

    def checked(run: t.Callable[[], common.Run], side: str) -> t.Callable[[], float]:
        def once() -> float:
            seconds = run().seconds
            seen = server.take_requests()
            if not reference:  # the first run's requests: every later run must send them
                reference.append(seen)
            common.same_requests(reference[0], seen, f"latency, {name} ({side})")
            return seconds

        return once

    common.log(f"latency: {name}, {len(plan['requests'])} requests, {LATENCY_MS} ms each")
    samples = common.interleaved(
        {
            "tap": checked(tap, "tap"),
            "sequential": checked(lambda: common.run_baseline(plan, timeout=TIMEOUT), "sequential"),
        },
        repeats,
        progress=common.log,
    )
    requests = sum(reference[0].values())
    if requests != WINDOWS:
        msg = f"latency, {name}: {requests} requests per run, not {WINDOWS}"
        raise common.BenchError(msg)
    tap_seconds = common.median(samples["tap"])
    sequential = common.median(samples["sequential"])
    ratio = tap_seconds / sequential
    return common.Figure(
        figure=f"2 latency hidden, {name}, wall s",
        tap=f"{tap_seconds:.2f} s",
        baseline=f"{sequential:.2f} s",
        ratio=ratio,
        goal=f"<= {goal}",
        met=ratio <= goal,
        details=[
            (
                f"latency, {name}: tap {common.samples_text(samples['tap'])}; sequential "
                f"{common.samples_text(samples['sequential'])} ({WINDOWS} requests x "
                f"{LATENCY_MS} ms = {WINDOWS * LATENCY_MS / 1000:.0f} s of latency)"
            ),
        ],
    )


def measure_clevertap(repeats: int = REPEATS) -> common.Figure:
    """Figure 2 for CleverTap's message_reports: 60 one-day windows, 3 in flight."""
    today = common.emulator_today()
    days = [today - dt.timedelta(days=WINDOWS - 1 - offset) for offset in range(WINDOWS)]
    world = World(seed=1, today=today, accounts=(ACCOUNT,))
    with common.emulator(world, FaultPlan(latency_ms=LATENCY_MS)) as server:
        config = common.source_config(
            server,
            "clevertap_",
            clevertap_report_window_days=1,
            start_date=days[0].isoformat(),
            end_date=today.isoformat(),
        )
        catalog = common.discovered_catalog(config, {"message_reports"})
        server.take_requests()  # discovery sends none, but start from a clean count
        return compare(
            "CleverTap message_reports (3 in flight)",
            server,
            lambda: common.run_tap(config, catalog=catalog, timeout=TIMEOUT),
            clevertap_plan(config, days),
            repeats=repeats,
            goal=CLEVERTAP_GOAL,
        )


def measure_messangi(repeats: int = REPEATS) -> common.Figure:
    """Figure 2 for Messangi's mlog_items: one channel, 60 windows of 1 h, 4 in flight."""
    today = common.emulator_today()
    end = common.midnight(today + dt.timedelta(days=1))
    start = end - dt.timedelta(hours=WINDOWS)
    with common.emulator(faults=FaultPlan(latency_ms=LATENCY_MS)) as server:
        config = common.source_config(
            server,
            "messangi_",
            messangi_channels=[MESSANGI_CHANNEL],
            messangi_window_hours=1,
            messangi_lookback_days=0,
            start_date=start.date().isoformat(),
            end_date=today.isoformat(),
        )
        state = {
            "bookmarks": {
                "mlog_items": {
                    "partitions": [
                        {
                            "context": {"channel": MESSANGI_CHANNEL},
                            "replication_key": "date",
                            "replication_key_value": common.iso_ms(start),
                        }
                    ]
                }
            }
        }
        return compare(
            "Messangi mlog_items (4 in flight)",
            server,
            lambda: common.run_tap(config, state=state, timeout=TIMEOUT),
            common.messangi_plan(config, start, end, 1, [MESSANGI_CHANNEL]),
            repeats=repeats,
            goal=MESSANGI_GOAL,
        )


def measure(repeats: int = REPEATS) -> list[common.Figure]:
    """Both rows of figure 2."""
    return [measure_clevertap(repeats), measure_messangi(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    common.print_figures(measure(args.repeats))


if __name__ == "__main__":
    main()
