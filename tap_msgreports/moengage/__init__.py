"""MoEngage: campaign report files."""

from __future__ import annotations

from tap_msgreports.moengage import settings
from tap_msgreports.moengage.streams import CampaignRowsStream
from tap_msgreports.sources import Source

SOURCE = Source(
    name="MoEngage",
    properties=settings.PROPERTIES,
    credentials="moengage_app_id, moengage_secret_key and moengage_reports",
    is_configured=settings.is_configured,
    problems=settings.problems,
    stream_types=(CampaignRowsStream,),
)
