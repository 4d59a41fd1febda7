"""Messangi: Reporting API v3 message logs."""

from __future__ import annotations

from tap_msgreports.messangi import settings
from tap_msgreports.messangi.streams import MlogItemsStream
from tap_msgreports.sources import Source

SOURCE = Source(
    name="Messangi",
    properties=settings.PROPERTIES,
    credentials="messangi_api_url and messangi_api_key",
    is_configured=settings.is_configured,
    problems=settings.problems,
    stream_types=(MlogItemsStream,),
)
