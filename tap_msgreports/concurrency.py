"""Requests in flight: per-account limits, a global cap, and windows fetched ahead in order.

Every request of every stream of an account takes a slot of one shared semaphore, so a
vendor's limit per account holds across streams (:class:`ThrottleRegistry`).

:class:`Scheduler` fetches the windows of every partition on worker threads, earliest (in
write order) first, under a global cap and a bound on what was fetched and not yet written
(windows, and the records they hold): memory stays close to one partition's. The caller
takes results in write order, so a bookmark moves only past written windows; fetches run
on workers so that the caller can stop while one hangs (:mod:`tap_msgreports.stopping`).
"""

from __future__ import annotations

import threading
import typing as t
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tap_msgreports.stopping import Stop

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Hashable, Sequence

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


@dataclass(frozen=True)
class Lane(t.Generic[ItemT]):
    """One partition's items in write order, and the key whose limit its fetches share."""

    key: Hashable
    items: Sequence[ItemT]


@dataclass(frozen=True)
class Limits:
    """How much a scheduler fetches at once."""

    per_key: int  # fetches in flight per key (an account, a channel, a workspace)
    in_flight: int  # fetches in flight in all
    waiting: int  # fetches started and not yet taken by the caller
    #: The weight (e.g. records) of results fetched and not yet taken: memory, whatever
    #: the number of windows. None: no such bound.
    waiting_weight: int | None = None


class Scheduler(t.Generic[ItemT, ResultT]):
    """Fetch the items of several lanes at once; hand each lane's results out in order.

    The caller takes lane after lane (:meth:`results`); a lane it moves past is dropped.
    A fetch's failure is raised when its item's turn comes, after the earlier results.
    """

    def __init__(
        self,
        lanes: Sequence[Lane[ItemT]],
        fetch: Callable[[int, ItemT], ResultT],
        limits: Limits,
        stop: Stop | None = None,
        weigh: Callable[[ResultT], int] | None = None,
    ) -> None:
        """Start fetching the first items of every lane; ``weigh`` a result (by default 1)."""
        self.lanes, self._fetch, self._limits = lanes, fetch, limits
        self._weigh = weigh or (lambda _result: 1)
        self._stop = stop or Stop()
        self._lock = threading.Lock()
        self._futures: dict[tuple[int, int], Future[ResultT]] = {
            (lane, index): Future()
            for lane, each in enumerate(lanes)
            for index in range(len(each.items))
        }
        self._next = [0] * len(lanes)  # per lane: its first item not started
        self._taken = [0] * len(lanes)  # per lane: items handed to the caller
        self._busy: Counter[Hashable] = Counter()  # fetches in flight per key
        self._in_flight = 0
        self._waiting = 0  # started, not taken, in lanes not dropped
        self._weights: dict[tuple[int, int], int] = {}  # fetched, not taken, not dropped
        self._waiting_weight = 0
        self._cursor = 0  # the lane the caller takes; earlier ones are done or dropped
        self._entered: set[int] = set()
        self._head: tuple[int, int] | None = None  # the item the caller waits for
        self._failed: tuple[int, int] | None = None  # the earliest failed item
        self._closed = False
        self._pool = ThreadPoolExecutor(
            max_workers=max(limits.in_flight, 1), thread_name_prefix="fetch-ahead"
        )
        with self._lock:
            self._dispatch()

    def results(self, lane: int) -> Generator[tuple[ItemT, ResultT], None, None]:
        """The lane's ``(item, result)`` in order; the lanes before it are dropped."""
        self._enter(lane)
        for index, item in enumerate(self.lanes[lane].items):
            yield item, self._take(lane, index)

    def can_take(self, lane: int) -> bool:
        """Whether :meth:`results` can still hand out ``lane`` (once, and in order)."""
        with self._lock:
            return lane >= self._cursor and lane not in self._entered and not self._closed

    def close(self, *, failed: bool = False) -> None:
        """Start nothing more; wait for the fetches in flight, unless the run is ending.

        On a stop or a failure none is awaited: a stalled request or a retry's wait must
        not hold the exit. After a failure they end at their next try or wait.
        """
        with self._lock:
            self._closed = True
        if failed:
            self._stop.abandon_fetches()
        self._pool.shutdown(wait=not (failed or self._stop.requested), cancel_futures=True)

    # ----- the caller's side -----------------------------------------------------------------

    def _enter(self, lane: int) -> None:
        """Drop the lanes before ``lane``: what they started and nobody will take."""
        with self._lock:
            for dropped in range(self._cursor, lane):
                self._waiting -= self._next[dropped] - self._taken[dropped]
                for index in range(self._taken[dropped], len(self.lanes[dropped].items)):
                    del self._futures[dropped, index]  # results nobody takes: let them go
                    self._waiting_weight -= self._weights.pop((dropped, index), 0)
                self._taken[dropped] = self._next[dropped] = len(self.lanes[dropped].items)
            self._cursor = max(self._cursor, lane)
            self._entered.add(lane)
            self._dispatch()

    def _take(self, lane: int, index: int) -> ResultT:
        """Wait for one item's result (it may always start, whatever waits already)."""
        with self._lock:
            self._head = (lane, index)
            self._dispatch()
        future = self._futures[lane, index]
        result = self._stop.result(future)
        with self._lock:
            del self._futures[lane, index]  # its records are the caller's now
            self._waiting_weight -= self._weights.pop((lane, index), 0)
            self._taken[lane] += 1
            self._waiting -= 1
            self._head = None
            self._dispatch()
        return result

    # ----- starting fetches (under the lock) -------------------------------------------------

    def _dispatch(self) -> None:
        """Start what the limits allow, earliest first."""
        while not self._closed and self._in_flight < self._limits.in_flight:
            chosen = self._choose()
            if chosen is None:
                return
            self._start(*chosen)

    def _choose(self) -> tuple[int, int] | None:
        """The earliest unstarted item whose key has a free slot, within the waiting bound.

        The item the caller waits for may start beyond the bound, or it could wait for ever.
        """
        if self._waiting >= self._limits.waiting or self._too_heavy():
            head = self._head
            if head is not None and self._next[head[0]] == head[1] and self._free(head[0]):
                return head
            return None
        for lane in range(self._cursor, len(self.lanes)):
            item = (lane, self._next[lane])
            if self._failed is not None and item > self._failed:
                return None
            if item[1] < len(self.lanes[lane].items) and self._free(lane):
                return item
        return None

    def _too_heavy(self) -> bool:
        most = self._limits.waiting_weight
        return most is not None and self._waiting_weight >= most

    def _free(self, lane: int) -> bool:
        return self._busy[self.lanes[lane].key] < self._limits.per_key

    def _start(self, lane: int, index: int) -> None:
        self._next[lane] += 1
        self._busy[self.lanes[lane].key] += 1
        self._in_flight += 1
        self._waiting += 1
        self._pool.submit(self._run, lane, index, self._futures[lane, index])

    # ----- on a worker -----------------------------------------------------------------------

    def _run(self, lane: int, index: int, future: Future[ResultT]) -> None:
        """Fetch one item; free its slots before its result is seen (see ``_release``)."""
        try:
            result = self._fetch(lane, self.lanes[lane].items[index])
        except BaseException as exc:  # noqa: BLE001 - raised in the caller, at its turn
            self._release(lane, failed=(lane, index))
            future.set_exception(exc)
        else:
            self._release(lane, weight=((lane, index), self._weigh(result)))
            future.set_result(result)

    def _release(
        self,
        lane: int,
        failed: tuple[int, int] | None = None,
        weight: tuple[tuple[int, int], int] | None = None,
    ) -> None:
        """Free the fetch's slots and start the next ones; after a failure, nothing later.

        Before the result is set: the caller, once it has the result, must find the key's
        slot free, or it could give the waiting bound to a later item and wait for ever.
        """
        with self._lock:
            self._busy[self.lanes[lane].key] -= 1
            self._in_flight -= 1
            if weight is not None and weight[0] in self._futures:  # its lane is not dropped
                self._weights[weight[0]] = weight[1]
                self._waiting_weight += weight[1]
            if failed is not None and (self._failed is None or failed < self._failed):
                self._failed = failed
            self._dispatch()
