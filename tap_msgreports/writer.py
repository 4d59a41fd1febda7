"""Singer messages written fast: msgspec encoding, flushed when a STATE is written.

The SDK's writers flush stdout after every message: a system call per record. Here records
are buffered and stdout is flushed with every other message (STATE, SCHEMA), so a target
never sees a STATE before the records it vouches for, and a killed tap loses at most records
whose STATE was never written either.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.encoding.simple import RecordMessage

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding; stdout is flushed on every message except records."""

    def write_message(self, message: Message) -> None:
        """Write a message, flushing unless it is a record."""
        line = self.format_message(message)
        stdout = sys.stdout
        binary = getattr(stdout, "buffer", None)
        if binary is not None:
            binary.write(line)
        else:  # stdout replaced by a text stream (tests, embedding)
            stdout.write(line.decode())
        if not isinstance(message, RecordMessage):
            stdout.flush()
