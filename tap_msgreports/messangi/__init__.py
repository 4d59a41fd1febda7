"""Messangi: Reporting API v3 message logs."""

from __future__ import annotations

from tap_msgreports.messangi import settings
from tap_msgreports.messangi.streams import MlogItemsStream
from tap_msgreports.sources import Source

SOURCE = Source("Messangi", settings, (MlogItemsStream,))
