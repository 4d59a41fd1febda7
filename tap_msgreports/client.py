"""The base of every stream: windows, bookmarks, retries, throttling and fetching ahead.

A vendor stream says which windows it reads, which request reads one window and how a
response body becomes records. Everything else lives here, once:

- the bookmark of a partition moves only past a window whose records were all written,
  so a run stopped at any point resumes without a gap;
- each request is retried on 429, 5xx, timeouts, dropped connections and malformed
  bodies, honouring ``Retry-After``; 401/403 stop the run at once;
- a window the vendor refuses as too large is split (in two, or in as many pieces as the
  response suggests) and each piece is read, recursively;
- a few windows are fetched ahead on worker threads while records are written in order,
  each request holding a slot of its account's throttle.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import http.client
import itertools
import threading
import time
import typing as t
from functools import cached_property
from urllib.parse import urlsplit

import msgspec
import requests
import urllib3
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_msgreports import metrics as partition_metrics
from tap_msgreports import sdk_compat
from tap_msgreports.concurrency import fetch_ahead
from tap_msgreports.errors import (
    SourceAuthError,
    SourceError,
    WindowTooLargeError,
    WindowUnavailableError,
)
from tap_msgreports.retries import retry_waits
from tap_msgreports.run import RunContext
from tap_msgreports.settings import HttpSettings, setting
from tap_msgreports.windows import CALENDAR_TEXT, ONE_DAY, Window, in_calendar
from tap_msgreports.writer import BufferedMsgSpecWriter, RecordEnvelope

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk import Tap, metrics
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest

    from tap_msgreports.stopping import Stop

#: Failures worth another try: the SDK's list (a malformed body is a RetriableAPIError).
RETRIABLE_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
HTTP_CLIENT_ERROR = 400
HTTP_OK = 200
READ_CHUNK = 1 << 20
#: Pieces one split makes at most, whatever the source suggests: a response that lies about
#: its total could otherwise ask for millions of windows at once (pieces split again).
MAX_SPLIT_PARTS = 64
#: A stream whose run plans more requests than this is told before its first request: a
#: ``start_date`` years back, or small windows, can make a run of days (fifty years of
#: Messangi are 91,000 requests). Ten thousand is about an hour at a few requests a second,
#: far above a daily run's tens to hundreds, and far below a run nobody meant to start.
MANY_REQUESTS = 10_000
ERROR_BODY_BYTES = 1 << 20  # an error message is short; more is not read
AUTH_STATUSES = frozenset({401, 403})
TIMED_OUT = "timed out"
BROKEN_MID_BODY = "connection broken mid-body"
UNDECODABLE = "the body does not decode (Content-Encoding)"


class WindowedReportStream(sdk_compat.SdkStream, metaclass=abc.ABCMeta):
    """A report read in date windows, one partition at a time, bookmarked per window."""

    #: The vendor's name as users know it, used in every log line and error.
    source_name: t.ClassVar[str]
    #: The smallest window a too-large window may be split into.
    split_resolution: t.ClassVar = ONE_DAY
    #: Records are built field by field from the schema, so the SDK's per-record type
    #: conformance (most of its per-record cost) has nothing to do; the SDK standard tests
    #: check records against the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The setting giving the size of a window, named when a run plans many requests.
    window_setting: t.ClassVar[str | None] = None
    #: The setting limiting requests in flight (and windows fetched ahead), and its default.
    concurrency_setting: t.ClassVar[str]
    default_concurrency: t.ClassVar[int]
    is_sorted = False
    #: Whether this stream's :meth:`connection_check` speaks for its source in ``--check``.
    checks_connection: t.ClassVar[bool] = False

    def __init__(
        self, tap: Tap, schema: dict[str, t.Any] | None = None, *, run: RunContext | None = None
    ) -> None:
        """Set up the stream; HTTP settings are read once from the config.

        ``run`` is what the run's streams share (by default the one the tap holds).
        """
        super().__init__(tap, schema=schema)
        self.run = run or RunContext.of(tap)
        self.http_settings = HttpSettings.from_config(self.config)
        self._requests_lock = threading.Lock()
        self._requests: metrics.Counter | None = None
        self._envelope = RecordEnvelope(self.name, version=None)  # made again per sync
        #: Records a dry run (``--test``) may still write: it stops there, quietly, where
        #: the SDK would raise at the next record and log that as an error.
        self._dry_run_left: int | None = None
        self._ignored_bookmarks: set[tuple[str, str]] = set()
        #: Each partition's windows, planned at once when the first partition is read.
        self._plans: dict[str, list[Window]] | None = None

    # ----- what a vendor stream provides -------------------------------------------------

    @abc.abstractmethod
    def plan(self, context: Context) -> list[Window]:
        """The windows this run reads for one partition, oldest first."""

    @abc.abstractmethod
    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """The request that reads one window."""

    @abc.abstractmethod
    def records_from(
        self,
        body: t.Any,  # noqa: ANN401 - whatever parse_body made of the response
        context: Context,
        window: Window,
    ) -> Iterable[dict[str, t.Any]]:
        """The records of one parsed response body (a list, or a lazy iterator for files).

        Raises:
            WindowTooLargeError: when the body says the window holds too much.
        """

    @abc.abstractmethod
    def bookmark_value(self, window: Window, context: Context) -> str:
        """The bookmark to store once ``window`` has been written completely."""

    @abc.abstractmethod
    def newest_bookmark(self, context: Context) -> dt.datetime:
        """The latest bookmark a run can have stored by now, as :meth:`parse_bookmark` makes it.

        Today (a day bookmark, in the partition's time zone) or now (a time bookmark): a
        stored bookmark after it is ignored (see :meth:`stored_bookmark`).
        """

    @abc.abstractmethod
    def describe_partition(self, context: Context) -> str:
        """Who the partition is, for messages: e.g. ``CleverTap account ABC``."""

    @abc.abstractmethod
    def auth_error_message(self, context: Context) -> str:
        """What to tell the user when the source refuses the credentials."""

    def connection_check(self, context: Context) -> str:
        """What one small request for the partition saw, for ``--check`` (one line).

        Only the stream that speaks for its source (``checks_connection``) implements it.

        Raises:
            SourceError: when the source cannot be reached or refuses the credentials.
        """
        raise NotImplementedError

    def describe_window(self, context: Context, window: Window) -> str:  # noqa: ARG002
        """What a window reads, for errors: its dates or times (a file, for MoEngage)."""
        return window.describe()

    def where(self, context: Context, window: Window) -> str:
        """Which request a message is about: source, partition, stream and window."""
        partition, window_text = (
            self.describe_partition(context),
            self.describe_window(context, window),
        )
        return f"{partition}, {self.name} {window_text}"

    def client_error(
        self, response: requests.Response, context: Context, window: Window
    ) -> Exception:
        """The error for a 4xx other than 401/403 (vendors map their own)."""
        return SourceError(
            f"{self.where(context, window)}: HTTP {response.status_code}: {_short_text(response)}",
        )

    def refusal(
        self,
        response: requests.Response,  # noqa: ARG002
        context: Context,  # noqa: ARG002
        window: Window,  # noqa: ARG002
    ) -> Exception | None:
        """What an error body says whatever its status (400 and up), or None to go by status.

        Called before 429 and 5xx are retried, for vendors whose refusals (e.g. a window too
        large) come with no reliable status; the body is read already.
        """
        return None

    def status_in_body(self, body: t.Any) -> int | None:  # noqa: ANN401
        """The HTTP status a 200 body says it stands for, or None (the 200 counts).

        Vendors that report failures inside a 200 (CleverTap) override it; the status is
        then classified as :meth:`raise_for_status` classifies a real one.
        """
        del body
        return None

    def check_body(self, body: t.Any, context: Context, window: Window) -> None:  # noqa: ANN401
        """Raise if a 200 body reports a failure (vendors that do this override it)."""

    def throttle_key(self, context: Context) -> str:  # noqa: ARG002
        """Whose requests share one limit: an account, a Space, a workspace."""
        return self.url_base

    # ----- concurrency, from the vendor's settings ----------------------------------------

    @property
    def fetch_ahead_depth(self) -> int:
        """How many windows are fetched at once: the vendor's requests-in-flight limit."""
        return int(setting(self.config, self.concurrency_setting, self.default_concurrency))

    @property
    def _stop(self) -> Stop:
        """The tap's stop: SIGTERM or SIGINT ask for it (see :mod:`tap_msgreports.stopping`)."""
        return self.run.stop

    def throttle(self, context: Context) -> threading.BoundedSemaphore:
        """The semaphore this partition's requests share with every stream of its key."""
        return self.run.throttles.get(
            self.source_name, self.throttle_key(context), self.fetch_ahead_depth
        )

    # ----- SDK hooks ---------------------------------------------------------------------

    @property
    def timeout(self) -> int:
        """Seconds per request, from ``request_timeout`` (an integer setting)."""
        return int(self.http_settings.request_timeout)

    def backoff_wait_generator(self) -> Generator[float, t.Any, None]:
        """Retry-After when sent, else exponential backoff with jitter."""
        return retry_waits(
            initial=self.http_settings.backoff_initial_seconds,
            maximum=self.http_settings.backoff_max_seconds,
        )

    def backoff_jitter(self, value: float) -> float:
        """Jitter is part of :func:`retry_waits`; a Retry-After is honoured as sent."""
        return value

    def backoff_max_tries(self) -> int:
        """The first try plus ``max_retries``."""
        return self.http_settings.max_retries + 1

    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """Retries built from the SDK's backoff hooks, with waits that a stop ends at once.

        Not backoff's decorator: it sleeps with ``time.sleep``, which no signal can cut
        short on a worker thread, and its default log line prints the exception's text,
        which for a connection error holds the full URL, query string (a MoEngage
        signature) included. Retries are logged once, by :meth:`backoff_handler`.
        """

        @functools.wraps(func)
        def tried(*args: t.Any, **kwargs: t.Any) -> t.Any:  # noqa: ANN401
            waits, limit, tries = self.backoff_wait_generator(), self.backoff_max_tries(), 0
            next(waits)  # primed, as backoff does
            while True:
                tries += 1
                try:
                    return func(*args, **kwargs)
                except RETRIABLE_ERRORS as exc:
                    if tries >= limit:
                        raise
                    wait = self.backoff_jitter(waits.send(exc))
                    self.backoff_handler({"tries": tries, "exception": exc, "wait": wait})
                    self._stop.pause(wait)

        return tried

    def backoff_handler(self, details: t.Mapping[str, t.Any]) -> None:
        """Log one line per retry: what failed, which try, how long we wait."""
        self.logger.warning(
            "%s %s: try %d failed (%s); retrying in %.1f s",
            self.source_name,
            self.name,
            details.get("tries", 0),
            failure_reason(details.get("exception")),
            details.get("wait", 0.0),
        )

    def get_record_counter(self, **kwargs: t.Any) -> metrics.Counter:  # noqa: ANN401
        """Records counted per partition (see :mod:`tap_msgreports.metrics`)."""
        del kwargs  # no endpoint tag: a stream has one
        return partition_metrics.record_counter(self.name)

    def get_sync_timer(self) -> metrics.Timer:
        """Sync time per partition (see :mod:`tap_msgreports.metrics`)."""
        return partition_metrics.sync_timer(self.name)

    def generate_child_contexts(
        self,
        record: dict[str, t.Any],
        context: Context | None,
    ) -> Iterable[Context | None]:
        """No child streams here: nothing to generate, and nothing to filter per record."""
        del record, context
        return ()

    @cached_property
    def _writes_records_itself(self) -> bool:
        """Whether records go out as read: every property selected, no stream map.

        Then a RECORD line is the record between two fixed byte strings
        (:class:`~tap_msgreports.writer.RecordEnvelope`), and the SDK's per-record message
        objects, selection walk and mapping, which would change nothing, are skipped. Any
        deselected property, alias, filter or flattening takes the SDK's path.
        """
        maps = self.stream_maps
        return (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and all(self.mask.values())
            and isinstance(sdk_compat.tap_of(self).message_writer, BufferedMsgSpecWriter)
        )

    def write_record_directly(self, record: dict[str, t.Any]) -> bool:
        """Write one RECORD directly when records go out as read (else the SDK's way)."""
        if not self._writes_records_itself:
            return False
        writer = t.cast("BufferedMsgSpecWriter", sdk_compat.tap_of(self).message_writer)
        writer.write_record(self._envelope, record)
        self.state_manager.is_flushed = False
        return True

    def get_replication_key_signpost(self, context: Context | None = None) -> None:  # noqa: ARG002
        """No signpost: bookmarks are window ends, not record values."""
        return

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Read the partition's windows in order, fetching ahead, bookmarking each."""
        if self._dry_run_left is None and self.ABORT_AT_RECORD_COUNT is not None:
            self._dry_run_left = self.ABORT_AT_RECORD_COUNT
        if self._dry_run_left == 0:
            return
        partition: Context = context or {}
        windows = self.planned_windows(partition)
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
        self._envelope = RecordEnvelope(self.name, sdk_compat.stream_version(self))
        with self.get_http_request_counter() as counter:
            counter.with_context(partition)
            self._requests = counter
            try:
                with self._stop.deferred():  # stops at safe points only: see stopping.py
                    yield from self._read_windows(partition, windows)
            finally:
                self._requests = None

    def planned_windows(self, partition: Context) -> list[Window]:
        """The partition's windows, all partitions being planned when the first is read.

        Planning them together lets the run say, before its first request, that it would
        make more than ``MANY_REQUESTS`` (see :meth:`warn_of_many_requests`).
        """
        if self._plans is None:
            partitions: list[Context] = list(self.partitions or [{}])
            self._plans = {_plan_key(each): self.plan(each) for each in partitions}
            self.warn_of_many_requests(list(self._plans.values()))
        planned = self._plans.pop(_plan_key(partition), None)
        if not self._plans:
            self._plans = None  # a later sync plans again
        return self.plan(partition) if planned is None else planned

    def warn_of_many_requests(self, plans: list[list[Window]]) -> None:
        """Warn when the windows planned for the stream need more than ``MANY_REQUESTS``.

        Each window is one request at least (splits and retries add more); the count
        grows with the range (``start_date``, the lookback) over the window size.
        """
        windows = [window for plan in plans for window in plan]
        if len(windows) <= MANY_REQUESTS:
            return
        sizing = f"a larger {self.window_setting}" if self.window_setting else "fewer partitions"
        self.logger.warning(
            "%s %s: this run plans at least %s requests (one per window, over %d "
            "partitions, from %s to %s), more than %s: a later start_date or %s makes fewer",
            self.source_name,
            self.name,
            f"{len(windows):,}",
            len(plans),
            min(window.start for window in windows).date().isoformat(),
            max(window.end for window in windows).date().isoformat(),
            f"{MANY_REQUESTS:,}",
            sizing,
        )

    def _read_windows(
        self, partition: Context, windows: list[Window]
    ) -> Iterable[dict[str, t.Any]]:
        """Fetch ahead, yield each window's records in order, bookmark each window."""
        where = self.describe_partition(partition)
        progress = _Progress(f"{where} {self.name}", len(windows), self._position(partition))
        fetched = fetch_ahead(
            windows,
            lambda window: self._timed_read(partition, window),
            depth=self.fetch_ahead_depth,
            stop=self._stop,
        )
        for window, read in fetched:
            if isinstance(read, WindowUnavailableError):
                if read.retry_later:
                    self.logger.info("%s %s: %s; trying again next run", where, self.name, read)
                    return  # later windows cannot be there either
                self.logger.warning("%s %s: %s; skipped", where, self.name, read)
                self.advance_bookmark(partition, window)
                progress.skipped()
                continue
            records, seconds = read
            self._envelope.stamp(dt.datetime.now(dt.timezone.utc))  # the window's records
            if (left := self._dry_run_left) is not None:
                records = itertools.islice(records, left)
            count = 0
            for count, record in enumerate(records, start=1):  # noqa: B007 - counted for the log
                yield record
            if left is not None and (left := left - count) <= 0:
                self._dry_run_left = 0
                return  # a dry run (--test) ends at its limit; the window is not bookmarked
            self._dry_run_left = left
            self.advance_bookmark(partition, window)
            self.logger.info(progress.window_line(window, count, seconds))
        self.logger.info(progress.summary())

    def _position(self, partition: Context) -> tuple[int, int]:
        """Which partition of the stream this is (1-based), and how many there are."""
        partitions: list[Context] = list(self.partitions or [{}])
        number = partitions.index(partition) + 1 if partition in partitions else 1
        return number, len(partitions)

    # ----- bookmarks ---------------------------------------------------------------------

    def parse_bookmark(self, value: str) -> dt.datetime:
        """A stored bookmark as a day (a naive midnight); vendors with times override it.

        Raises:
            ValueError: when the value is not a date.
        """
        return dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())

    def stored_bookmark(self, context: Context) -> dt.datetime | None:
        """The bookmark a previous run stored for this partition, if it can be trusted.

        A bookmark of another replication key (a foreign state), one that is not a date (a
        corrupted state), one outside the calendar's sane years, or one after today is
        ignored with a warning: the partition is read from ``start_date`` again, which
        repeats rows but loses none. A bookmark after today is no point reached: a run with
        a future ``end_date`` (before windows stopped at today) or an edited state stored
        it, and it says nothing of how far reading got, so ``start_date`` is the newest
        point known to be sound.
        """
        state = self.stored_context_state(context)
        value = state.get("replication_key_value")
        if not value:
            return None
        if state.get("replication_key") not in {None, self.replication_key}:
            self._ignore_bookmark(context, value, "it belongs to another replication key")
            return None
        try:
            bookmark = self.parse_bookmark(str(value))
        except (ValueError, TypeError):
            self._ignore_bookmark(context, value, "it is not a date")
            return None
        if bookmark > (newest := self.newest_bookmark(context)):
            self._ignore_bookmark(context, value, f"it is after today, {_moment_text(newest)}")
            return None
        if not in_calendar(bookmark):
            self._ignore_bookmark(context, value, f"it is outside {CALENDAR_TEXT}")
            return None
        return bookmark

    def stored_context_state(self, context: Context) -> t.Mapping[str, t.Any]:
        """The partition's state as stored, without making one when there is none.

        ``get_context_state`` adds an empty partition to the state: planning every partition
        before the first is read (:meth:`planned_windows`) must not put those in a STATE.
        """
        return sdk_compat.stored_partition_state(self, context)

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The SDK's comparison of a stored bookmark with start_date, tolerant of bad state.

        The SDK compares them before any record to log where the sync starts; a bookmark
        that is not a date must not stop the run there (:meth:`stored_bookmark` warns).
        """
        try:
            return super().compare_start_date(value, start_date_value)
        except (ValueError, TypeError):
            return start_date_value

    def _ignore_bookmark(self, context: Context, value: object, why: str) -> None:
        """Warn once per partition and value: the bookmark is read again at each window."""
        key = (repr(sorted(context.items())), repr(value))
        if key in self._ignored_bookmarks:
            return
        self._ignored_bookmarks.add(key)
        self.logger.warning(
            "%s %s: ignoring the stored bookmark %r (%s); reading from start_date",
            self.describe_partition(context),
            self.name,
            str(value)[:80],
            why,
        )

    def advance_bookmark(self, context: Context, window: Window) -> None:
        """Store the window's bookmark (never moving it back) and emit STATE."""
        value = self.bookmark_value(window, context)
        stored = self.stored_bookmark(context)
        if stored is not None and stored >= self.parse_bookmark(value):
            return
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value
        self.state_manager.is_flushed = False
        sdk_compat.write_state(self)

    # ----- reading one window --------------------------------------------------------------

    def _timed_read(
        self,
        context: Context,
        window: Window,
    ) -> tuple[Iterable[dict[str, t.Any]], float] | WindowUnavailableError:
        """Runs on a worker: read a window, or say why it is not there."""
        started = time.monotonic()
        try:
            records = self.read_window(context, window)
        except WindowUnavailableError as unavailable:
            return unavailable
        return records, time.monotonic() - started

    def read_window(
        self,
        context: Context,
        window: Window,
        depth: int = 0,
    ) -> Iterable[dict[str, t.Any]]:
        """All records of ``window``, splitting it while the source says it is too large.

        ``depth`` counts the splits above this window, for the log.
        """
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

    def fetch_body(
        self, context: Context, window: Window, request: HTTPRequest | None = None
    ) -> t.Any:  # noqa: ANN401
        """Send one request of ``window`` (by default :meth:`window_request`), with retries.

        Returns its checked, parsed body. A vendor that needs more than one request per
        window (pages) sends them here too.

        Raises:
            SourceError: when the tries are used up or the request cannot be sent.
            WindowTooLargeError: when the source refuses the window as too large.
        """
        send = self.request_decorator(self._send)
        request = request or self.window_request(context, window)
        try:
            return send(self._prepare(request), context, window)
        except RETRIABLE_ERRORS as exc:
            msg = (
                f"{self.where(context, window)}: "
                f"gave up after {self.backoff_max_tries()} tries: {failure_reason(exc)}"
            )
            raise SourceError(msg) from None
        except requests.exceptions.RequestException as exc:  # e.g. a header it cannot send
            msg = (
                f"{self.where(context, window)}: "
                f"the request could not be sent ({type(exc).__name__}): check this "
                "source's settings"  # the exception's text may quote a header: not shown
            )
            raise SourceError(msg) from None

    def _prepare(self, request: HTTPRequest) -> requests.PreparedRequest:
        body_key = "json" if self.payload_as_json else "data"
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            **{body_key: request.data},
        )

    def _send(
        self,
        prepared: requests.PreparedRequest,
        context: Context,
        window: Window,
    ) -> t.Any:  # noqa: ANN401
        """One try: send, classify the status, parse the body once, check it."""
        response = self._send_throttled(prepared, context)
        self._count_request()
        status = response.status_code
        if response.is_redirect:
            response.close()
            raise SourceError(self.redirect_message(context, response))
        if status >= HTTP_CLIENT_ERROR:
            load_capped(response, ERROR_BODY_BYTES, "an error body", self.timeout)
        self.raise_for_status(response, context, window)
        body = self.parse_body(response)
        if (reported := self.status_in_body(body)) is not None:
            self.raise_for_status(response, context, window, reported)
        self.check_body(body, context, window)
        return body

    def raise_for_status(
        self,
        response: requests.Response,
        context: Context,
        window: Window,
        status: int | None = None,
    ) -> None:
        """Apply the status rules, kept in this one place.

        429 and 5xx are retried, 401/403 stop the run, other 4xx are the vendor's
        :meth:`client_error` (after its :meth:`refusal`).

        ``status`` is the one that counts when a 200 body reports its own (see
        :meth:`status_in_body`); by default the HTTP status. The body is read already.
        """
        status = response.status_code if status is None else status
        if (
            status >= HTTP_CLIENT_ERROR
            and (refused := self.refusal(response, context, window)) is not None
        ):
            raise refused
        if status == HTTP_TOO_MANY_REQUESTS or status >= HTTP_SERVER_ERROR:
            msg = f"{status_text(response, status)}: {_short_text(response)}"
            raise RetriableAPIError(msg, response)
        if status in AUTH_STATUSES:
            raise SourceAuthError(self.auth_error_message(context))
        if status >= HTTP_CLIENT_ERROR:
            raise self.client_error(response, context, window)

    def _send_throttled(
        self,
        prepared: requests.PreparedRequest,
        context: Context,
    ) -> requests.Response:
        self._stop.check()  # no request starts once a stop is asked for
        with self.throttle(context):
            return self.requests_session.send(
                prepared,
                timeout=self.timeout,
                stream=True,  # bodies are read within a size limit (see parse_body)
                allow_redirects=False,  # see redirect_message
            )

    def redirect_message(self, context: Context, response: requests.Response) -> str:
        """Why a redirect stops the run: it is not followed, credentials stay where set.

        requests drops only ``Authorization`` when a redirect changes host; a passcode or
        a signature in other headers would go with it, maybe over plain http.
        """
        return (
            f"{self.describe_partition(context)}, {self.name}: HTTP {response.status_code} "
            f"redirect to {url_origin(response.headers.get('Location', ''))}, not followed (the "
            f"credentials stay with the configured host): set the {self.source_name} base "
            "URL setting to the final address"
        )

    def parse_body(self, response: requests.Response) -> t.Any:  # noqa: ANN401
        """Read the body within ``max_response_mb`` and parse it once, with msgspec.

        A body that is not JSON, not UTF-8 or absurdly nested is worth another try.
        """
        limit = self.http_settings.max_response_mb << 20
        what = f"a {self.source_name} response (max_response_mb)"
        load_capped(response, limit, what, self.timeout)
        try:
            return msgspec.json.decode(response.content)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            msg = f"malformed JSON body ({len(response.content)} bytes): {exc}"
            raise RetriableAPIError(msg, response) from None

    def _count_request(self) -> None:
        """Count one request in the partition's ``http_request_count`` metric (any thread)."""
        with self._requests_lock:
            if self._requests is not None:
                self._requests.increment()

    def post_process(
        self,
        row: dict[str, t.Any],
        context: Context | None = None,  # noqa: ARG002
    ) -> dict[str, t.Any] | None:
        """Records are complete when :meth:`records_from` returns them."""
        return row


def require_objects(items: list[t.Any], what: str) -> None:
    """Refuse a list of records holding anything but objects, as a malformed body.

    Such a list is a broken body (a proxy, a truncated rewrite), not fewer records: dropping
    the other values would lose rows without a word. It is retried like any malformed body.

    Raises:
        RetriableAPIError: naming how many of the ``what`` are not objects.
    """
    if others := sum(type(item) is not dict for item in items):
        msg = f"malformed body: {others} of {len(items)} {what} are not objects"
        raise RetriableAPIError(msg)


def _moment_text(moment: dt.datetime) -> str:
    """A day as a date, any other time in ISO-8601."""
    return moment.date().isoformat() if moment.time() == dt.time() else moment.isoformat()


def _plan_key(partition: Context) -> str:
    """A partition as a dictionary key (its values are text)."""
    return repr(sorted(partition.items()))


def load_capped(response: requests.Response, limit: int, what: str, seconds: float) -> None:
    """Read a streamed body into ``response.content``: at most ``limit`` bytes, in time.

    A hostile or broken server could declare or send a body of any size: reading stops at
    the limit. Its time is bounded by :func:`arriving_chunks`.

    Raises:
        SourceError: when the body is (or declares to be) too large.
        SlowBodyError: when it is still arriving past its deadline.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        msg = f"{what} declares {int(declared) >> 20} MB, over the {limit >> 20} MB limit"
        raise SourceError(msg)
    body = bytearray()
    with response:
        for chunk in arriving_chunks(response, seconds, what):
            body += chunk
            if len(body) > limit:
                msg = f"{what} grew beyond the {limit >> 20} MB limit"
                raise SourceError(msg)
    response._content = bytes(body)  # noqa: SLF001 - what requests does when it reads a body


def arriving_chunks(response: requests.Response, seconds: float, what: str) -> Iterator[bytes]:
    """A streamed body, decoded, in the pieces it arrives in, whole and within its deadline.

    ``iter_content`` waits until a whole chunk is there, so a body sent a byte at a time
    would hold it for ever; each read here returns what the connection has. The HTTP
    timeout bounds each wait, not the whole body: a body must also end by its
    :class:`BodyDeadline`. A body that ends short of its ``Content-Length`` is broken, whoever
    reads it (a JSON body, a file, a probe of a file's first bytes). Failures are those
    ``iter_content`` raises, so retries treat both alike.

    Raises:
        requests.exceptions.ChunkedEncodingError: the connection broke mid-body, or the body
            ended short of its ``Content-Length``.
        requests.exceptions.ContentDecodingError: the body does not decode.
        requests.exceptions.ReadTimeout: no data within the request timeout.
        SlowBodyError: the body was still arriving past its deadline.
    """
    raw = response.raw
    deadline = BodyDeadline(seconds, what)
    decoded = 0
    try:
        while chunk := raw.read1(READ_CHUNK, decode_content=True):
            decoded += len(chunk)
            deadline.check(_bytes_received(raw, decoded))
            yield chunk
    except urllib3.exceptions.ReadTimeoutError:
        raise requests.exceptions.ReadTimeout(TIMED_OUT) from None
    except (urllib3.exceptions.ProtocolError, http.client.IncompleteRead):
        raise requests.exceptions.ChunkedEncodingError(BROKEN_MID_BODY) from None
    except urllib3.exceptions.DecodeError:
        raise requests.exceptions.ContentDecodingError(UNDECODABLE) from None
    _check_whole(response, deadline.received)


#: After its first ``request_timeout`` seconds, a body must keep arriving at this rate on
#: average: a slow link passes (a 10 MB file may take 160 s more), a drip or a stall does not.
MIN_BODY_RATE = 64 << 10  # bytes per second


class BodyDeadline:
    """When a body must have arrived: ``request_timeout``, plus the time its bytes justify.

    Every byte received buys ``1 / MIN_BODY_RATE`` seconds, so a large file on a slow link
    is given the time it needs while a body dripped a byte at a time ends soon after
    ``request_timeout``. The check runs as each piece arrives: a body ends within its
    deadline plus one ``request_timeout`` (a read that waits in vain).
    """

    def __init__(self, seconds: float, what: str) -> None:
        """Start the clock now; ``what`` names the body in the error."""
        self.seconds, self.what = seconds, what
        self.started = time.monotonic()
        self.received = 0

    def check(self, received: int) -> None:
        """Note that ``received`` bytes are in; raise once the body is past its deadline."""
        self.received = received
        elapsed = time.monotonic() - self.started
        if elapsed > self.seconds + received / MIN_BODY_RATE:
            msg = (
                f"{self.what} was still arriving after {elapsed:.0f} s, past its deadline "
                f"(request_timeout {self.seconds:g} s, plus 1 s per {MIN_BODY_RATE >> 10} KB "
                "received)"
            )
            raise SlowBodyError(msg)


def _bytes_received(raw: t.Any, decoded: int) -> int:  # noqa: ANN401 - urllib3's, or a stand-in
    """Bytes received so far as sent (compressed): inflating earns a body no extra time."""
    tell = getattr(raw, "tell", None)
    return int(tell()) if callable(tell) else decoded


def _check_whole(response: requests.Response, received: int) -> None:
    """Raise if the body ended before the ``Content-Length`` it declared.

    urllib3 checks this too (``enforce_content_length``); checked here as well, so that no
    reader depends on how a session or a version of urllib3 is set up: a short plain CSV has
    nothing else (no CRC, no trailer) that would tell it is cut.
    """
    declared = response.headers.get("Content-Length", "")
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
    if declared.isdigit() and not chunked and received < int(declared):
        raise requests.exceptions.ChunkedEncodingError(BROKEN_MID_BODY)


def vendor_message(response: requests.Response, *paths: tuple[str, ...]) -> str:
    """The vendor's error text: the first field found at ``paths`` in a JSON body.

    Each vendor keeps it elsewhere (CleverTap ``error``, Messangi ``meta.explain``, MoEngage
    ``error.message``); without one, the start of the body is the message.
    """
    try:
        body = response.json()
    except ValueError:
        return _short_text(response)
    return text_at(body, *paths) or _short_text(response)


def text_at(body: t.Any, *paths: tuple[str, ...]) -> str | None:  # noqa: ANN401
    """The first non-empty field found at one of ``paths`` in a parsed body, as text."""
    for path in paths:
        value = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            return str(value)
    return None


def status_text(response: requests.Response, status: int) -> str:
    """``HTTP 429``, or ``HTTP 200 reporting 429`` for a status a 200 body gave."""
    if status == response.status_code:
        return f"HTTP {status}"
    return f"HTTP {response.status_code} reporting {status}"


def url_origin(url: str) -> str:
    """Scheme, host and port of a URL, without its path and query (which may hold a signature)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "another address"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _short_text(response: requests.Response, limit: int = 300) -> str:
    """The start of a response body, on one line, for error messages."""
    text = response.text.replace("\n", " ").strip()
    return text[:limit] + ("..." if len(text) > limit else "") if text else "(empty body)"


#: Failures whose text may hold a URL or a header: the reason shown instead, first match.
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (requests.exceptions.Timeout, TIMED_OUT),
    (requests.exceptions.ChunkedEncodingError, BROKEN_MID_BODY),
    (requests.exceptions.ContentDecodingError, UNDECODABLE),
    ((requests.exceptions.ConnectionError, ConnectionResetError), "connection failed or dropped"),
)


def failure_reason(exception: BaseException | None) -> str:
    """A one-line reason for a failed try, free of URLs and headers."""
    if isinstance(exception, RetriableAPIError | SlowBodyError):
        return str(exception)  # our own text
    for kinds, reason in _REASONS:
        if isinstance(exception, kinds):
            return reason
    return type(exception).__name__ if exception is not None else "unknown error"


class SlowBodyError(requests.exceptions.ReadTimeout):
    """A body still arriving past its deadline: a timeout, retried as one."""


class _Progress:
    """How far a partition is: its windows, its records, and where it stands in the stream."""

    def __init__(self, label: str, windows: int, position: tuple[int, int]) -> None:
        self.label, self.windows = label, windows
        self.partition = f"partition {position[0]}/{position[1]}"
        self.done = self.records = 0
        self.started = time.monotonic()

    def skipped(self) -> None:
        self.done += 1

    def window_line(self, window: Window, records: int, seconds: float) -> str:
        self.done += 1
        self.records += records
        return (
            f"{self.label}: window {window.describe()}: {records} records in {seconds:.2f} s "
            f"(window {self.done}/{self.windows}, {self.partition}, {self.elapsed:.1f} s)"
        )

    def summary(self) -> str:
        return (
            f"{self.label}: {self.records} records from {self.done}/{self.windows} windows "
            f"in {self.elapsed:.1f} s ({self.partition})"
        )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
