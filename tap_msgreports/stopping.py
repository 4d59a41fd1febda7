"""Stopping on SIGTERM or SIGINT: at a safe point, promptly, without a torn line.

The SDK's handler raises wherever the signal lands (``sys.exit(0)``): a write to stdout
could be cut and written again, and workers fetching ahead kept the process alive.

Here the handler records the stop. Inside :meth:`Stop.deferred` (writing, reading records)
the main thread carries on to its next safe point, which raises :class:`StopRequested`:
between pieces of output, and every ``POLL_SECONDS`` while it waits for a fetch. Anywhere
else the tap stops at once. Workers start no request and end their waits at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future

ResultT = t.TypeVar("ResultT")

#: How often a thread waiting for a fetch looks whether a stop was asked for.
POLL_SECONDS = 0.1
#: The shell's convention for a process ended by a signal.
SIGNAL_STATUS_BASE = 128


class StopRequested(BaseException):
    """A signal asked the run to stop; raised only where no output is half written.

    A BaseException, so that no ``except Exception`` on the way takes it for a failure.
    """

    def __init__(self, signum: int) -> None:
        """Remember which signal it was."""
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """128 + the signal's number: 143 for SIGTERM, 130 for SIGINT."""
        return SIGNAL_STATUS_BASE + self.signum


class FetchesAbandonedError(Exception):
    """The run failed: a fetch still in flight ends at its next try or wait, unread."""


class Stop:
    """Whether a stop was asked for, shared by the main thread and the workers."""

    def __init__(self) -> None:
        """Not stopped; nothing deferring a stop."""
        self._event = threading.Event()
        self._wake = threading.Event()  # ends a pause: a stop, or fetches abandoned
        self._abandoned = False
        self._signum = 0
        self._deferring = 0  # main thread only: nesting of deferred()

    def request(self, signum: int) -> None:
        """Ask every thread to stop (called by the signal handler)."""
        self._signum = signum
        self._event.set()
        self._wake.set()

    def abandon_fetches(self) -> None:
        """The run failed: fetches in flight end at their next try or wait, unread."""
        self._abandoned = True
        self._wake.set()

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    @property
    def deferring(self) -> bool:
        """Whether the main thread is where only a safe point may stop it."""
        return self._deferring > 0

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While inside, a signal only asks for the stop; a safe point raises it."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1

    def check(self) -> None:
        """A safe point: raise :class:`StopRequested` if a stop was asked for."""
        if self._event.is_set():
            raise StopRequested(self._signum)

    def check_fetch(self) -> None:
        """A fetch's safe point: raise if a stop was asked for or fetches were abandoned."""
        self.check()
        if self._abandoned:
            raise FetchesAbandonedError

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's backoff), raising at once on a stop or an abandon."""
        self._wake.wait(seconds)
        self.check_fetch()

    def result(self, future: Future[ResultT]) -> ResultT:
        """The future's result; a stop ends the wait within ``POLL_SECONDS``."""
        while True:
            self.check()
            with contextlib.suppress(TimeoutError):
                return future.result(timeout=POLL_SECONDS)
