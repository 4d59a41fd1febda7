"""The loopback HTTP server: routes vendor paths, applies latency, faults and concurrency limits.

`EmulatorServer` owns the `World`, the vendor emulations and the fault plans, and serves the
control endpoints under `/_emulator/` (see `control.py`). It logs every vendor request (when,
which stream, which resource, which fault, which status): that log is the one count of requests
and injected faults. It listens on loopback only and can stop itself after a quiet spell or a
total lifetime, so a forgotten emulator always ends.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from tap_msgreports.settings import is_loopback
from tap_msgreports_emulator.clevertap import CleverTapAPI
from tap_msgreports_emulator.control import CONTROL_PREFIX, handle_control
from tap_msgreports_emulator.faults import FAILURES_IN_OK, FaultPlan
from tap_msgreports_emulator.messangi import MessangiAPI
from tap_msgreports_emulator.moengage import MoEngageAPI
from tap_msgreports_emulator.transport import LoopbackHTTPServer
from tap_msgreports_emulator.vendor import Reply, Request, Response, VendorAPI, json_response
from tap_msgreports_emulator.world import World

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date
    from types import TracebackType

    from typing_extensions import Self

LOGGER = logging.getLogger(__name__)
# The default tap config covers 30 days ending today, like the tap's own start_date default.
CONFIG_DAYS = 30
# How often the watchdog looks at the idle and lifetime limits, and how often serve_forever
# looks for a shutdown request: short, so that stop() and self-stops take no noticeable time.
POLL_SECONDS = 0.05
# What a "malformed" fault sends with status 200: an error page where JSON was promised.
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
SERVER_ERROR_KINDS = frozenset({"429", "500", "503"})
# Hex digits kept of a resource's digest: enough to tell requests apart, no secret readable.
RESOURCE_DIGITS = 16


@dataclass(frozen=True)
class LoggedRequest:
    """One vendor request, as the emulator saw and answered it.

    Attributes:
        arrived: `time.monotonic()` when the request was read, before any latency.
        vendor: The vendor name.
        stream: The tap stream it reads, if the vendor can tell.
        resource: A digest of what was asked (method, path, query, body and the vendor's
            concurrency key, e.g. the account): a retry of a request has the same resource.
        fault: The injected fault kind, or None.
        retry_after: Seconds sent in `Retry-After` with an injected 429, or None.
        status: The status answered; None for a dropped connection.
    """

    arrived: float
    vendor: str
    stream: str | None
    resource: str
    fault: str | None
    retry_after: int | None
    status: int | None


def resource_of(request: Request, key: str | None) -> str:
    """Return the digest that names what a request asks for.

    Args:
        request: The request.
        key: The vendor's concurrency key of it (CleverTap's account, for instance).

    Returns:
        Hex digits; equal for equal requests.
    """
    digest = hashlib.sha256()
    query = sorted((name, value) for name, values in request.query.items() for value in values)
    for part in (request.method, request.path, repr(query), key or "", request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:RESOURCE_DIGITS]


class _InFlight:
    """Requests in flight: in total, per concurrency key, and the most seen at once per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: Counter[str] = Counter()
        self._peak: dict[str, int] = {}
        self.total = 0

    def enter(self, key: str | None) -> int:
        with self._lock:
            self.total += 1
            if key is None:
                return 0
            self._by_key[key] += 1
            self._peak[key] = max(self._peak.get(key, 0), self._by_key[key])
            return self._by_key[key]

    def leave(self, key: str | None) -> None:
        with self._lock:
            self.total -= 1
            if key is not None:
                self._by_key[key] -= 1

    def peaks(self) -> dict[str, int]:
        with self._lock:
            return dict(self._peak)


class EmulatorServer:
    """A loopback server that behaves like the vendor APIs.

    Attributes:
        world: The simulated world.
        faults: A fault plan, several (the first that applies to a request decides), or None.
        vendors: The vendor emulations, tried in order for each path.
        host: The loopback address listened on.
        idle_timeout: Seconds without requests after which the server stops, or None.
        max_lifetime: Seconds after start at which the server stops, or None.
        stop_reason: Why the server stopped (`"stop()"`, `"idle timeout"`, `"max lifetime"`,
            `"control endpoint"`), None while it runs.
    """

    def __init__(  # noqa: PLR0913 - every argument is a documented knob of the emulator
        self,
        world: World | None = None,
        faults: FaultPlan | Sequence[FaultPlan] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float | None = None,
        max_lifetime: float | None = None,
        vendors: Sequence[VendorAPI] | None = None,
    ) -> None:
        """Create the server (call `start()` or use it as a context manager).

        Args:
            world: The simulated world; default `World()`.
            faults: A fault plan, or several (the first that applies to a request decides its
                latency and fault); None for no latency and no faults.
            host: A loopback address to listen on.
            port: The port; 0 picks a free one.
            idle_timeout: Stop after this many seconds without requests; None never.
            max_lifetime: Stop this many seconds after start; None never.
            vendors: The vendor emulations; default CleverTap, Messangi and MoEngage over
                `world`.

        Raises:
            ValueError: If host is not a loopback address.
        """
        if not is_loopback(host):
            msg = f"the emulator listens on loopback only, not on {host!r}"
            raise ValueError(msg)
        self.world = world if world is not None else World()
        self.vendors: tuple[VendorAPI, ...] = tuple(
            vendors
            if vendors is not None
            else (CleverTapAPI(self.world), MessangiAPI(self.world), MoEngageAPI(self.world))
        )
        self.faults: FaultPlan | Sequence[FaultPlan] | None = faults
        self.host = host
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.stop_reason: str | None = None
        self._port = port
        self._lock = threading.Lock()
        self._httpd: LoopbackHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._in_flight = _InFlight()
        self._log: list[LoggedRequest] = []
        self._started_at = self._last_activity = time.monotonic()

    # Lifecycle

    def start(self) -> Self:
        """Bind the socket and serve in background threads.

        Returns:
            The server itself.

        Raises:
            RuntimeError: If the server was started before.
        """
        with self._lock:
            if self._httpd is not None:
                msg = "an EmulatorServer can be started once"
                raise RuntimeError(msg)
            self._httpd = LoopbackHTTPServer((self.host, self._port), self)
            self._started_at = self._last_activity = time.monotonic()
            serve = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": POLL_SECONDS},
                name="emulator-serve",
                daemon=True,
            )
            self._threads = [serve]
            if self.idle_timeout is not None or self.max_lifetime is not None:
                self._threads.append(
                    threading.Thread(target=self._watch, name="emulator-watchdog", daemon=True)
                )
            for thread in self._threads:
                thread.start()
        LOGGER.info("emulator listening on %s", self.url)
        return self

    def stop(self, reason: str = "stop()") -> None:
        """Stop serving, close every connection and release the port. Safe to call twice.

        Args:
            reason: Recorded as `stop_reason`.
        """
        with self._lock:
            httpd = self._httpd
            if httpd is None or self._stopping.is_set():
                return
            self._stopping.set()
            self.stop_reason = reason
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        for vendor in self.vendors:
            vendor.close()  # e.g. MoEngage's report files on disk
        LOGGER.info("emulator stopped (%s)", reason)
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Returns:
            True if the server has stopped.
        """
        return self._stopped.wait(timeout)

    @property
    def running(self) -> bool:
        """Whether the server has started and not stopped."""
        return self._httpd is not None and not self._stopping.is_set()

    def __enter__(self) -> Self:
        """Start the server.

        Returns:
            The server itself.
        """
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # What tests and the CLI ask for

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8765`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def tap_config(self) -> dict[str, Any]:
        """Return a tap config that reads every emulated vendor from this server.

        Returns:
            `start_date` and `end_date` (30 days ending today) and each vendor's settings.
        """
        today = self.world.today
        config: dict[str, Any] = {
            "start_date": (today - timedelta(days=CONFIG_DAYS - 1)).isoformat(),
            "end_date": today.isoformat(),
        }
        for vendor in self.vendors:
            config.update(vendor.tap_config(self.url))
        return config

    def status(self) -> dict[str, Any]:
        """Return the clock, the counters and the in-flight peaks.

        Returns:
            The body of `GET /_emulator/status`; `requests` counts per vendor and
            `faults_injected` per kind, both from the request log.
        """
        log = self.request_log()
        requests = Counter({vendor.name: 0 for vendor in self.vendors})
        requests.update(entry.vendor for entry in log)
        faults_injected = Counter(entry.fault for entry in log if entry.fault is not None)
        return {
            "today": self.world.today.isoformat(),
            "seed": self.world.seed,
            "scale": self.world.scale,
            "requests": dict(requests),
            "faults_injected": dict(faults_injected),
            "max_in_flight": self._in_flight.peaks(),
        }

    def request_log(self) -> list[LoggedRequest]:
        """Return every vendor request served so far, in the order they were answered.

        Returns:
            A copy of the log.
        """
        with self._lock:
            return list(self._log)

    def issued_secrets(self) -> dict[str, str]:
        """Return every secret the vendors handed out or computed (signatures included).

        Returns:
            Secret -> what it is, e.g. `CleverTap passcode of EMU-ACCT-0001`.
        """
        found: dict[str, str] = {}
        for vendor in self.vendors:
            found.update(vendor.issued_secrets())
        return found

    def vendor(self, name: str) -> VendorAPI:
        """Return a vendor emulation by name.

        Args:
            name: e.g. `"clevertap"`.

        Returns:
            The vendor.

        Raises:
            KeyError: If no vendor has that name.
        """
        for vendor in self.vendors:
            if vendor.name == name:
                return vendor
        raise KeyError(name)

    @property
    def clevertap(self) -> CleverTapAPI:
        """The CleverTap emulation (to change its limits, for instance)."""
        return cast("CleverTapAPI", self.vendor(CleverTapAPI.name))

    @property
    def messangi(self) -> MessangiAPI:
        """The Messangi emulation (to change its caps or its lines per day, for instance)."""
        return cast("MessangiAPI", self.vendor(MessangiAPI.name))

    @property
    def moengage(self) -> MoEngageAPI:
        """The MoEngage emulation (to change its rows per file or body format, for instance)."""
        return cast("MoEngageAPI", self.vendor(MoEngageAPI.name))

    def truth(
        self, stream: str, start: date, end: date, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return what a correct tap holds for a stream and a range of days.

        Args:
            stream: A stream name, e.g. `campaigns`, `mlog_items` or `moengage_campaign_rows`
                (whose days are generation dates).
            start: First day, inclusive.
            end: Last day, inclusive.
            account_id: Only this account, or None for all.

        Returns:
            The records.

        Raises:
            KeyError: If no vendor has that stream, or the account is unknown.
        """
        for vendor in self.vendors:
            if stream in vendor.streams:
                return vendor.truth(stream, start, end, account_id)
        raise KeyError(stream)

    def request_stop(self, reason: str) -> None:
        """Stop from another thread, e.g. once the current reply is sent.

        Args:
            reason: Recorded as `stop_reason`.
        """
        threading.Thread(target=self.stop, args=(reason,), daemon=True).start()

    # Serving one request (called by the handler threads)

    def dispatch(self, request: Request) -> Reply:
        """Answer one request: a control endpoint or a vendor path.

        Args:
            request: The request.

        Returns:
            What to send back.
        """
        self._last_activity = time.monotonic()
        try:
            if request.path.startswith(CONTROL_PREFIX):
                return handle_control(self, request)
            vendor = next((v for v in self.vendors if v.handles(request.path)), None)
            if vendor is None:
                return Reply(json_response(404, {"error": f"no such path: {request.path}"}))
            return self._serve_vendor(vendor, request)
        finally:
            self._last_activity = time.monotonic()

    def _serve_vendor(self, vendor: VendorAPI, request: Request) -> Reply:
        arrived = time.monotonic()
        key = vendor.concurrency_key(request)
        stream = vendor.stream_of(request)
        in_flight = self._in_flight.enter(key)
        fault: str | None = None
        plan: FaultPlan | None = None
        # The slot is left before the reply is written: a client that sends its next request
        # the moment it has an answer must not find its previous one still counted.
        try:
            if vendor.max_concurrency is not None and in_flight > vendor.max_concurrency:
                reply = Reply(vendor.error_response(429))
            else:
                plan = self._plan_for(vendor.name, stream)
                if plan is not None:
                    self._stopping.wait(plan.latency_ms / 1000)
                    fault = plan.next_fault(vendor.name, stream)
                    if fault in FAILURES_IN_OK and vendor.failure_in_ok(fault) is None:
                        fault = None  # a vendor that never fails inside a 200 answers normally
                reply = self._answer(vendor, request, plan, fault)
        finally:
            self._in_flight.leave(key)
        # Logged before the reply is written, so a client that has its answer finds it here.
        entry = LoggedRequest(
            arrived=arrived,
            vendor=vendor.name,
            stream=stream,
            resource=resource_of(request, key),
            fault=fault,
            retry_after=plan.retry_after if plan is not None and fault == "429" else None,
            status=None if reply.response is None else reply.response.status,
        )
        with self._lock:
            self._log.append(entry)
        return reply

    def _plan_for(self, vendor: str, stream: str | None) -> FaultPlan | None:
        faults = self.faults
        plans = (faults,) if isinstance(faults, FaultPlan) else (faults or ())
        return next((plan for plan in plans if plan.applies_to(vendor, stream)), None)

    def _answer(
        self, vendor: VendorAPI, request: Request, plan: FaultPlan | None, fault: str | None
    ) -> Reply:
        if plan is None or fault is None:
            return Reply(vendor.handle(request))
        LOGGER.debug("injecting fault %s into %s %s", fault, request.method, request.path)
        return self._inject(fault, plan, vendor, request)

    def _inject(self, fault: str, plan: FaultPlan, vendor: VendorAPI, request: Request) -> Reply:
        if (inside_ok := vendor.failure_in_ok(fault)) is not None:
            return Reply(inside_ok)
        if fault in SERVER_ERROR_KINDS:
            retry_after = plan.retry_after if fault == "429" else None
            return Reply(vendor.error_response(int(fault), retry_after))
        if fault == "drop":
            return Reply(None)
        if fault == "malformed":
            return Reply(Response(200, MALFORMED_BODY))
        if fault == "slow":
            self._stopping.wait(plan.slow_seconds)
        return Reply(vendor.handle(request), truncate=fault == "truncate")

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            reason = self._expiry()
            if reason is not None:
                self.stop(reason)
                return

    def _expiry(self) -> str | None:
        now = time.monotonic()
        if self.max_lifetime is not None and now - self._started_at >= self.max_lifetime:
            return "max lifetime"
        idle = self._in_flight.total == 0 and now - self._last_activity >= (
            self.idle_timeout if self.idle_timeout is not None else float("inf")
        )
        return "idle timeout" if idle else None
