"""Requests in flight: a per-account limit, and windows fetched ahead in order.

A source such as CleverTap allows a few requests in flight per account. Every request
of every stream of that account takes a slot of one shared semaphore, so the limit
holds across streams. Windows are fetched a few at a time on worker threads while the
caller writes the records of the earliest window; results always come back in order.
Fetches always run on workers, so that the caller can stop while one hangs (see
:mod:`tap_msgreports.stopping`).
"""

from __future__ import annotations

import threading
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from tap_msgreports.stopping import Stop

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

ItemT = t.TypeVar("ItemT")
ResultT = t.TypeVar("ResultT")


class ThrottleRegistry:
    """One semaphore per (source, account), created on first use and shared after."""

    def __init__(self) -> None:
        """Start with no throttles."""
        self._lock = threading.Lock()
        self._throttles: dict[tuple[str, str], threading.BoundedSemaphore] = {}

    def get(self, source: str, account: str, limit: int) -> threading.BoundedSemaphore:
        """The semaphore limiting requests in flight for ``account`` of ``source``."""
        with self._lock:
            key = (source, account)
            if key not in self._throttles:
                self._throttles[key] = threading.BoundedSemaphore(limit)
            return self._throttles[key]


def fetch_ahead(
    items: Iterable[ItemT],
    fetch: Callable[[ItemT], ResultT],
    *,
    depth: int,
    stop: Stop | None = None,
) -> Iterator[tuple[ItemT, ResultT]]:
    """Yield ``(item, fetch(item))`` in the order of ``items``, ``depth`` fetched at once.

    The first failure is raised when its item's turn comes. When the caller stops early
    (an error, a record limit, a closed generator), fetches not yet started are
    cancelled and the call waits for those in flight, so no thread outlives the stream.
    On a ``stop`` it waits for none: a stalled request must not hold the exit (the tap
    ends the process, abandoning them).

    Raises:
        StopRequested: when ``stop`` is asked for while a fetch is awaited.
    """
    stop = stop or Stop()
    pending: deque[tuple[ItemT, Future[ResultT]]] = deque()
    remaining = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(depth, 1), thread_name_prefix="fetch-ahead")
    try:
        for item in remaining:
            pending.append((item, pool.submit(fetch, item)))
            if len(pending) >= depth:
                break
        while pending:
            item, future = pending.popleft()
            result = stop.result(future)
            next_item = next(remaining, _END)
            if next_item is not _END:
                queued = t.cast("ItemT", next_item)
                pending.append((queued, pool.submit(fetch, queued)))
            yield item, result
    finally:
        pool.shutdown(wait=not stop.requested, cancel_futures=True)


_END = object()
