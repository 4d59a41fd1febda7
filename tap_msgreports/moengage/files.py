"""MoEngage report files: their names, signatures, Basic auth, and their rows read as a stream.

A file is downloaded to an anonymous temporary file, then read without ever holding it
in memory: ZIP, gzip or plain CSV are told apart by their first bytes (the vendor serves
ZIPs as ``application/gzip``), every CSV member of a ZIP is read, and inflating stops
at a size limit, so that a ZIP bomb is refused rather than filling the disk or memory.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import gzip
import hashlib
import io
import re
import struct
import typing as t
import zipfile
import zlib

from tap_msgreports import redaction
from tap_msgreports.errors import SourceError

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
GZIP_MAGIC = b"\x1f\x8b"
#: Characters that cannot be part of a path segment that is also signed verbatim.
_UNSAFE_NAME = re.compile(r"[/\\?#%\x00-\x1f\x7f]")
CHUNK = 1 << 20
#: One field may be this large (the csv module's default is 128 KiB).
FIELD_SIZE_LIMIT = 64 << 20
#: One row (a record, line breaks in quoted fields included) may be this many bytes. Real
#: rows are a few KB, and a 10 MB message is still read whole; a longer row is refused while
#: it is read, so a bomb of one long line costs about this much memory, not its size (the
#: text layer and the csv module would hold the whole line before the field limit applies).
MAX_ROW_BYTES = 16 << 20
#: A header name may be this long on average: the header row is bounded by the columns
#: allowed, so a header of millions of tiny names is refused before the csv module splits it.
HEADER_BYTES_PER_COLUMN = 1 << 10
#: Columns a report file may have, all its CSV members together (moengage_max_columns):
#: real reports have tens; PostgreSQL holds at most 1,600 per table.
DEFAULT_MAX_COLUMNS = 1000


def file_name(report: str, day: dt.date) -> str:
    """The vendor's file name: spaces to ``_``, then ``_YYYYMMDD.zip``."""
    return f"{report.replace(' ', '_')}_{day:%Y%m%d}.zip"


def file_name_problem(report: str) -> str | None:
    """Why a report name cannot make a file name, or None."""
    if not report.strip():
        return "a report name is empty"
    if _UNSAFE_NAME.search(report):
        return f"report name {report!r} has a character that cannot be in a file name (/ \\ ? # %)"
    return None


def app_id_problem(app_id: str) -> str | None:
    """Why a workspace id cannot be a path segment as it is, or None.

    It is put in the URL unquoted and signed verbatim: a ``/``, ``?`` or ``#`` would send the
    signed request elsewhere, so it is refused, not quoted.
    """
    if _UNSAFE_NAME.search(app_id) or " " in app_id.strip():  # edges: credential_problem
        return "moengage_app_id has a character a workspace id cannot hold (/ \\ ? # % or a space)"
    return None


def signature(app_id: str, name: str, secret: str) -> str:
    """``sha256(APP_ID|FILENAME|SECRET)`` in hex, as documented; masked in logs from now on."""
    signed = hashlib.sha256(f"{app_id}|{name}|{secret}".encode()).hexdigest()
    redaction.register_signature(signed)
    return signed


def basic_authorization(app_id: str, secret: str) -> str:
    """Basic auth with the workspace id and the API key."""
    return "Basic " + base64.b64encode(f"{app_id}:{secret}".encode()).decode("ascii")


class ByteBudget:
    """The inflated bytes one file may still deliver: one budget for all its members.

    A limit per member would let a ZIP of many members inflate to members x limit.
    """

    def __init__(self, limit: int, what: str) -> None:
        """Allow ``limit`` bytes in all; ``what`` names the file in the error."""
        self.limit, self.left, self.what = limit, limit, what

    def spend(self, count: int) -> None:
        """Take ``count`` bytes; past the limit, refuse the file."""
        self.left -= count
        if self.left < 0:
            msg = f"{self.what} inflates beyond {self.limit >> 20} MB (moengage_max_file_mb)"
            raise SourceError(msg)


class SizeLimitedReader(io.RawIOBase):
    """A readable stream whose bytes are taken from a :class:`ByteBudget`."""

    def __init__(self, stream: t.IO[bytes], budget: ByteBudget) -> None:
        """Wrap ``stream``; every byte read is spent from ``budget``."""
        super().__init__()
        self.stream, self.budget = stream, budget

    def readable(self) -> bool:
        """It is."""
        return True

    def readinto(self, buffer: t.Any) -> int:  # noqa: ANN401 - a writable buffer
        """Read, spending from the budget."""
        data = self.stream.read(len(buffer))
        self.budget.spend(len(data))
        buffer[: len(data)] = data
        return len(data)


class RowGuard(io.RawIOBase):
    """A readable stream that bounds each CSV row's size and fields as its bytes are read.

    Bytes read since :meth:`row_done` belong to the row being read, plus at most one read
    ahead (``len(buffer)``), which the bounds allow for. The csv module builds a whole row
    before its fields can be counted, and a row of millions of tiny fields costs 20 times its
    size: commas outside quotes are counted here instead (``""`` toggling twice).
    """

    def __init__(self, stream: t.IO[bytes], what: str, max_bytes: int, max_fields: int) -> None:
        """Wrap ``stream``; ``what`` names the file in the errors."""
        super().__init__()
        self.stream, self.what = stream, what
        self.max_bytes, self.max_fields = max_bytes, max_fields
        self.row_bytes = self.row_separators = 0
        self.in_quotes = False

    def readable(self) -> bool:
        """It is."""
        return True

    def row_done(self, max_bytes: int = MAX_ROW_BYTES) -> None:
        """A row was read whole: count the next one from here, within ``max_bytes``."""
        self.row_bytes = self.row_separators = 0
        self.max_bytes = max_bytes

    def readinto(self, buffer: t.Any) -> int:  # noqa: ANN401 - a writable buffer
        """Read, refusing once the row being read is too long or has too many fields."""
        data = self.stream.read(len(buffer))
        self.row_bytes += len(data)
        self.row_separators += self._separators(data)
        if self.row_bytes > self.max_bytes:
            msg = f"{self.what} has a row longer than {self.max_bytes >> 10} KB (a runaway line?)"
            raise SourceError(msg)
        if self.row_separators > self.max_fields + len(buffer):
            msg = (
                f"{self.what} has a row of more than {self.max_fields} fields, over "
                "moengage_max_columns"
            )
            raise SourceError(msg)
        buffer[: len(data)] = data
        return len(data)

    def _separators(self, data: bytes) -> int:
        """Commas outside quoted fields in ``data``; the quote state carries on to the next."""
        if b'"' not in data:
            return 0 if self.in_quotes else data.count(b",")
        pieces = data.split(b'"')
        outside = pieces[1 if self.in_quotes else 0 :: 2]
        self.in_quotes ^= len(pieces) % 2 == 0  # an odd number of quotes
        return sum(piece.count(b",") for piece in outside)


def csv_streams(file: t.IO[bytes], limit: int, what: str) -> Iterator[t.IO[bytes]]:
    """The CSV byte streams inside a downloaded file: at most ``limit`` inflated bytes in all."""
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    budget = ByteBudget(limit, what)
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        yield from _zip_members(file, budget)
    elif head.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=file) as inflated:
            yield t.cast("t.IO[bytes]", SizeLimitedReader(t.cast("t.IO[bytes]", inflated), budget))
    else:
        yield file


def _zip_members(file: t.IO[bytes], budget: ByteBudget) -> Iterator[t.IO[bytes]]:
    """The CSV members (else every member), refused before any is opened if too large."""
    with zipfile.ZipFile(file) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        csvs = [m for m in members if m.filename.lower().endswith(".csv")] or members
        declared = sum(member.file_size for member in csvs)
        if declared > budget.limit:
            msg = (
                f"{budget.what}: its {len(csvs)} member(s) declare {declared >> 20} MB "
                "inflated, over moengage_max_file_mb"
            )
            raise SourceError(msg)
        for member in csvs:
            with _open_member(archive, member, budget.what) as inflated:
                yield t.cast("t.IO[bytes]", SizeLimitedReader(inflated, budget))


def _open_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, what: str) -> t.IO[bytes]:
    """Open one member; one no download could read is a clear error."""
    try:
        return archive.open(member)
    except NotImplementedError as exc:  # e.g. Deflate64, which zipfile cannot inflate
        msg = f"{what}: {member.filename} uses a compression the tap cannot read ({exc})"
        raise SourceError(msg) from None
    except RuntimeError as exc:  # an encrypted member, mostly
        why = "is encrypted" if member.flag_bits & _ENCRYPTED else f"cannot be read ({exc})"
        msg = f"{what}: {member.filename} {why}: export the report without a password"
        raise SourceError(msg) from None


def validate(file: t.IO[bytes], limit: int, what: str) -> None:
    """Inflate the whole file once (CRC, gzip trailer), so that a corrupt download is retried.

    Before the file's first record: a download found corrupt half-way through its rows could
    not be fetched again without writing its first rows twice. The price is inflating every
    file twice: double the decompression CPU, never more memory. Raises ValueError.
    """
    try:
        for stream in csv_streams(file, limit, what):
            if problem := _not_csv(stream.read(CHUNK)):
                msg = f"{what} {problem}"
                raise ValueError(msg)
            while stream.read(CHUNK):
                pass
    except (zipfile.BadZipFile, EOFError, OSError, gzip.BadGzipFile) as exc:
        msg = f"{what} is corrupt or truncated: {exc}"
        raise ValueError(msg) from None
    finally:
        file.seek(0)


def _not_csv(start: bytes) -> str | None:
    """Why a body that should be a report's CSV is something else, or None.

    No header starts like a markup page or a JSON document: such a 200 is an error page (a
    proxy's), worth another try, never a file of zero rows whose date is skipped for good.
    """
    text = start.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        return "is empty: a report file has at least its header"
    if text.startswith(b"<"):
        return "is an HTML or XML page, not a CSV file"
    if text.startswith((b"{", b"[")):
        return "is a JSON document, not a CSV file"
    return None


def read_csv(
    stream: t.IO[bytes], what: str, max_columns: int = DEFAULT_MAX_COLUMNS
) -> tuple[list[str], Iterator[list[str]]]:
    """The header of one CSV stream (UTF-8, BOM or not), and its data rows as they are read.

    A row whose field count differs from the header's is an error: values are never shifted
    into the wrong columns. Each row is bounded while it is read (:class:`RowGuard`).
    """
    guard = RowGuard(stream, what, max_columns * HEADER_BYTES_PER_COLUMN, max_columns)
    text = io.TextIOWrapper(t.cast("t.IO[bytes]", guard), encoding="utf-8-sig", newline="")
    # The csv module has one field size limit per process, not one per reader: it is raised
    # where the tap makes its readers rather than on import, and only raised (a larger field
    # is let through, nothing the default accepts is refused).
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    reader = csv.reader(text)
    with _csv_errors(what, reader):
        header = next(reader, [])
    if len(header) > max_columns:
        msg = f"{what} has {len(header)} columns, over moengage_max_columns ({max_columns})"
        raise SourceError(msg)
    guard.row_done()
    return header, _data_rows(reader, len(header), what, guard)


def _data_rows(reader: t.Any, width: int, what: str, guard: RowGuard) -> Iterator[list[str]]:  # noqa: ANN401
    with _csv_errors(what, reader):
        for fields in reader:
            guard.row_done()
            if not fields:
                continue  # a blank line
            if len(fields) != width:
                msg = (
                    f"{what}: line {reader.line_num} has {len(fields)} fields where the "
                    f"header has {width}"
                )
                raise SourceError(msg)
            yield fields


@contextlib.contextmanager
def _csv_errors(what: str, reader: t.Any) -> Iterator[None]:  # noqa: ANN401
    """Turn decoding and CSV errors into one line that names the file."""
    try:
        yield
    except UnicodeDecodeError as exc:
        msg = f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise SourceError(msg) from None
    except csv.Error as exc:
        msg = f"{what}: CSV error near line {reader.line_num}: {exc}"
        raise SourceError(msg) from None


#: How much of a file is read to learn its header, and how much of it is inflated.
HEADER_PREFIX_BYTES = 256 << 10
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # the fixed part of a ZIP local file header
_STORED, _DEFLATED = 0, 8
_ENCRYPTED = 0x1  # bit 0 of a ZIP entry's general purpose flags


def csv_headers(file: t.IO[bytes], limit: int, what: str, max_columns: int) -> list[list[str]]:
    """The header of each CSV stream of a file, reading no further than the headers."""
    return [read_csv(stream, what, max_columns)[0] for stream in csv_streams(file, limit, what)]


def header_from_prefix(prefix: bytes) -> list[str] | None:
    """The CSV header of a file from its first bytes only (discovery), or None if it cannot be told.

    A ZIP's first member is inflated from its local header on (its directory is at the end).
    """
    try:
        text = _inflate_start(prefix)
    except (zlib.error, struct.error):
        return None
    if text is None:
        return None
    first_lines = text.decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(first_lines, newline="")), None)


def _inflate_start(prefix: bytes) -> bytes | None:
    if prefix.startswith(ZIP_MAGIC):
        fields = _LOCAL_HEADER.unpack_from(prefix)
        method, name_length, extra_length = fields[3], fields[9], fields[10]
        data = prefix[_LOCAL_HEADER.size + name_length + extra_length :]
        if method == _STORED:
            return data
        if method == _DEFLATED:
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, HEADER_PREFIX_BYTES)
        return None
    if prefix.startswith(GZIP_MAGIC):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(prefix, HEADER_PREFIX_BYTES)
    return prefix
