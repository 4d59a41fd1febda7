"""One partition's windows fetched ahead: order, what is in flight, the failing item."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable

import pytest

from tap_msgreports.concurrency import Lane, Limits, Scheduler, ThrottleRegistry


def fetch_ahead(
    items: Iterable[int], fetch: Callable[[int], int], *, depth: int
) -> Generator[tuple[int, int], None, None]:
    """One partition alone in a scheduler: ``depth`` fetched ahead, as before partitions ran
    in parallel."""
    scheduler = Scheduler(
        [Lane("account", list(items))], lambda _, item: fetch(item), Limits(depth, depth, depth)
    )
    try:
        yield from scheduler.results(0)
    finally:
        scheduler.close()


class InFlight:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def fetch(self, item: int) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01 * (item % 3))  # finish out of order
        with self.lock:
            self.now -= 1
        return item * 10


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_results_come_in_order_within_depth(depth: int) -> None:
    tracker = InFlight()
    results = list(fetch_ahead(range(12), tracker.fetch, depth=depth))
    assert results == [(i, i * 10) for i in range(12)]
    assert tracker.most <= depth


def test_failure_is_raised_at_its_turn_after_earlier_results() -> None:
    def fetch(item: int) -> int:
        if item == 3:
            raise RuntimeError("boom")
        return item

    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        for item, _ in fetch_ahead(range(10), fetch, depth=3):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_stopping_early_leaves_no_thread_behind() -> None:
    started = []

    def fetch(item: int) -> int:
        started.append(item)
        time.sleep(0.01)
        return item

    results = fetch_ahead(range(100), fetch, depth=3)
    assert isinstance(results, Generator)  # closed early, as a stopped stream closes it
    assert next(results) == (0, 0)
    results.close()
    assert len(started) <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("fetch-ahead")]


def test_throttles_are_shared_per_source_and_account() -> None:
    registry = ThrottleRegistry()
    first = registry.get("CleverTap", "A", 3)
    assert registry.get("CleverTap", "A", 3) is first
    assert registry.get("CleverTap", "B", 3) is not first
