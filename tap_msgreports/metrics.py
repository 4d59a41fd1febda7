"""Singer metrics per partition: each partition's records and time under its own context.

The SDK counts a stream's records (and times its sync) with one meter whose context tag is
moved to each partition in turn: at the end, the whole stream's count is logged under the
last partition. These meters log what they measured for a partition when the next begins.
"""

from __future__ import annotations

import typing as t
from time import time

from singer_sdk import metrics

from tap_msgreports.sdk_compat import log_and_restart

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

CONTEXT = metrics.Tag.CONTEXT


class PartitionCounter(metrics.Counter):
    """A counter that logs (and restarts) its count when it moves to another partition."""

    def with_context(self, value: Context | None) -> None:
        """Log the previous partition's count under its context, then count for ``value``."""
        if CONTEXT in self.tags and self.tags[CONTEXT] != value:
            log_and_restart(self)
            # The point just logged holds these tags: a handler may format it later (a
            # queue, a capture), so the next partition's tags are a new dict.
            self.tags = dict(self.tags)
        super().with_context(value)


class PartitionTimer(metrics.Timer):
    """A timer that logs (and restarts) its time when it moves to another partition."""

    def with_context(self, value: Context | None) -> None:
        """Log the previous partition's time under its context, then time ``value``."""
        if CONTEXT in self.tags and self.tags[CONTEXT] != value:
            done = {**self.tags, metrics.Tag.STATUS: metrics.Status.SUCCEEDED}
            metrics.log(self.logger, metrics.Point("timer", self.metric, self.elapsed(), done))
            self.start_time = time()
        super().with_context(value)


def record_counter(stream: str) -> PartitionCounter:
    """The records of ``stream``, partition by partition (the SDK's tags)."""
    return PartitionCounter(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream})


def sync_timer(stream: str) -> PartitionTimer:
    """The sync time of ``stream``, partition by partition (the SDK's tags)."""
    return PartitionTimer(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: stream})
