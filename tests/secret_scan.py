"""Everything the suite printed and logged, scanned once at the end for every issued secret.

Tests add what their processes printed (:func:`record_output`); a handler on the root logger
keeps every log line of the in-process runs; every emulator started in the session is
remembered, and at the end its secrets (passcodes, keys and every signature it computed) are
looked for in all of it. ``tests/conftest.py`` wires this in and reports the result.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import string
import threading
import time
import typing as t
import zlib
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Shorter secrets (a test's fixed "secret") would be found in ordinary words; they are
#: counted as not scanned instead.
MIN_SECRET_LENGTH = 12
#: Secrets of hex digits this long (signatures) are found in either case.
HEX_SECRET_LENGTH = 32
HEX_DIGITS = frozenset(string.hexdigits.encode())
#: Hex digits become "x", anything else " ": runs of hex digits are found by bytes.find.
HEX_MASK = bytes(ord("x") if i in HEX_DIGITS else ord(" ") for i in range(256))
#: Log lines are kept in memory up to this many characters, then compressed.
LOG_CHUNK_CHARS = 1 << 20


def current_test() -> str:
    """The test running now, as pytest names it, or ``session`` outside a test."""
    return os.environ.get("PYTEST_CURRENT_TEST", "session").rsplit(" ", 1)[0]


@dataclass
class Transcript:
    """What the suite printed and logged, compressed until the scan."""

    _outputs: list[tuple[str, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, text: str | bytes) -> None:
        """Keep one output; ``label`` says where it came from (never what it holds)."""
        data = text.encode() if isinstance(text, str) else text
        if data:
            with self._lock:
                self._outputs.append((label, zlib.compress(data, 1)))

    def outputs(self) -> Iterator[tuple[str, bytes]]:
        """Every output kept, as bytes."""
        with self._lock:
            kept = list(self._outputs)
        for label, compressed in kept:
            yield label, zlib.decompress(compressed)


class TranscriptHandler(logging.Handler):
    """Keeps every log line (tracebacks included) that reaches the root logger, per test.

    It sits on the root logger like any handler of a deployment, so the tap's own
    ``SecretFilter`` is put on it too: it sees what a log service would receive.
    """

    def __init__(self, transcript: Transcript) -> None:
        super().__init__(logging.NOTSET)
        self.transcript = transcript
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self._test = ""
        self._lines: list[str] = []
        self._chars = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the line (``handle`` holds the handler's lock)."""
        test = current_test()
        if test != self._test or self._chars >= LOG_CHUNK_CHARS:
            self._keep_lines()
            self._test = test
        line = self.format(record)
        self._lines.append(line)
        self._chars += len(line)

    def flush(self) -> None:
        """Hand the lines kept so far to the transcript."""
        self.acquire()
        try:
            self._keep_lines()
        finally:
            self.release()

    def _keep_lines(self) -> None:
        if self._lines:
            self.transcript.add(f"{self._test}: log lines", "\n".join(self._lines))
        self._lines, self._chars = [], 0


class Issuer(t.Protocol):
    """Who hands out secrets: an emulator, or a test's own loopback server."""

    def issued_secrets(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class MadeUpSecrets:
    """Secrets a test made up for a loopback server of its own (secret -> what it is)."""

    secrets: dict[str, str]

    def issued_secrets(self) -> dict[str, str]:
        return dict(self.secrets)


@dataclass
class Issuers:
    """The emulators started in the session, and the secrets tests made up: all looked for."""

    servers: list[Issuer] = field(default_factory=list)

    def add(self, server: Issuer) -> None:
        self.servers.append(server)

    def secrets(self) -> dict[str, str]:
        """Secret -> what it is, over every emulator."""
        found: dict[str, str] = {}
        for server in self.servers:
            found.update(server.issued_secrets())
        return found


@dataclass(frozen=True)
class Leak:
    """A secret found in an output: where, and what kind of secret (never the secret)."""

    output: str
    secret: str


@dataclass(frozen=True)
class ScanResult:
    """What the scan looked at and what it found."""

    outputs: int
    scanned_bytes: int
    secrets: int
    too_short: int
    leaks: tuple[Leak, ...]
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"secret scan: {self.outputs} outputs ({self.scanned_bytes / 1e6:.1f} MB) "
            f"against {self.secrets} issued secrets ({self.too_short} shorter than "
            f"{MIN_SECRET_LENGTH} characters not scanned): {len(self.leaks)} leaked "
            f"({self.seconds:.1f} s)"
        )


def scan(outputs: Iterable[tuple[str, bytes]], secrets: dict[str, str]) -> ScanResult:
    """Look for every secret in every output (hex secrets in either case)."""
    wanted = {s.encode(): what for s, what in secrets.items() if len(s) >= MIN_SECRET_LENGTH}
    finder = _Finder(set(wanted))
    leaks, count, size = [], 0, 0
    for label, data in outputs:
        count, size = count + 1, size + len(data)
        leaks += [Leak(label, wanted[secret]) for secret in sorted(finder.found_in(data))]
    return ScanResult(
        outputs=count,
        scanned_bytes=size,
        secrets=len(wanted),
        too_short=len(secrets) - len(wanted),
        leaks=tuple(leaks),
    )


class _Finder:
    """Finds many secrets in one pass or so, not one pass per secret.

    Long hex secrets (signatures) are looked for only inside runs of hex digits that long;
    the others are looked for where their first bytes occur.
    """

    PREFIX = 4

    def __init__(self, secrets: set[bytes]) -> None:
        hex_secrets = {s.lower() for s in secrets if len(s) >= HEX_SECRET_LENGTH and _is_hex(s)}
        self.hex_by_length: dict[int, set[bytes]] = {}
        for secret in hex_secrets:
            self.hex_by_length.setdefault(len(secret), set()).add(secret)
        self.hex_originals = {s.lower(): s for s in secrets if s.lower() in hex_secrets}
        self.by_prefix: dict[bytes, set[bytes]] = {}
        for secret in secrets - set(self.hex_originals.values()):
            self.by_prefix.setdefault(secret[: self.PREFIX], set()).add(secret)

    def found_in(self, data: bytes) -> set[bytes]:
        return self._hex_found_in(data) | self._others_found_in(data)

    def _hex_found_in(self, data: bytes) -> set[bytes]:
        if not self.hex_by_length:
            return set()
        found: set[bytes] = set()
        mask, shortest = data.translate(HEX_MASK), min(self.hex_by_length)
        start = mask.find(b"x" * shortest)
        while start >= 0:
            end = mask.find(b" ", start)
            end = len(mask) if end < 0 else end
            run = data[start:end].lower()
            for length, group in self.hex_by_length.items():
                found |= {run[i : i + length] for i in range(len(run) - length + 1)} & group
            start = mask.find(b"x" * shortest, end)
        return {self.hex_originals[secret] for secret in found}

    def _others_found_in(self, data: bytes) -> set[bytes]:
        found: set[bytes] = set()
        for prefix, group in self.by_prefix.items():
            at = data.find(prefix)
            while at >= 0:
                found |= {secret for secret in group if data.startswith(secret, at)}
                at = data.find(prefix, at + 1)
        return found


def _is_hex(value: bytes) -> bool:
    return all(byte in HEX_DIGITS for byte in value)


TRANSCRIPT = Transcript()
ISSUERS = Issuers()
LOG_HANDLER = TranscriptHandler(TRANSCRIPT)


def scan_for(secrets: dict[str, str]) -> None:
    """Look for these made-up secrets (secret -> what it is) too, at the end of the session."""
    ISSUERS.add(MadeUpSecrets(secrets))


def record_output(what: str, text: str | bytes) -> None:
    """Keep an output of the running test for the scan, e.g. a process's stderr."""
    TRANSCRIPT.add(f"{current_test()}: {what}", text)


def scan_session() -> ScanResult:
    """Scan everything kept so far for every secret the session's emulators issued."""
    started = time.monotonic()
    LOG_HANDLER.flush()
    result = scan(TRANSCRIPT.outputs(), ISSUERS.secrets())
    return dataclasses.replace(result, seconds=time.monotonic() - started)
