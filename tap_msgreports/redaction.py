"""A last line of defence: secrets are masked in every log line, traceback included.

The tap never puts a secret into a message on purpose; this filter makes sure a
mistake (or a library's message) does not ship one to a log service either.
"""

from __future__ import annotations

import logging
import re
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MASK = "********"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
#: Secrets made per request rather than configured: a MoEngage signature in a query string
#: (which urllib3 logs at DEBUG with the URL).
SECRET_PATTERNS = (re.compile(r"(?i)(signature=)[^&\s\"']+"),)


def secret_values(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> set[str]:
    """Every configured value whose setting the config schema marks ``secret``."""
    found: set[str] = set()
    properties = schema.get("properties", {})
    for key, value in config.items():
        spec = properties.get(key, {})
        if spec.get("secret") and isinstance(value, str | int | float) and value is not True:
            found.add(str(value))  # a number where text belongs is still the secret
        elif isinstance(value, dict):
            found |= secret_values(value, spec)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    found |= secret_values(item, spec.get("items", {}))
    return {
        form for value in found for form in _written_forms(value) if len(form) >= MIN_SECRET_LENGTH
    }


def _written_forms(secret: str) -> set[str]:
    """A secret as a message may show it: as is, trimmed, and escaped the way repr writes it.

    A library that refuses a value (a header with a pasted newline, say) quotes its repr.
    """
    return {secret, secret.strip(), repr(secret)[1:-1]}


class SecretFilter(logging.Filter):
    """Replace known secret values with a mask in a log record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        """Mask these values, longest first so that overlaps are fully covered."""
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in SECRET_PATTERNS:
            text = pattern.sub(rf"\g<1>{MASK}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message (and traceback) now, masked; always keep the record."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install(secrets: Iterable[str]) -> SecretFilter:
    """Put a :class:`SecretFilter` on every handler of the root logger (replacing ours)."""
    secret_filter = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, SecretFilter)]:
            handler.removeFilter(old)
        handler.addFilter(secret_filter)
    return secret_filter
