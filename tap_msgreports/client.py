"""The base of every stream: windows of several partitions fetched at once, bookmarked.

A vendor stream says which windows it reads, which request reads one window and how a
body becomes records. The bases do the rest, once: bookmarks (:mod:`bookmarks`), requests
(:mod:`sending`), splitting a window refused as too large, recursively, and fetching the
windows of several partitions at once (:class:`~tap_msgreports.concurrency.Scheduler`)
while records are written partition by partition, each partition's windows in order.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
import time
import typing as t
from collections.abc import Sized
from dataclasses import dataclass

from tap_msgreports import progress
from tap_msgreports.bookmarks import BookmarkedStream
from tap_msgreports.concurrency import Lane, Limits, Scheduler
from tap_msgreports.errors import SourceError, WindowTooLargeError, WindowUnavailableError
from tap_msgreports.settings import DateRange
from tap_msgreports.windows import ONE_DAY, Window, resume_point

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_msgreports.run import RunContext

    #: What reading one window gives: its records and seconds, or why it is not there.
    WindowRead = tuple[Iterable[dict[str, t.Any]], float] | WindowUnavailableError
    WindowResult = tuple[Window, WindowRead]
    WindowScheduler = Scheduler[Window, WindowRead]

#: Windows fetched and not yet written, per request in flight: enough for every partition's
#: own slots to stay busy while the earliest partition is written (partitions in parallel).
WAITING_WINDOWS_PER_SLOT = 4
#: Records fetched and not yet written, in all: what bounds memory when windows are large.
WAITING_RECORDS = 20_000

#: Pieces one split makes at most, whatever the source suggests: a response that lies about
#: its total could otherwise ask for millions of windows at once (pieces split again).
MAX_SPLIT_PARTS = 64


@dataclass(frozen=True)
class Span:
    """What a run's plan for one partition starts from."""

    today: dt.date
    first_day: dt.date  # start_date, or today
    last_day: dt.date  # end_date, or today
    bookmark: dt.datetime | None  # the stored one, if it can be trusted
    start: dt.datetime  # where reading resumes (see resume_from)


def records_held(read: WindowRead) -> int:
    """How many records a window read holds in memory (a lazy read, such as a file, 1)."""
    if isinstance(read, WindowUnavailableError):
        return 1
    records = read[0]
    return len(records) if isinstance(records, Sized) else 1


class WindowedReportStream(BookmarkedStream, metaclass=abc.ABCMeta):
    """A report read in date windows, partition by partition, bookmarked per window."""

    #: The smallest window a too-large window may be split into.
    split_resolution: t.ClassVar = ONE_DAY
    #: The setting giving the size of a window, named when a run plans many requests.
    window_setting: t.ClassVar[str | None] = None
    #: Whether this stream's :meth:`connection_check` speaks for its source in ``--check``.
    checks_connection: t.ClassVar[bool] = False

    def __init__(
        self, tap: Tap, schema: dict[str, t.Any] | None = None, *, run: RunContext | None = None
    ) -> None:
        """Set up the stream: nothing planned, no dry-run limit yet."""
        super().__init__(tap, schema=schema, run=run)
        #: Records a dry run (``--test``) may still write: it stops there, quietly, where
        #: the SDK would raise at the next record and log that as an error.
        self._dry_run_left: int | None = None
        #: Records of the partition read last, written or handed to the SDK.
        self.partition_records = 0
        #: Fetches the windows of every partition, from the first partition read on.
        self._scheduler: WindowScheduler | None = None
        self._scheduled_for: list[Context] = []

    # ----- what a vendor stream provides -------------------------------------------------

    def now(self) -> dt.datetime:
        """The current time in UTC (a method so that tests can move it)."""
        return dt.datetime.now(dt.timezone.utc)

    def today_for(self, context: Context) -> dt.date:  # noqa: ARG002
        """Today where the partition's days are counted: UTC, unless the vendor has zones."""
        return self.now().date()

    @property
    @abc.abstractmethod
    def lookback(self) -> dt.timedelta:
        """How far before its bookmark a run reads again (rows still change there)."""

    @abc.abstractmethod
    def windows_of(self, context: Context, span: Span) -> list[Window]:
        """The windows of ``span``: the vendor's window size, limits and extra days."""

    def plan(self, context: Context) -> list[Window]:
        """The windows this run reads for one partition, oldest first."""
        today = self.today_for(context)
        first_day, last_day = DateRange.from_config(self.config).resolve(today)
        bookmark = self.stored_bookmark(context)
        start = self.resume_from(first_day, bookmark)
        return self.windows_of(context, Span(today, first_day, last_day, bookmark, start))

    def resume_from(self, first_day: dt.date, bookmark: dt.datetime | None) -> dt.datetime:
        """Where reading resumes: ``bookmark - lookback``, never before ``start_date``."""
        return resume_point(
            start=self.midnight(first_day), bookmark=bookmark, lookback=self.lookback
        )

    def midnight(self, day: dt.date) -> dt.datetime:
        """The start of ``day`` as bookmarks are compared (naive; vendors with zones override)."""
        return dt.datetime.combine(day, dt.time())

    @abc.abstractmethod
    def records_from(
        self,
        body: t.Any,  # noqa: ANN401 - whatever parse_body made of the response
        context: Context,
        window: Window,
    ) -> Iterable[dict[str, t.Any]]:
        """The records of one parsed body (a list, or a lazy iterator for files)."""

    def connection_check(self, context: Context) -> str:
        """What one small request for the partition saw, for ``--check`` (one line).

        Only the stream that speaks for its source (``checks_connection``) implements it.
        """
        raise NotImplementedError

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Read the partition's windows in order, bookmarking each.

        The first call starts fetching every partition's windows (:meth:`schedule`); fetching
        ends with the last partition, or when one ends early (a failure, a stop, a dry run).
        """
        if self._dry_run_left is None and self.ABORT_AT_RECORD_COUNT is not None:
            self._dry_run_left = self.ABORT_AT_RECORD_COUNT
        partition: Context = context or {}
        if self._dry_run_left == 0:
            self.end_fetching()
            return
        scheduler, lane = self._scheduled(partition)
        completed = False
        try:
            yield from self._read_partition(partition, scheduler, lane)
            completed = self._dry_run_left != 0
        except Exception:
            self.end_fetching(failed=True)  # the run ends: its fetches are not waited for
            raise
        finally:
            if not completed or lane == len(scheduler.lanes) - 1:
                self.end_fetching()

    def planned_windows(self, partition: Context) -> list[Window]:
        """The partition's windows, every partition being planned (and counted) together."""
        partitions = self._partitions_with(partition)
        return self.plan_all(partitions)[partitions.index(partition)]

    def plan_all(self, partitions: list[Context]) -> list[list[Window]]:
        """Every partition's windows, planned together to warn of too many requests first."""
        plans = [self.plan(each) for each in partitions]
        progress.warn_of_many_requests(
            self.logger, f"{self.source_name} {self.name}", self.window_setting, plans
        )
        return plans

    def schedule(self, partitions: list[Context]) -> WindowScheduler:
        """Start fetching the windows of ``partitions``, several partitions at once.

        ``fetch_ahead_depth`` in flight per key, ``max_requests_in_flight`` in all; what waits
        to be written is bounded in windows and in records.
        """
        plans = zip(partitions, self.plan_all(partitions), strict=True)
        lanes = [Lane(self.throttle_key(each), plan) for each, plan in plans]
        cap = self.http_settings.max_requests_in_flight
        limits = Limits(
            per_key=self.fetch_ahead_depth,
            in_flight=cap,
            waiting=WAITING_WINDOWS_PER_SLOT * cap,
            waiting_weight=WAITING_RECORDS,
        )
        return Scheduler(
            lanes,
            lambda lane, window: self._timed_read(partitions[lane], window),
            limits,
            self.stop,
            weigh=records_held,
        )

    def end_fetching(self, *, failed: bool = False) -> None:
        """Stop fetching (see :meth:`Scheduler.close`); a later sync plans again."""
        if (scheduler := self._scheduler) is not None:
            self._scheduler = None
            scheduler.close(failed=failed)

    def _scheduled(self, partition: Context) -> tuple[WindowScheduler, int]:
        """The scheduler fetching this partition's windows (a new one if out of order), its lane."""
        partitions = self._partitions_with(partition)
        lane = partitions.index(partition)
        scheduler = self._scheduler
        if scheduler is None or self._scheduled_for != partitions or not scheduler.can_take(lane):
            self.end_fetching()
            scheduler = self._scheduler = self.schedule(partitions)
            self._scheduled_for = partitions
        return scheduler, lane

    def _partitions_with(self, partition: Context) -> list[Context]:
        """The stream's partitions, or this one alone when it is none of them."""
        partitions: list[Context] = list(self.partitions or [{}])
        return partitions if partition in partitions else [partition]

    def _read_partition(
        self, partition: Context, scheduler: WindowScheduler, lane: int
    ) -> Iterable[dict[str, t.Any]]:
        """Log what the partition reads, then read it, its requests counted under it."""
        windows = list(scheduler.lanes[lane].items)
        where = self.describe_partition(partition)
        if not windows:
            self.logger.info("%s %s: nothing to read", where, self.name)
            return
        self.logger.info(
            "%s %s: reading %s in %d windows",
            where,
            self.name,
            Window(windows[0].start, windows[-1].end).describe(),
            len(windows),
        )
        self.new_envelope()
        self.partition_records = 0
        with self.get_http_request_counter() as counter:
            counter.with_context(partition)
            try:
                with self.stop.deferred():  # stops at safe points only: see stopping.py
                    yield from self._read_windows(partition, windows, scheduler.results(lane))
            finally:
                counter.increment(self.requests_made(partition))

    def _read_windows(
        self, partition: Context, windows: list[Window], fetched: Iterable[WindowResult]
    ) -> Iterable[dict[str, t.Any]]:
        """Yield each fetched window's records in order, bookmark each window."""
        where = self.describe_partition(partition)
        seen = progress.Progress(f"{where} {self.name}", len(windows), self._position(partition))
        for window, read in fetched:
            if isinstance(read, WindowUnavailableError):
                if read.retry_later:
                    self.logger.info("%s %s: %s; trying again next run", where, self.name, read)
                    return  # later windows cannot be there either
                self.logger.warning("%s %s: %s; skipped", where, self.name, read)
                self.advance_bookmark(partition, window)
                seen.skipped()
                continue
            records, seconds = read
            self.stamp_records(dt.datetime.now(dt.timezone.utc))  # the window's records
            dry_run = self._dry_run_left is not None
            count = None if dry_run else self.write_window_directly(records, partition)
            if count is None:
                count = yield from self._handed_to_sdk(records)
                if count is None:
                    return  # a dry run (--test) ends at its limit; the window is not bookmarked
            self.partition_records += count
            self.advance_bookmark(partition, window)
            self.logger.info(seen.window_line(window, count, seconds))
        self.logger.info(seen.summary())

    def _handed_to_sdk(
        self, records: Iterable[dict[str, t.Any]]
    ) -> Generator[dict[str, t.Any], None, int | None]:
        """Yield a window's records to the SDK; how many, or None if a dry run ended in it."""
        left = self._dry_run_left
        if left is not None:
            records = itertools.islice(records, left)
        count = 0
        for count, record in enumerate(records, start=1):  # noqa: B007 - counted for the log
            yield record
        if left is not None:
            self._dry_run_left = max(left - count, 0)
            if self._dry_run_left == 0:
                return None
        return count

    def _position(self, partition: Context) -> tuple[int, int]:
        """Which partition of the stream this is (1-based), and how many there are."""
        partitions: list[Context] = list(self.partitions or [{}])
        number = partitions.index(partition) + 1 if partition in partitions else 1
        return number, len(partitions)

    # ----- reading one window --------------------------------------------------------------

    def _timed_read(self, context: Context, window: Window) -> WindowRead:
        """Runs on a worker: read a window, or say why it is not there."""
        started = time.monotonic()
        try:
            records = self.read_window(context, window)
        except WindowUnavailableError as unavailable:
            return unavailable
        return records, time.monotonic() - started

    def read_window(
        self, context: Context, window: Window, depth: int = 0
    ) -> Iterable[dict[str, t.Any]]:
        """All records of ``window``, split while too large (``depth`` splits above it)."""
        try:
            return self._read_once(context, window)
        except WindowTooLargeError as exc:
            pieces = window.split(self.split_resolution, min(exc.parts, MAX_SPLIT_PARTS))
            if pieces is None:
                msg = (
                    f"{self.where(context, window)}: "
                    f"the window holds more than one response returns ({exc.reason}) and "
                    "cannot be split further"
                )
                raise SourceError(msg) from None
            self.logger.info(
                "%s %s: window %s too large (%s); splitting in %d (split depth %d)",
                self.describe_partition(context),
                self.name,
                window.describe(),
                exc.reason,
                len(pieces),
                depth + 1,
            )
            return [
                record for piece in pieces for record in self.read_window(context, piece, depth + 1)
            ]

    def _read_once(self, context: Context, window: Window) -> Iterable[dict[str, t.Any]]:
        return self.records_from(self.fetch_body(context, window), context, window)
