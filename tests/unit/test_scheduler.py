"""The scheduler of partitions: order, limits per key and in all, the waiting bound, failures."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from tap_msgreports.concurrency import Lane, Limits, Scheduler
from tap_msgreports.stopping import Stop, StopRequested


class Tracker:
    """Counts fetches in flight (per key and in all) and fetched items not yet taken."""

    def __init__(self, lanes: list[Lane[int]], *, seed: int = 1, fail: set[int] | None = None):
        self.lanes = lanes
        self.lock = threading.Lock()
        self.now: Counter[object] = Counter()
        self.most: Counter[object] = Counter()
        self.total = self.most_total = 0
        self.started = self.taken = self.most_waiting = 0
        self.rng = random.Random(seed)  # noqa: S311 - a test's dice
        self.fail = fail or set()

    def fetch(self, lane: int, item: int) -> int:
        key = self.lanes[lane].key
        with self.lock:
            self.now[key] += 1
            self.most[key] = max(self.most[key], self.now[key])
            self.total += 1
            self.most_total = max(self.most_total, self.total)
            self.started += 1
            self.most_waiting = max(self.most_waiting, self.started - self.taken)
            delay = self.rng.uniform(0, 0.01)
        time.sleep(delay)  # finish out of order
        with self.lock:
            self.now[key] -= 1
            self.total -= 1
        if item in self.fail:
            raise RuntimeError(f"item {item} failed")
        return item * 10

    def took(self) -> None:
        with self.lock:
            self.taken += 1


def lanes_of(keys: list[str], per_lane: int) -> list[Lane[int]]:
    """Lanes whose items are numbered across lanes, in write order."""
    return [Lane(key, list(range(n * per_lane, (n + 1) * per_lane))) for n, key in enumerate(keys)]


def take_all(scheduler: Scheduler[int, int], tracker: Tracker | None = None) -> list[int]:
    seen = []
    for lane in range(len(scheduler.lanes)):
        for item, result in scheduler.results(lane):
            assert result == item * 10
            seen.append(item)
            if tracker:
                tracker.took()
    return seen


@pytest.mark.parametrize("seed", range(5))
def test_results_come_lane_after_lane_each_in_order(seed: int) -> None:
    lanes = lanes_of(["a", "b", "a", "c", "d"], 6)
    tracker = Tracker(lanes, seed=seed)
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key=3, in_flight=8, waiting=8))
    try:
        assert take_all(scheduler) == list(range(30))
    finally:
        scheduler.close()


@pytest.mark.parametrize(("per_key", "cap"), [(1, 1), (3, 4), (3, 16), (2, 5)])
def test_limits_per_key_and_in_all_are_never_exceeded(per_key: int, cap: int) -> None:
    lanes = lanes_of([f"account-{n % 6}" for n in range(12)], 5)
    tracker = Tracker(lanes)
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key, cap, cap))
    try:
        take_all(scheduler)
    finally:
        scheduler.close()
    assert max(tracker.most.values()) <= per_key
    assert tracker.most_total <= cap
    if cap > per_key:  # several partitions were fetched at once
        assert tracker.most_total > per_key


def test_windows_fetched_and_not_taken_stay_within_the_bound() -> None:
    lanes = lanes_of([f"account-{n}" for n in range(20)], 4)
    tracker = Tracker(lanes)
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key=3, in_flight=16, waiting=6))
    try:
        for lane in range(len(lanes)):
            for _ in scheduler.results(lane):
                time.sleep(0.002)  # a slow writer: fetches would run far ahead
                tracker.took()
    finally:
        scheduler.close()
    assert tracker.most_waiting <= 6 + 1  # the awaited item may start beyond the bound


def test_a_failure_is_raised_in_its_turn_after_the_earlier_results() -> None:
    lanes = lanes_of(["a", "b", "c"], 4)
    tracker = Tracker(lanes, fail={6})  # lane 1's third item
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key=3, in_flight=9, waiting=9))
    seen = []
    with pytest.raises(RuntimeError, match="item 6 failed"):
        for lane in range(3):
            for item, _ in scheduler.results(lane):
                seen.append(item)
    scheduler.close()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_closing_early_leaves_no_thread_behind() -> None:
    lanes = lanes_of([f"account-{n}" for n in range(10)], 20)
    tracker = Tracker(lanes)
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key=3, in_flight=16, waiting=16))
    results = scheduler.results(0)
    assert next(results) == (0, 0)
    results.close()
    scheduler.close()
    assert tracker.started <= 16 + 1
    assert not [t for t in threading.enumerate() if t.name.startswith("fetch-ahead")]


def test_a_lane_left_early_is_dropped_and_the_next_one_still_comes() -> None:
    lanes = lanes_of(["a", "a", "a"], 10)
    tracker = Tracker(lanes)
    scheduler = Scheduler(lanes, tracker.fetch, Limits(per_key=3, in_flight=4, waiting=4))
    try:
        first = scheduler.results(0)
        assert next(first) == (0, 0)
        first.close()  # e.g. a MoEngage file not generated yet: later ones cannot be there
        assert [item for item, _ in scheduler.results(1)] == list(range(10, 20))
        assert not scheduler.can_take(0)
    finally:
        scheduler.close()


def test_a_stop_abandons_the_fetches_in_flight_at_once() -> None:
    stop = Stop()
    release = threading.Event()

    def hang(lane: int, item: int) -> int:
        release.wait(5)
        return item

    scheduler = Scheduler(lanes_of(["a", "b"], 3), hang, Limits(3, 6, 6), stop)
    threading.Timer(0.1, stop.request, args=(15,)).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        list(scheduler.results(0))
    scheduler.close()
    assert time.monotonic() - started < 1
    release.set()


@pytest.mark.parametrize("weight", [None, 30])
def test_the_weight_of_results_not_taken_bounds_fetching_ahead(weight: int | None) -> None:
    """Results holding many records stop fetching ahead long before the window count does."""
    lanes = lanes_of([f"account-{n}" for n in range(20)], 4)
    tracker = Tracker(lanes)
    limits = Limits(per_key=3, in_flight=8, waiting=64, waiting_weight=weight)
    scheduler = Scheduler(lanes, tracker.fetch, limits, weigh=lambda _result: 10)
    try:
        for lane in range(len(lanes)):
            for _ in scheduler.results(lane):
                time.sleep(0.002)  # a slow writer: fetches would run far ahead
                tracker.took()
    finally:
        scheduler.close()
    if weight is None:
        assert tracker.most_waiting > 3 + 8 + 1  # the window count alone lets it run ahead
    else:
        # Starts stop once 3 results (30) wait; those in flight then may still land.
        assert tracker.most_waiting <= 3 + 8 + 1
