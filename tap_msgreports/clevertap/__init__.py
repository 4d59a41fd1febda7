"""CleverTap: Get Campaigns and Get Message Reports."""

from __future__ import annotations

from tap_msgreports.clevertap import settings
from tap_msgreports.clevertap.streams import CampaignsStream, MessageReportsStream
from tap_msgreports.sources import Source

SOURCE = Source("CleverTap", settings, (CampaignsStream, MessageReportsStream))
