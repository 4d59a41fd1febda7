"""How records leave a stream: written directly when nothing maps them, counted per partition.

The SDK builds a message object per record, walks the selection and applies the stream
maps: when every property is selected and no map changes anything, a RECORD line is the
record between two fixed byte strings (:class:`~tap_msgreports.writer.RecordEnvelope`).
"""

from __future__ import annotations

import typing as t
from functools import cached_property

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_msgreports import metrics as partition_metrics
from tap_msgreports import sdk_compat
from tap_msgreports.writer import BufferedMsgSpecWriter, RecordEnvelope

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from singer_sdk import Tap, metrics
    from singer_sdk.helpers.types import Context


class RecordsOut(sdk_compat.SdkStream):
    """A stream whose records are complete as read, with no child streams."""

    #: Records are built field by field from the schema, so the SDK's per-record type
    #: conformance (most of its per-record cost) has nothing to do; the SDK standard tests
    #: check records against the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = False

    def __init__(self, tap: Tap, schema: dict[str, t.Any] | None = None) -> None:
        """Set up the stream; its record envelope is made again per sync."""
        super().__init__(tap, schema=schema)
        self._envelope = RecordEnvelope(self.name, version=None)
        self._record_counter: partition_metrics.PartitionCounter | None = None

    def new_envelope(self) -> None:
        """Start a sync's records: the stream version is known now."""
        self._envelope = RecordEnvelope(self.name, sdk_compat.stream_version(self))

    def stamp_records(self, extracted: dt.datetime) -> None:
        """The extraction time of the records written next (a window's)."""
        self._envelope.stamp(extracted)

    def get_record_counter(self, **kwargs: t.Any) -> metrics.Counter:  # noqa: ANN401
        """Records counted per partition (see :mod:`tap_msgreports.metrics`)."""
        del kwargs  # no endpoint tag: a stream has one
        self._record_counter = partition_metrics.record_counter(self.name)
        return self._record_counter

    def get_sync_timer(self) -> metrics.Timer:
        """Sync time per partition (see :mod:`tap_msgreports.metrics`)."""
        return partition_metrics.sync_timer(self.name)

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No child streams here: nothing to generate, and nothing to filter per record."""
        del record, context
        return ()

    @cached_property
    def _writes_records_itself(self) -> bool:
        """Whether records go out as read: every property selected, no stream map, our writer.

        Any deselected property, alias, filter or flattening takes the SDK's path.
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

    def write_window_directly(
        self, records: Iterable[dict[str, t.Any]], context: Context | None
    ) -> int | None:
        """Write a window's records at once when they go out as read; how many, else None.

        The SDK's loop per record (checks, hooks, counter, a generator step each) is most of a
        large window's cost once records are written directly: what it does (the partition's
        keys added, the count) is done here once per window.
        """
        counter = self._record_counter
        if not self._writes_records_itself or counter is None:
            return None
        if context:
            records = with_context_keys(records, context)
        writer = t.cast("BufferedMsgSpecWriter", sdk_compat.tap_of(self).message_writer)
        count = writer.write_records(self._envelope, records)
        counter.increment(count)
        self.state_manager.is_flushed = False
        return count

    def post_process(
        self,
        row: dict[str, t.Any],
        context: Context | None = None,  # noqa: ARG002
    ) -> dict[str, t.Any] | None:
        """Records are complete when :meth:`records_from` returns them."""
        return row


def with_context_keys(
    records: Iterable[dict[str, t.Any]], context: Context
) -> Iterable[dict[str, t.Any]]:
    """Each record with the partition's keys it lacks, as the SDK adds them per record."""
    for record in records:
        for key, value in context.items():
            if key not in record:
                record[key] = value
        yield record
