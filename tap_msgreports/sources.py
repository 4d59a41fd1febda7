"""What the tap needs to know of a vendor: its settings, when it is active, its streams."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_sdk import typing as th

    from tap_msgreports.client import WindowedReportStream


class VendorSettings(t.Protocol):
    """What a vendor's settings module declares: the module itself is one."""

    PROPERTIES: th.PropertiesList
    #: The settings that make the source active, for the "no source configured" message.
    CREDENTIALS: str

    def is_configured(self, config: Mapping[str, t.Any]) -> bool:
        """Whether the source is active in this run."""
        ...

    def problems(self, config: Mapping[str, t.Any]) -> list[str]:
        """One line per invalid setting of the source."""
        ...


@dataclass(frozen=True)
class Source:
    """One vendor: declared once in its package, joined by the tap."""

    name: str
    settings: VendorSettings
    stream_types: tuple[type[WindowedReportStream], ...]
