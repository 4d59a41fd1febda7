"""The connection check (``tap-msgreports --check``): one small request per source partition.

Before a first sync a user wants to know, for every configured CleverTap account, Messangi
channel and MoEngage report, that the host answers, that the credentials are accepted and
that there is data. Each partition gets one line; the check passes only if all answered.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_msgreports.errors import SourceError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_msgreports.client import WindowedReportStream


@dataclass(frozen=True)
class CheckOutcome:
    """What the check of one partition found."""

    where: str
    answered: bool
    detail: str

    def line(self) -> str:
        """One line for the user: ``OK``/``FAILED``, who, what was seen."""
        return f"{'OK' if self.answered else 'FAILED'}: {self.where}: {self.detail}"


def check_connections(streams: Iterable[WindowedReportStream]) -> list[CheckOutcome]:
    """Check every partition of the streams that speak for their source."""
    return [
        check_partition(stream, context)
        for stream in streams
        if stream.checks_connection
        for context in stream.partitions or [{}]
    ]


def check_partition(stream: WindowedReportStream, context: dict[str, t.Any]) -> CheckOutcome:
    """One partition's outcome; a refusal or an unreachable source is a failed line."""
    where = stream.describe_partition(context)
    try:
        return CheckOutcome(where, answered=True, detail=stream.connection_check(context))
    except SourceError as exc:
        detail = str(exc).removeprefix(f"{where}: ").removeprefix(f"{where}, ")
        return CheckOutcome(where, answered=False, detail=detail)
