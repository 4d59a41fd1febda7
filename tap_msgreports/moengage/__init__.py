"""MoEngage: campaign report files."""

from __future__ import annotations

from tap_msgreports.moengage import settings
from tap_msgreports.moengage.streams import CampaignRowsStream
from tap_msgreports.sources import Source

SOURCE = Source("MoEngage", settings, (CampaignRowsStream,))
