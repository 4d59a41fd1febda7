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
import threading
import time
import typing as t
from functools import cached_property
from urllib.parse import urlsplit

import msgspec
import requests
import urllib3
from singer_sdk import RESTStream, metrics
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_msgreports import metrics as partition_metrics
from tap_msgreports.concurrency import fetch_ahead
from tap_msgreports.errors import (
    SourceAuthError,
    SourceError,
    WindowTooLargeError,
    WindowUnavailableError,
)
from tap_msgreports.retries import retry_waits
from tap_msgreports.settings import HttpSettings, setting
from tap_msgreports.windows import ONE_DAY, Window
from tap_msgreports.writer import BufferedMsgSpecWriter, RecordEnvelope

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest

    from tap_msgreports.concurrency import ThrottleRegistry
    from tap_msgreports.stopping import Stop
    from tap_msgreports.tap import TapMsgReports

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
READ_CHUNK = 1 << 20
#: Pieces one split makes at most, whatever the source suggests: a response that lies about
#: its total could otherwise ask for millions of windows at once (pieces split again).
MAX_SPLIT_PARTS = 64
ERROR_BODY_BYTES = 1 << 20  # an error message is short; more is not read
AUTH_STATUSES = frozenset({401, 403})
TIMED_OUT = "timed out"
BROKEN_MID_BODY = "connection broken mid-body"
UNDECODABLE = "the body does not decode (Content-Encoding)"


class WindowedReportStream(RESTStream[None], metaclass=abc.ABCMeta):
    """A report read in date windows, one partition at a time, bookmarked per window."""

    #: The vendor's name as users know it, used in every log line and error.
    source_name: t.ClassVar[str]
    #: The smallest window a too-large window may be split into.
    split_resolution: t.ClassVar = ONE_DAY
    #: Records are built field by field from the schema, so the SDK's per-record type
    #: conformance (most of its per-record cost) has nothing to do; the SDK standard tests
    #: check records against the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The setting limiting requests in flight (and windows fetched ahead), and its default.
    concurrency_setting: t.ClassVar[str]
    default_concurrency: t.ClassVar[int]
    is_sorted = False

    def __init__(self, tap: TapMsgReports, schema: dict[str, t.Any] | None = None) -> None:
        """Set up the stream; HTTP settings are read once from the config."""
        super().__init__(tap, schema=schema)
        self.http_settings = HttpSettings.from_config(self.config)
        self._requests_lock = threading.Lock()
        self._requests: metrics.Counter | None = None
        self._envelope = RecordEnvelope(self.name, version=None)  # made again per sync

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
    def describe_partition(self, context: Context) -> str:
        """Who the partition is, for messages: e.g. ``CleverTap account ABC``."""

    @abc.abstractmethod
    def auth_error_message(self, context: Context) -> str:
        """What to tell the user when the source refuses the credentials."""

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
        return self._tap.stop  # type: ignore[attr-defined, no-any-return]

    def throttle(self, context: Context) -> threading.BoundedSemaphore:
        """The semaphore this partition's requests share with every stream of its key."""
        registry: ThrottleRegistry = self._tap.throttles  # type: ignore[attr-defined]
        return registry.get(self.source_name, self.throttle_key(context), self.fetch_ahead_depth)

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
            and isinstance(self._tap.message_writer, BufferedMsgSpecWriter)
        )

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """Write one RECORD: directly when records go out as read, else the SDK's way."""
        if not self._writes_records_itself:
            super()._write_record_message(record)
            return
        writer = t.cast("BufferedMsgSpecWriter", self._tap.message_writer)
        writer.write_record(self._envelope, record)
        self.state_manager.is_flushed = False

    def get_replication_key_signpost(self, context: Context | None = None) -> None:  # noqa: ARG002
        """No signpost: bookmarks are window ends, not record values."""
        return

    def _increment_stream_state(
        self,
        latest_record: dict[str, t.Any],
        *,
        context: Context | None = None,
    ) -> None:
        """Records do not move the bookmark; :meth:`advance_bookmark` does, per window."""

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Read the partition's windows in order, fetching ahead, bookmarking each."""
        partition: Context = context or {}
        windows = self.plan(partition)
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
        self._envelope = RecordEnvelope(self.name, self._stream_version)
        with self.get_http_request_counter() as counter:
            counter.with_context(partition)
            self._requests = counter
            try:
                with self._stop.deferred():  # stops at safe points only: see stopping.py
                    yield from self._read_windows(partition, windows)
            finally:
                self._requests = None

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
            count = 0
            for count, record in enumerate(records, start=1):  # noqa: B007 - counted for the log
                yield record
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
        """The bookmark a previous run stored for this partition, if it can be read.

        A bookmark of another replication key (a foreign state) or one that is not a date
        (a corrupted state) is ignored with a warning: the partition is read from
        ``start_date`` again, which repeats rows but loses none.
        """
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if not value:
            return None
        if state.get("replication_key") not in {None, self.replication_key}:
            self._ignore_bookmark(context, value, "it belongs to another replication key")
            return None
        try:
            return self.parse_bookmark(str(value))
        except (ValueError, TypeError):
            self._ignore_bookmark(context, value, "it is not a date")
            return None

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
        self._write_state_message()

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
        send = self.request_decorator(self._send)
        try:
            body = send(self._prepare(self.window_request(context, window)), context, window)
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
        return self.records_from(body, context, window)

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
            if (refused := self.refusal(response, context, window)) is not None:
                raise refused
        if status == HTTP_TOO_MANY_REQUESTS or status >= HTTP_SERVER_ERROR:
            msg = f"HTTP {status}: {_short_text(response)}"
            raise RetriableAPIError(msg, response)
        if status in AUTH_STATUSES:
            raise SourceAuthError(self.auth_error_message(context))
        if status >= HTTP_CLIENT_ERROR:
            raise self.client_error(response, context, window)
        body = self.parse_body(response)
        self.check_body(body, context, window)
        return body

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
            f"redirect to {_origin(response.headers.get('Location', ''))}, not followed (the "
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


def load_capped(response: requests.Response, limit: int, what: str, seconds: float) -> None:
    """Read a streamed body into ``response.content``: at most ``limit`` bytes, ``seconds`` long.

    A hostile or broken server could declare or send a body of any size, or drip it a byte
    at a time (the HTTP timeout bounds each wait, not the whole body): reading stops at the
    limit, and a body still arriving after ``seconds`` is a timeout, retried like one.

    Raises:
        SourceError: when the body is (or declares to be) too large.
        SlowBodyError: when it takes longer than ``seconds``.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        msg = f"{what} declares {int(declared) >> 20} MB, over the {limit >> 20} MB limit"
        raise SourceError(msg)
    deadline = time.monotonic() + seconds
    body = bytearray()
    with response:
        for chunk in arriving_chunks(response):
            body += chunk
            if len(body) > limit:
                msg = f"{what} grew beyond the {limit >> 20} MB limit"
                raise SourceError(msg)
            if time.monotonic() > deadline:
                msg = f"{what} was still arriving after {seconds:g} s (request_timeout)"
                raise SlowBodyError(msg)
    response._content = bytes(body)  # noqa: SLF001 - what requests does when it reads a body


def arriving_chunks(response: requests.Response) -> Iterator[bytes]:
    """A streamed body, decoded, in the pieces it arrives in (up to ``READ_CHUNK`` each).

    ``iter_content`` waits until a whole chunk is there, so a body sent a byte at a time
    would hold it for ever; each read here returns what the connection has. Failures are
    those ``iter_content`` raises, so retries treat both alike.

    Raises:
        requests.exceptions.ChunkedEncodingError: the connection broke mid-body.
        requests.exceptions.ContentDecodingError: the body does not decode.
        requests.exceptions.ReadTimeout: no data within the request timeout.
    """
    raw = response.raw
    try:
        while chunk := raw.read1(READ_CHUNK, decode_content=True):
            yield chunk
    except urllib3.exceptions.ReadTimeoutError:
        raise requests.exceptions.ReadTimeout(TIMED_OUT) from None
    except (urllib3.exceptions.ProtocolError, http.client.IncompleteRead):
        raise requests.exceptions.ChunkedEncodingError(BROKEN_MID_BODY) from None
    except urllib3.exceptions.DecodeError:
        raise requests.exceptions.ContentDecodingError(UNDECODABLE) from None


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


def _origin(url: str) -> str:
    """Scheme and host of a URL, without its path and query (which may hold a signature)."""
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
    """A body still arriving when the request timeout is over: a timeout, retried as one."""


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
