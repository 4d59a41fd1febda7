"""What the tap needs to know of a vendor: its settings, when it is active, its streams."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from singer_sdk import typing as th

    from tap_msgreports.client import WindowedReportStream


@dataclass(frozen=True)
class Source:
    """One vendor: declared once in its package, joined by the tap."""

    name: str
    properties: th.PropertiesList
    #: The settings that make the source active, for the "no source configured" message.
    credentials: str
    is_configured: Callable[[Mapping[str, t.Any]], bool]
    problems: Callable[[Mapping[str, t.Any]], list[str]]
    stream_types: tuple[type[WindowedReportStream], ...]
