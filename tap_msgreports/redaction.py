"""A last line of defence: secrets are masked in every log line, traceback included.

The tap never puts a secret into a message on purpose; this masking makes sure a mistake
(or a library's message, or a vendor's error body) does not ship one to a log service
either, whatever handlers a logging config (``SINGER_SDK_LOG_CONFIG``) sets up: records are
masked as they are made, and every handler's text is masked again as it is formatted.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

MASK = "********"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
#: Secrets made per request rather than configured: a MoEngage signature in a query string
#: (which urllib3 logs at DEBUG with the URL). Each pattern is tried only on text that holds
#: its lower-case marker: a regex costs more than all the rest of the masking.
SECRET_PATTERNS = (("signature=", re.compile(r"(?i)(signature=)[^&\s\"']+")),)
#: Runs of hex digits long enough to hold a registered signature (SHA-256: 64 digits).
HEX_RUN = re.compile(r"[0-9a-fA-F]{32,}")


def secret_values(config: Mapping[str, t.Any], schema: Mapping[str, t.Any]) -> set[str]:
    """Every configured value whose setting the config schema marks ``secret``.

    Whatever its type: a secret given as a number, a list or an object, and the secrets in
    an array of accounts given as JSON text, are secrets all the same.
    """
    found: set[str] = set()
    properties = schema.get("properties", {})
    for key, given in config.items():
        spec = properties.get(key, {})
        secret = bool(spec.get("secret"))
        # Not a secret itself, but maybe accounts passed as JSON text.
        value = _parsed_json(given) if isinstance(given, str) and not secret else given
        if secret:
            found |= _scalars(value)
        elif isinstance(value, dict):
            found |= secret_values(value, spec)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    found |= secret_values(item, spec.get("items", {}))
    return {
        form for value in found for form in _written_forms(value) if len(form) >= MIN_SECRET_LENGTH
    }


def _scalars(value: object) -> set[str]:
    """Every string or number in a value, however nested."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return {text for item in value for text in _scalars(item)}
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {str(value)}
    return set()


def _parsed_json(text: str) -> object:
    """``text`` parsed when it is a JSON array or object, else ``text`` itself."""
    if not text.lstrip().startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _written_forms(secret: str) -> set[str]:
    """A secret as a message may show it: as is, trimmed, escaped as repr and JSON write it.

    A library that refuses a value (a header with a pasted newline, say) quotes its repr; a
    structured (JSON) log line escapes quotes and backslashes.
    """
    return {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1]}


class SecretFilter(logging.Filter):
    """Replace known secret values, and registered signatures, with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        """Mask these values, longest first so that overlaps are fully covered."""
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        #: Signatures by length, lower-case: looked up per hex run, whatever their number.
        self.signatures: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def add_signature(self, signature: str) -> None:
        """Mask ``signature`` (hex, in either case) from now on, wherever it appears."""
        with self._lock:  # signatures are computed in worker threads
            self.signatures.setdefault(len(signature), set()).add(signature.lower())

    def redact(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        lowered = text.lower()
        for marker, pattern in SECRET_PATTERNS:
            if marker in lowered:
                text = pattern.sub(rf"\g<1>{MASK}", text)
        if self.signatures:
            text = HEX_RUN.sub(self._mask_signatures, text)
        return text

    def _mask_signatures(self, run: re.Match[str]) -> str:
        """A run of hex digits with every registered signature inside it masked."""
        text, lower = run[0], run[0].lower()
        for length, group in list(self.signatures.items()):
            start = len(lower) - length
            while start >= 0:  # from the end, so that earlier offsets stay valid
                if lower[start : start + length] in group:
                    text = text[:start] + MASK + text[start + length :]
                    start -= length
                else:
                    start -= 1
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message, arguments and traceback; always keep the record.

        A record with nothing to mask keeps its arguments, so that filters and formatters
        that read them (the SDK's metric points) still can.
        """
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call: show what it was given, masked
            message = f"{record.msg} {record.args}"
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


#: The process's secrets: the configured ones (set by :func:`install`) and the signatures.
ACTIVE = SecretFilter(())


def install(secrets: Iterable[str]) -> SecretFilter:
    """Mask ``secrets`` (replacing those installed before; signatures stay) in every log line."""
    ACTIVE.secrets = SecretFilter(secrets).secrets
    _hook_logging()
    return ACTIVE


def register_signature(signature: str) -> None:
    """Mask a per-request secret from now on, in whatever text quotes it."""
    ACTIVE.add_signature(signature)


@functools.cache
def _hook_logging() -> None:
    """Once per process: mask records as they are made, and lines as they are formatted."""
    _mask_new_records()
    _mask_formatted_lines()


def _mask_new_records() -> None:
    """Every record is masked as it is made: handlers that ship records (not text) too."""
    make_record = logging.getLogRecordFactory()

    def make_masked_record(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:  # noqa: ANN401
        record = make_record(*args, **kwargs)
        ACTIVE.filter(record)
        return record

    logging.setLogRecordFactory(make_masked_record)


def _mask_formatted_lines() -> None:
    """Every handler's text is masked as it is formatted, whatever the formatter reads.

    A structured formatter writes ``exc_info`` and ``extra`` fields: the record masking
    cannot reach them.
    """
    format_line: Callable[[logging.Handler, logging.LogRecord], str] = logging.Handler.format

    def format_masked(self: logging.Handler, record: logging.LogRecord) -> str:
        return ACTIVE.redact(format_line(self, record))

    # Assigned by name: mypy forbids assigning to a method, which is the point here.
    setattr(logging.Handler, "format", format_masked)  # noqa: B010
