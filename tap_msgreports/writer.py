"""Singer messages written fast: msgspec encoding, flushed when a STATE is written.

The SDK's writers flush stdout after every message: a system call per record. Here records
are buffered (up to about a MiB) and written out with every other message (STATE, SCHEMA),
which flushes stdout, so a target never sees a STATE before the records it vouches for, and
a killed tap loses at most records whose STATE was never written either.

Records of a stream without stream maps skip the SDK's message objects too: the bytes
around a record (:class:`RecordEnvelope`) are made once per window, and only the record is
encoded per line, with the same encoder and the same fields the SDK's writer would use.

A stop (SIGTERM, SIGINT: :mod:`tap_msgreports.stopping`) never cuts a write: writes are
deferred zones, and the writer checks for a stop only between them. On a stop the records
still buffered are dropped (their window is incomplete) and, when records went out after
the last STATE, that STATE is written again: the output ends with a STATE that vouches
for nothing unwritten.
"""

from __future__ import annotations

import contextlib
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import RecordMessage, StateMessage

from tap_msgreports.stopping import Stop

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from singer_sdk.singerlib.encoding.simple import Message


class RecordEnvelope:
    """The bytes before and after a record in a RECORD line of one stream."""

    def __init__(self, stream: str, version: int | None) -> None:
        """The head is fixed per stream; the tail waits for :meth:`stamp`."""
        self.head = b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'
        self._version = b"" if version is None else b',"version":' + encoder.encode(version)
        self.tail = self._version + b"}\n"

    def stamp(self, time_extracted: dt.datetime) -> None:
        """Give the records written from now on this ``time_extracted`` (an aware time)."""
        self.tail = self._version + b',"time_extracted":' + encoder.encode(time_extracted) + b"}\n"


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding; records are buffered, and every other message flushes them."""

    #: Records are written out in pieces of about this size. Each write to a pipe lets go of
    #: the GIL, and taking it back from the threads fetching ahead can take a switch
    #: interval: a write every 8 KiB (the default buffer) cost a quarter of the run.
    FLUSH_BYTES = 1 << 20

    def __init__(self) -> None:
        """Nothing pending yet; the tap gives its own :class:`Stop`."""
        super().__init__()
        self._pending = bytearray()
        self.stop = Stop()
        #: The last STATE line written, and whether records were written after it.
        self._last_state = b""
        self._records_after_state = False

    def write_message(self, message: Message) -> None:
        """Write a message; any message but a record flushes stdout, then obeys a stop."""
        line = self.format_message(message)
        self._pending += line
        if not isinstance(message, RecordMessage):
            self.flush()
            if isinstance(message, StateMessage):
                self._last_state, self._records_after_state = bytes(line), False
            self.stop.check()  # after the write: its records, then it, went out whole
        elif len(self._pending) >= self.FLUSH_BYTES:
            self._write_records()

    def write_record(self, envelope: RecordEnvelope, record: dict[str, t.Any]) -> None:
        """Write one RECORD line: the envelope around the encoded record (not flushed)."""
        pending = self._pending
        pending += envelope.head
        encoder.encode_into(record, pending, -1)  # -1: append
        pending += envelope.tail
        if len(pending) >= self.FLUSH_BYTES:
            self._write_records()

    def write_records(self, envelope: RecordEnvelope, records: Iterable[dict[str, t.Any]]) -> int:
        """Write a window's RECORD lines (not flushed); how many."""
        head, tail, pending, most = envelope.head, envelope.tail, self._pending, self.FLUSH_BYTES
        count = 0
        for count, record in enumerate(records, start=1):  # noqa: B007 - the count is returned
            pending += head
            encoder.encode_into(record, pending, -1)  # -1: append
            pending += tail
            if len(pending) >= most:
                self._write_records()
        return count

    def flush(self) -> None:
        """Write out what is pending and flush stdout, whole even if a signal comes."""
        with self.stop.deferred():
            self._write_pending()
            sys.stdout.flush()

    def end_on_stop(self) -> None:
        """Drop the records of the incomplete window; end the output with the last STATE.

        Called once the stop is raised, so never in the middle of a write.
        """
        self._pending.clear()
        if self._records_after_state and self._last_state:
            self._pending += self._last_state
        with contextlib.suppress(BrokenPipeError):  # the target is gone: nothing to end
            self.flush()

    def _write_records(self) -> None:
        """Write out the pending records (a safe point: none if a stop was asked for)."""
        self.stop.check()
        with self.stop.deferred():
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            _write(self._pending)
            self._pending.clear()
            self._records_after_state = True  # until the STATE just written says otherwise


def _write(lines: bytes | bytearray) -> None:
    """Write ``lines`` whole, though a raw stdout may take only a part per call.

    With ``PYTHONUNBUFFERED`` stdout's binary layer is unbuffered: one write(2) each, which a
    signal can end after part of the bytes (the rest, unwritten, tore a line in two).
    """
    stdout = sys.stdout
    binary = getattr(stdout, "buffer", None)
    if binary is None:  # stdout replaced by a text stream (tests, embedding)
        stdout.write(lines.decode())
        return
    done = 0
    with memoryview(lines) as view:
        while done < len(view):
            done += binary.write(view[done:]) or 0  # None: a non-blocking pipe is full
