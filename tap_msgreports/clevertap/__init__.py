"""CleverTap: Get Campaigns and Get Message Reports."""

from __future__ import annotations

from tap_msgreports.clevertap import settings
from tap_msgreports.clevertap.streams import CampaignsStream, MessageReportsStream
from tap_msgreports.sources import Source

SOURCE = Source(
    name="CleverTap",
    properties=settings.PROPERTIES,
    credentials="clevertap_account_id and clevertap_passcode (or clevertap_accounts)",
    is_configured=settings.is_configured,
    problems=settings.problems,
    stream_types=(CampaignsStream, MessageReportsStream),
)
