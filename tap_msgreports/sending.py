"""The base of every stream's requests: sending, retries, statuses, throttling, bodies.

Each request is retried on 429, 5xx, timeouts, dropped connections and malformed bodies,
honouring ``Retry-After``, with waits a stop ends at once; 401/403 stop the run; a redirect
is refused; each request holds a slot of its account's throttle (see :mod:`concurrency`).
The rules themselves are in :mod:`tap_msgreports.http`.
"""

from __future__ import annotations

import abc
import functools
import threading
import typing as t
from collections import Counter

import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_msgreports.bodies import load_capped
from tap_msgreports.errors import SourceAuthError, SourceError
from tap_msgreports.http import (
    ERROR_BODY_BYTES,
    HTTP_CLIENT_ERROR,
    RETRIABLE_ERRORS,
    Status,
    StatusError,
    failure_reason,
    short_text,
    status_rule,
    status_text,
    url_origin,
)
from tap_msgreports.records import RecordsOut
from tap_msgreports.retries import retry_waits
from tap_msgreports.run import RunContext
from tap_msgreports.settings import HttpSettings, SourceSettings

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest

    from tap_msgreports.stopping import Stop
    from tap_msgreports.windows import Window


class HttpStream(RecordsOut, metaclass=abc.ABCMeta):
    """A stream whose requests follow the tap's HTTP rules."""

    #: The vendor's name as users know it, used in every log line and error.
    source_name: t.ClassVar[str]
    #: Statuses that, without ``Retry-After``, mean "busy" (too many requests in flight):
    #: retried after a short wait before the backoff (see :func:`retry_waits`).
    busy_statuses: t.ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self, tap: Tap, schema: dict[str, t.Any] | None = None, *, run: RunContext | None = None
    ) -> None:
        """Set up the stream; ``run`` is what the run's streams share (by default the tap's)."""
        super().__init__(tap, schema=schema)
        self.run = run or RunContext.of(tap)
        self.http_settings = HttpSettings.from_config(self.config)
        self._requests_lock = threading.Lock()
        #: Requests sent per partition, counted on the workers, whichever partition is written.
        self._requests: Counter[str] = Counter()

    # ----- what a vendor stream provides -------------------------------------------------

    @abc.abstractmethod
    def describe_partition(self, context: Context) -> str:
        """Who the partition is, for messages: e.g. ``CleverTap account ABC``."""

    @abc.abstractmethod
    def auth_error_message(self, context: Context) -> str:
        """What to tell the user when the source refuses the credentials."""

    @abc.abstractmethod
    def window_request(self, context: Context, window: Window) -> HTTPRequest:
        """The request that reads one window."""

    def describe_window(self, context: Context, window: Window) -> str:  # noqa: ARG002
        """What a window reads, for errors: its dates or times (a file, for MoEngage)."""
        return window.describe()

    def where(self, context: Context, window: Window) -> str:
        """Which request a message is about: source, partition, stream and window."""
        window_text = self.describe_window(context, window)
        return f"{self.describe_partition(context)}, {self.name} {window_text}"

    def client_error(
        self, response: requests.Response, context: Context, window: Window
    ) -> Exception:
        """The error for a 4xx other than 401/403 (vendors map their own)."""
        return SourceError(
            f"{self.where(context, window)}: HTTP {response.status_code}: {short_text(response)}"
        )

    def refusal(
        self,
        response: requests.Response,  # noqa: ARG002
        context: Context,  # noqa: ARG002
        window: Window,  # noqa: ARG002
    ) -> Exception | None:
        """What an error body says whatever its status (400 and up), or None to go by status.

        Checked before 429 and 5xx are retried: some refusals (a window too large) come with
        no reliable status.
        """
        return None

    def status_in_body(self, body: t.Any) -> int | None:  # noqa: ANN401
        """The HTTP status a 200 body says it stands for (CleverTap's fails), or None."""
        del body
        return None

    def check_body(self, body: t.Any, context: Context, window: Window) -> None:  # noqa: ANN401
        """Raise if a 200 body reports a failure (vendors that do this override it)."""

    def throttle_key(self, context: Context) -> str:  # noqa: ARG002
        """Whose requests share one limit: an account, a channel, a workspace."""
        return self.url_base

    # ----- concurrency, from the vendor's settings ----------------------------------------

    @property
    @abc.abstractmethod
    def vendor(self) -> SourceSettings:
        """The source's settings, read once: ``vendor = <Vendor>Settings.of_stream()``."""

    @property
    def fetch_ahead_depth(self) -> int:
        """How many windows of one key are fetched at once (``<vendor>_max_concurrency``)."""
        return self.vendor.max_concurrency

    @property
    def stop(self) -> Stop:
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
        """Retry-After when sent, a short wait when busy, else backoff with jitter."""
        return retry_waits(
            initial=self.http_settings.backoff_initial_seconds,
            maximum=self.http_settings.backoff_max_seconds,
            busy=self.busy_statuses,
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
                    self.stop.pause(wait)

        return tried

    def gave_up(self, exc: BaseException) -> str:
        """Why a request failed once its tries are used up (no URL, no header)."""
        return f"gave up after {self.backoff_max_tries()} tries: {failure_reason(exc)}"

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

    def fetch_body(
        self, context: Context, window: Window, request: HTTPRequest | None = None
    ) -> t.Any:  # noqa: ANN401
        """Send one request of ``window`` (by default :meth:`window_request`), with retries.

        Returns its checked, parsed body; pages of a window are sent here too.
        """
        send = self.request_decorator(self._send)
        request = request or self.window_request(context, window)
        try:
            return send(self.prepared_request(request), context, window)
        except RETRIABLE_ERRORS as exc:
            msg = f"{self.where(context, window)}: {self.gave_up(exc)}"
            raise SourceError(msg) from None
        except requests.exceptions.RequestException as exc:  # e.g. a header it cannot send
            msg = (
                f"{self.where(context, window)}: "
                f"the request could not be sent ({type(exc).__name__}): check this "
                "source's settings"  # the exception's text may quote a header: not shown
            )
            raise SourceError(msg) from None

    def prepared_request(self, request: HTTPRequest) -> requests.PreparedRequest:
        """``request`` as requests sends it, through the SDK (authenticator, user agent)."""
        body_key = "json" if self.payload_as_json else "data"
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            **{body_key: request.data},
        )

    def _send(self, prepared: requests.PreparedRequest, context: Context, window: Window) -> t.Any:  # noqa: ANN401
        """One try: send, classify the status, parse the body once, check it."""
        response = self.send_throttled(prepared, context)
        self._count_request(context)
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
        """Apply the status rules (``status``: a 200 body's own, else the HTTP status).

        429 and 5xx are retried, 401/403 stop the run, other 4xx are the vendor's
        :meth:`client_error` (after its :meth:`refusal`).
        """
        status = response.status_code if status is None else status
        rule = status_rule(status)
        if rule is Status.OK:
            return
        if (refused := self.refusal(response, context, window)) is not None:
            raise refused
        if rule is Status.RETRY:
            msg = f"{status_text(response, status)}: {short_text(response)}"
            raise StatusError(msg, response, status)
        if rule is Status.AUTH:
            raise SourceAuthError(self.auth_error_message(context))
        raise self.client_error(response, context, window)

    def send_throttled(
        self, prepared: requests.PreparedRequest, context: Context
    ) -> requests.Response:
        """Send within the partition's throttle, unless a stop was asked for; no redirect."""
        self.stop.check_fetch()  # no request starts once a stop is asked for, or a failure
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
        """Read the body within ``max_response_mb``, parse it once; a malformed one is retried."""
        limit = self.http_settings.max_response_mb << 20
        what = f"a {self.source_name} response (max_response_mb)"
        load_capped(response, limit, what, self.timeout)
        try:
            return msgspec.json.decode(response.content)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            msg = f"malformed JSON body ({len(response.content)} bytes): {exc}"
            raise RetriableAPIError(msg, response) from None

    def _count_request(self, context: Context) -> None:
        """Count one request of the partition (any thread), for its ``http_request_count``."""
        with self._requests_lock:
            self._requests[_partition_key(context)] += 1

    def requests_made(self, context: Context) -> int:
        """The partition's requests counted so far, and its count restarted."""
        with self._requests_lock:
            return self._requests.pop(_partition_key(context), 0)


def _partition_key(context: Context) -> str:
    """A partition as a dictionary key (its values are text)."""
    return repr(sorted(context.items()))
