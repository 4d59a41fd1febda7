"""Bookmarks: one per partition, read back with care, moved only forward, per window.

A stored bookmark that cannot be trusted (another replication key, not a date, outside the
calendar, after today) is ignored with a warning: the partition is read from ``start_date``
again, which repeats rows but loses none.
"""

from __future__ import annotations

import abc
import datetime as dt
import typing as t

from tap_msgreports import sdk_compat
from tap_msgreports.sending import HttpStream
from tap_msgreports.windows import CALENDAR_TEXT, in_calendar

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_msgreports.run import RunContext
    from tap_msgreports.windows import Window


class BookmarkedStream(HttpStream, metaclass=abc.ABCMeta):
    """A stream bookmarked per partition by the windows it has written."""

    def __init__(
        self, tap: Tap, schema: dict[str, t.Any] | None = None, *, run: RunContext | None = None
    ) -> None:
        """Set up the stream; no stored bookmark ignored yet."""
        super().__init__(tap, schema=schema, run=run)
        self._ignored_bookmarks: set[tuple[str, str]] = set()

    @abc.abstractmethod
    def bookmark_value(self, window: Window, context: Context) -> str:
        """The bookmark to store once ``window`` has been written completely."""

    @abc.abstractmethod
    def newest_bookmark(self, context: Context) -> dt.datetime:
        """The latest bookmark a run can have stored by now, as :meth:`parse_bookmark` makes it.

        Today (a day bookmark, in the partition's time zone) or now (a time bookmark): a
        stored bookmark after it is ignored (see :meth:`stored_bookmark`).
        """

    def get_replication_key_signpost(self, context: Context | None = None) -> None:  # noqa: ARG002
        """No signpost: bookmarks are window ends, not record values."""
        return

    def parse_bookmark(self, value: str) -> dt.datetime:
        """A stored bookmark as a day (a naive midnight); vendors with times override it."""
        return dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())

    def stored_bookmark(self, context: Context) -> dt.datetime | None:
        """The bookmark a previous run stored for this partition, if it can be trusted.

        A bookmark after today is no point reached: a run with a future ``end_date`` (before
        windows stopped at today) or an edited state stored it, so ``start_date`` is the
        newest point known to be sound.
        """
        state = self.stored_context_state(context)
        value = state.get("replication_key_value")
        if not value:
            return None
        if state.get("replication_key") not in {None, self.replication_key}:
            self._ignore_bookmark(context, value, "it belongs to another replication key")
            return None
        try:
            bookmark = self.parse_bookmark(str(value))
        except (ValueError, TypeError):
            self._ignore_bookmark(context, value, "it is not a date")
            return None
        if bookmark > (newest := self.newest_bookmark(context)):
            self._ignore_bookmark(context, value, f"it is after today, {_moment_text(newest)}")
            return None
        if not in_calendar(bookmark):
            self._ignore_bookmark(context, value, f"it is outside {CALENDAR_TEXT}")
            return None
        return bookmark

    def stored_context_state(self, context: Context) -> t.Mapping[str, t.Any]:
        """The partition's state as stored: planning must not add empty partitions to a STATE."""
        return sdk_compat.stored_partition_state(self, context)

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
        """Warn once per partition and value: the bookmark is read again at each window."""
        key = (repr(sorted(context.items())), repr(value))
        if key in self._ignored_bookmarks:
            return
        self._ignored_bookmarks.add(key)
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
        sdk_compat.write_state(self)


def _moment_text(moment: dt.datetime) -> str:
    """A day as a date, any other time in ISO-8601."""
    return moment.date().isoformat() if moment.time() == dt.time() else moment.isoformat()
