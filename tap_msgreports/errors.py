"""Errors a user sees. Each message is one line that names the source and what to check.

No message may contain a secret: they carry account ids, setting names, date ranges and
the vendor's own error text, never passcodes, keys or signatures.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class SourceError(FatalAPIError):
    """A source answered in a way that retrying cannot fix; the run stops."""


class SourceAuthError(SourceError):
    """The source refused the credentials (401/403)."""


class WindowTooLargeError(Exception):
    """The source refused a window as too large; the window is split and read again."""

    def __init__(self, reason: str, parts: int = 2) -> None:
        """Keep the vendor's reason, and how many pieces would probably fit.

        ``parts`` is a hint (e.g. total lines over lines per response); pieces that are
        still too large are split again.
        """
        super().__init__(reason)
        self.reason = reason
        self.parts = parts


class WindowUnavailableError(Exception):
    """A window's data is not there: gone for good (skipped), or not yet (tried next run)."""

    def __init__(self, reason: str, *, retry_later: bool) -> None:
        """Say why, and whether a later run may find it."""
        super().__init__(reason)
        self.retry_later = retry_later
