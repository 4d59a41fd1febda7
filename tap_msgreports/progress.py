"""How far a stream is: a line per window, a summary per partition, a warning for huge runs."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    import logging

    from tap_msgreports.windows import Window

#: A stream whose run plans more requests than this is told before its first request: a
#: ``start_date`` years back, or small windows, can make a run of days (fifty years of
#: Messangi are 91,000 requests). Ten thousand is about an hour at a few requests a second,
#: far above a daily run's tens to hundreds, and far below a run nobody meant to start.
MANY_REQUESTS = 10_000


def warn_of_many_requests(
    logger: logging.Logger, stream: str, window_setting: str | None, plans: list[list[Window]]
) -> None:
    """Warn when the windows planned for ``stream`` need more than ``MANY_REQUESTS``.

    Each window is one request at least (splits and retries add more); the count
    grows with the range (``start_date``, the lookback) over the window size.
    """
    windows = [window for plan in plans for window in plan]
    if len(windows) <= MANY_REQUESTS:
        return
    sizing = f"a larger {window_setting}" if window_setting else "fewer partitions"
    logger.warning(
        "%s: this run plans at least %s requests (one per window, over %d "
        "partitions, from %s to %s), more than %s: a later start_date or %s makes fewer",
        stream,
        f"{len(windows):,}",
        len(plans),
        min(window.start for window in windows).date().isoformat(),
        max(window.end for window in windows).date().isoformat(),
        f"{MANY_REQUESTS:,}",
        sizing,
    )


class Progress:
    """How far a partition is: its windows, its records, and where it stands in the stream."""

    def __init__(self, label: str, windows: int, position: tuple[int, int]) -> None:
        """Start counting ``windows`` for the partition at ``position`` (number, of how many)."""
        self.label, self.windows = label, windows
        self.partition = f"partition {position[0]}/{position[1]}"
        self.done = self.records = 0
        self.started = time.monotonic()

    def skipped(self) -> None:
        """A window was skipped (nothing there): done, without records."""
        self.done += 1

    def window_line(self, window: Window, records: int, seconds: float) -> str:
        """Count a window written, and say so in one line."""
        self.done += 1
        self.records += records
        return (
            f"{self.label}: window {window.describe()}: {records} records in {seconds:.2f} s "
            f"(window {self.done}/{self.windows}, {self.partition}, {self.elapsed:.1f} s)"
        )

    def summary(self) -> str:
        """The partition's records and windows, in one line."""
        return (
            f"{self.label}: {self.records} records from {self.done}/{self.windows} windows "
            f"in {self.elapsed:.1f} s ({self.partition})"
        )

    @property
    def elapsed(self) -> float:
        """Seconds since the partition started."""
        return time.monotonic() - self.started
