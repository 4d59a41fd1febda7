"""Generated MoEngage data: the reports, the rows of one report file, and how a file is packed.

A report file is a pure function of the seed, the report, its generation date and the file
options (rows, hostile extras). Rows come from a generator and are encoded in chunks, so a file
of a million rows is written to disk with bounded memory, and the truth is the same generator.

Every choice about what a file holds that the vendor does not document (columns, formats, the
awkward content a tap must survive, the hostile extras) is a constant at the top of this module.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, BinaryIO

from tap_msgreports_emulator.world import seeded_rng

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

# File name (api-notes 5.2): the report name with spaces as "_", then "_YYYYMMDD", then ".zip".
FILE_NAME_SPACE = "_"
FILE_NAME_DATE_FORMAT = "%Y%m%d"
FILE_NAME_SUFFIX = ".zip"
# Assumed: the ZIP holds one member, the file name with ".csv" instead of ".zip".
MEMBER_SUFFIX = ".csv"
# Assumed (api-notes 5.6): UTF-8 with a BOM, commas, a header row, CRLF, minimal quoting.
CSV_BOM = "\ufeff"
CSV_LINE_END = "\r\n"
CSV_ENCODING = "utf-8"
# Assumed: a file generated on D holds the data of D - 1.
DATA_DAY_OFFSET = timedelta(days=1)
CSV_DATE_FORMAT = "%Y-%m-%d"
# Not calendar.month_name: that one follows the process locale.
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# When the files are stamped as generated (ZIP member time, gzip mtime): fixed, so that a seed
# always gives the same bytes.
GENERATED_AT_HOUR = 6
BODY_FORMATS = ("zip", "gzip", "csv")
DEFAULT_BODY_FORMAT = "zip"
DEFAULT_ROWS_PER_FILE = 50
# Rows come in runs of one campaign (split by time), so a `Campaign ID` is on several rows.
CAMPAIGNS_PER_REPORT = 12
ROWS_PER_CAMPAIGN = (2, 4)
# Every AWKWARD_EVERY-th row has one numeric column holding one of these, in turn.
AWKWARD_EVERY = 3
AWKWARD_NUMBERS = ("N/A", "", "12.5%", "123456789012345678901234567890", "0012")
CAMPAIGN_NAMES = (
    "Winter Sale ❄️",
    "Réveil du panier",
    "Cart reminder, day 2",
    "Año Nuevo 🎉",
    '"VIP" early access',
    "Back in stock",
    "Weekly digest",
    "Price drop: ½ off",
)
# Commas, double quotes, LF and CRLF inside fields, accents, emoji, CJK: all must round-trip.
TEXTS = (
    "Flash sale: 20% off, today only!",
    'Our "VIP" list is open, join now',
    "Line one\nline two",
    "Windows line\r\nbreak, with a comma",
    "Café, crème brûlée & piñata 🎉",
    "Nuevo año, nuevas ofertas 🚀🔥",
    "你的报告已准备好",
    'He said "hi", then left',
    "Plain message",
)
TITLES = ("Hello 👋", 'Don\'t miss "this"', "Última oportunidad", "Deals, deals, deals", "Hi")
GOAL_EVENTS = ("Purchase", "Add to Cart", "App Opened", "Signed Up")
TAGS = ("promo", "winter", "retention", "onboarding")
PUSH_PLATFORMS = ("Android", "Ios", "Web", "All Platform")
PUSH_METRICS = ("Sent", "Sent Rate", "Impressions", "Impression Rate", "Clicks", "CTR")
PUSH_GOAL_METRICS = (
    "Goal 1 Click Through Conversion Events",
    "Goal 1 Click Through Total Revenue",
    "Goal 1 View Through Conversion Events",
    "Goal 1 View Through Total Revenue",
)
PUSH_FIGURES = tuple(
    f"{platform} {metric}" for metric in PUSH_METRICS for platform in PUSH_PLATFORMS
)
PUSH_GOALS = tuple(
    f"{goal} {platform}" for goal in PUSH_GOAL_METRICS for platform in PUSH_PLATFORMS
)
# Each platform's ten columns, in the order `_push_platform_values` fills them.
PUSH_PLATFORM_COLUMNS = {
    platform: (
        *(f"{platform} {metric}" for metric in PUSH_METRICS),
        *(f"{goal} {platform}" for goal in PUSH_GOAL_METRICS),
    )
    for platform in PUSH_PLATFORMS
}
# The push columns of api-notes 5.6, then three awkward ones: "iOS Sent" snake-cases like
# "Ios Sent", one starts with a digit, one has characters no SQL identifier takes.
PUSH_COLUMNS = (
    "Date", "Time", "Month", "Campaign Name", "Campaign ID", "Conversion Goal 1 Event",
    "Message", "Title", *PUSH_FIGURES, *PUSH_GOALS,
    "iOS Sent", "1st Click Time", "Revenue/Click ($)",
)  # fmt: skip
PUSH_NUMERIC = frozenset({*PUSH_FIGURES, *PUSH_GOALS, "iOS Sent", "Revenue/Click ($)"})
# "Sent"/"sent" and "Open Rate (%)"/"Open Rate %" collide once snake-cased.
EMAIL_COLUMNS = (
    "Date", "Campaign Name", "Campaign ID", "Subject", "Email Sent", "Sent", "sent",
    "Delivered", "Hard Bounces", "Soft Bounces", "Unique Opens", "Open Rate (%)",
    "Open Rate %", "Unique Clicks", "Click Rate (%)", "Unsubscribes", "Spam Complaints",
    "Tag Category: Uncategorized", "1st Open Time",
)  # fmt: skip
EMAIL_NUMERIC = frozenset(
    {
        "Email Sent", "Sent", "sent", "Delivered", "Hard Bounces", "Soft Bounces",
        "Unique Opens", "Open Rate (%)", "Unique Clicks", "Click Rate (%)", "Unsubscribes",
        "Spam Complaints",
    }
)  # fmt: skip
# Hostile extras, off unless asked for. The sizes a hostile-input test is meant to use:
HUGE_FIELD_BYTES = 10 * 2**20
ZIP_BOMB_BYTES = 5 * 2**30
HUGE_FIELD_PATTERN = 'Lorem, "ipsum" dolor sit amet; '
# The bomb's last row is one endless field of this byte, deflated piece by piece.
BOMB_FILL = b"0"
BOMB_PIECE_BYTES = 2**20
BOMB_LEVEL = 9
# Rows of a chunk handed to the compressor; a few hundred KB at most.
CSV_CHUNK_CHARS = 2**16
# zipfile needs ZIP64 extensions when a member passes 2 GiB; a row is far below this bound.
ROW_BYTES_BOUND = 4096


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign that report rows belong to.

    Attributes:
        campaign_id: 24 hex digits, like MoEngage's ids.
        name: The campaign name.
        text: The push message or the e-mail subject.
        title: The push title.
        goal_event: The conversion goal event.
        tags: Tags, `;`-separated.
    """

    campaign_id: str
    name: str
    text: str
    title: str
    goal_event: str
    tags: str


RowValues = dict[str, str]


@dataclass(frozen=True)
class ReportSpec:
    """A report as built in the dashboard: its name, columns and schedule.

    Attributes:
        name: The report name, spaces allowed.
        columns: The header, in order.
        numeric: Columns that hold numbers (on most rows).
        text_column: The column that gets the huge field.
        values: Draws one row's values of every column, and of `drift_added`.
        weekday: The day of the week a file is generated (Monday is 0), or None for every day.
        drift_removed: The column missing from the header on drifting dates.
        drift_added: The column added (last) to the header on drifting dates.
    """

    name: str
    columns: tuple[str, ...]
    numeric: frozenset[str]
    text_column: str
    values: Callable[[random.Random, Campaign, date], RowValues] = field(repr=False)
    weekday: int | None = None
    drift_removed: str = ""
    drift_added: str = ""

    def generated_on(self, day: date) -> bool:
        """Say whether the schedule generates a file on a day (ignoring the clock).

        Args:
            day: The generation date.

        Returns:
            True every day for a daily report, on its weekday for a weekly one.
        """
        return self.weekday is None or day.weekday() == self.weekday


def file_name(report_name: str, day: date) -> str:
    """Return the file name of a report's file for a generation date.

    Args:
        report_name: The report name as built in the dashboard.
        day: The generation date.

    Returns:
        e.g. `Daily_Push_Report_20260119.zip`.
    """
    # Assumed (api-notes 5.2): only spaces are replaced.
    prefix = report_name.replace(" ", FILE_NAME_SPACE)
    return f"{prefix}_{day.strftime(FILE_NAME_DATE_FORMAT)}{FILE_NAME_SUFFIX}"


def generated_at(day: date) -> datetime:
    """Return when a file of a generation date is stamped as made.

    Args:
        day: The generation date.

    Returns:
        GENERATED_AT_HOUR of that day, UTC.
    """
    return datetime(day.year, day.month, day.day, GENERATED_AT_HOUR, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ReportFile:
    """The content of one report file.

    Attributes:
        seed: The world's seed.
        report: The report.
        day: The generation date (the one in the file name).
        rows: Data rows.
        header_drift: On dates of odd ordinal the header loses one column and gains another.
        huge_field_bytes: The middle row's text column is this long; 0 for a normal one.
    """

    seed: int
    report: ReportSpec
    day: date
    rows: int = DEFAULT_ROWS_PER_FILE
    header_drift: bool = False
    huge_field_bytes: int = 0

    @property
    def file_name(self) -> str:
        """The file name, e.g. `Daily_Push_Report_20260119.zip`."""
        return file_name(self.report.name, self.day)

    @property
    def member_name(self) -> str:
        """The name of the CSV inside the ZIP."""
        return self.file_name.removesuffix(FILE_NAME_SUFFIX) + MEMBER_SUFFIX

    @property
    def data_day(self) -> date:
        """The day the rows are about."""
        return self.day - DATA_DAY_OFFSET

    @property
    def header(self) -> tuple[str, ...]:
        """The header row."""
        if not (self.header_drift and self.day.toordinal() % 2):
            return self.report.columns
        kept = (name for name in self.report.columns if name != self.report.drift_removed)
        return (*kept, self.report.drift_added)

    @property
    def huge_row_number(self) -> int:
        """The row that gets the huge field (0 when there is none)."""
        return (self.rows + 1) // 2 if self.huge_field_bytes else 0

    def records(self) -> Iterator[list[str]]:
        """Generate the data rows, in header order.

        Yields:
            One row's values. The first n rows are the same whatever `rows` is.
        """
        rng = seeded_rng(self.seed, "moengage", "rows", self.report.name, self.day)
        header = self.header
        numeric = [index for index, name in enumerate(header) if name in self.report.numeric]
        campaigns = campaigns_of(self.seed, self.report.name)
        campaign, left = campaigns[0], 0
        for number in range(1, self.rows + 1):
            if left == 0:
                campaign, left = rng.choice(campaigns), rng.randint(*ROWS_PER_CAMPAIGN)
            left -= 1
            values = self.report.values(rng, campaign, self.data_day)
            row = [values[name] for name in header]
            # Drawn on every row, so that the rows after it are the same with or without it.
            where = rng.random()
            if number % AWKWARD_EVERY == 0 and numeric:
                row[numeric[int(where * len(numeric))]] = awkward_number(number)
            if number == self.huge_row_number:
                row[header.index(self.report.text_column)] = huge_text(self.huge_field_bytes)
            yield row

    def csv_chunks(self) -> Iterator[bytes]:
        """Encode the file's CSV, a chunk of rows at a time.

        Yields:
            UTF-8 bytes: the BOM and header first, then rows.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=CSV_LINE_END, quoting=csv.QUOTE_MINIMAL)
        buffer.write(CSV_BOM)
        writer.writerow(self.header)
        for row in self.records():
            writer.writerow(row)
            if buffer.tell() >= CSV_CHUNK_CHARS:
                yield buffer.getvalue().encode(CSV_ENCODING)
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode(CSV_ENCODING)


def awkward_number(row_number: int) -> str:
    """Return the value that does not fit a number put on an AWKWARD_EVERY-th row.

    Args:
        row_number: The 1-based row number, a multiple of AWKWARD_EVERY.

    Returns:
        The next of AWKWARD_NUMBERS, in turn.
    """
    return AWKWARD_NUMBERS[(row_number // AWKWARD_EVERY - 1) % len(AWKWARD_NUMBERS)]


def huge_text(size: int) -> str:
    """Return a field of `size` bytes that needs quoting (commas and double quotes).

    Args:
        size: Length in bytes (the text is ASCII).

    Returns:
        The text.
    """
    return (HUGE_FIELD_PATTERN * (size // len(HUGE_FIELD_PATTERN) + 1))[:size]


@functools.lru_cache(maxsize=64)
def campaigns_of(seed: int, report_name: str) -> tuple[Campaign, ...]:
    """Return the campaigns a report's rows draw from.

    Args:
        seed: The world's seed.
        report_name: The report.

    Returns:
        CAMPAIGNS_PER_REPORT campaigns, the same on every date.
    """
    rng = seeded_rng(seed, "moengage", "campaigns", report_name)
    return tuple(
        Campaign(
            campaign_id=f"{rng.getrandbits(96):024x}",
            name=f"{rng.choice(CAMPAIGN_NAMES)} #{number}",
            text=rng.choice(TEXTS),
            title=rng.choice(TITLES),
            goal_event=rng.choice(GOAL_EVENTS),
            tags=";".join(rng.sample(TAGS, rng.randint(1, 2))),
        )
        for number in range(1, CAMPAIGNS_PER_REPORT + 1)
    )


def push_values(rng: random.Random, campaign: Campaign, data_day: date) -> RowValues:
    """Draw one row of the push report: per-platform figures that add up, and their rates.

    Args:
        rng: The file's generator.
        campaign: The row's campaign.
        data_day: The day the row is about.

    Returns:
        Every push column, and the drift column `Conversion Goal 2 Event`.
    """
    platforms = [_push_platform(rng) for _ in PUSH_PLATFORMS[:-1]]
    platforms.append([sum(column) for column in zip(*platforms, strict=True)])
    day_label, month_label = _day_labels(data_day)
    values = {
        "Date": day_label,
        "Time": f"{int(rng.random() * 24):02d}:{int(rng.random() * 12) * 5:02d}",
        "Month": month_label,
        "Campaign Name": campaign.name,
        "Campaign ID": campaign.campaign_id,
        "Conversion Goal 1 Event": campaign.goal_event,
        "Conversion Goal 2 Event": "App Opened",
        "Message": campaign.text,
        "Title": campaign.title,
    }
    for name, figures in zip(PUSH_PLATFORMS, platforms, strict=True):
        values.update(zip(PUSH_PLATFORM_COLUMNS[name], _push_platform_values(figures), strict=True))
    values["iOS Sent"] = values["Ios Sent"]
    clicks, revenue = platforms[-1][3], platforms[-1][5] / 100
    values["1st Click Time"] = _time_of_day(rng) if clicks else ""
    values["Revenue/Click ($)"] = f"{revenue / clicks:.2f}" if clicks else "0.00"
    return values


def email_values(rng: random.Random, campaign: Campaign, data_day: date) -> RowValues:
    """Draw one row of the e-mail report.

    Args:
        rng: The file's generator.
        campaign: The row's campaign.
        data_day: The day the row is about.

    Returns:
        Every e-mail column, and the drift column `Complaint Rate (%)`.
    """
    targeted = rng.randrange(100, 50_000)
    sent = round(targeted * rng.uniform(0.9, 1))
    hard, soft = round(sent * rng.uniform(0, 0.02)), round(sent * rng.uniform(0, 0.03))
    delivered = sent - hard - soft
    opens = round(delivered * rng.uniform(0.1, 0.5))
    clicks = round(opens * rng.uniform(0, 0.3))
    complaints = round(delivered * rng.uniform(0, 0.001))
    return {
        "Date": _day_labels(data_day)[0],
        "Campaign Name": campaign.name,
        "Campaign ID": campaign.campaign_id,
        "Subject": campaign.text,
        "Email Sent": str(targeted),
        "Sent": str(sent),
        # Unique recipients: a second, smaller count under the same name.
        "sent": str(round(sent * rng.uniform(0.8, 1))),
        "Delivered": str(delivered),
        "Hard Bounces": str(hard),
        "Soft Bounces": str(soft),
        "Unique Opens": str(opens),
        "Open Rate (%)": _rate(opens, delivered),
        "Open Rate %": _rate(opens, delivered) + "%",
        "Unique Clicks": str(clicks),
        "Click Rate (%)": _rate(clicks, delivered),
        "Unsubscribes": str(round(delivered * rng.uniform(0, 0.005))),
        "Spam Complaints": str(complaints),
        "Complaint Rate (%)": _rate(complaints, delivered),
        "Tag Category: Uncategorized": "Yes" if "promo" not in campaign.tags else "No",
        "1st Open Time": _time_of_day(rng) if opens else "",
    }


def _push_platform(rng: random.Random) -> list[int]:
    """Draw one platform's [targeted, sent, impressions, clicks, conversions, revenue cents]."""
    # rng.random() products rather than uniform()/randrange(): this runs for millions of rows.
    draw = rng.random
    targeted = int(draw() * 40_000)
    sent = round(targeted * (0.85 + 0.15 * draw()))
    impressions = round(sent * (0.3 + 0.6 * draw()))
    clicks = round(impressions * 0.2 * draw())
    conversions = round(clicks * 0.3 * draw())
    return [
        targeted,
        sent,
        impressions,
        clicks,
        conversions,
        conversions * int(500 + 8500 * draw()),
    ]


def _push_platform_values(figures: list[int]) -> tuple[str, ...]:
    targeted, sent, impressions, clicks, conversions, revenue_cents = figures
    # View-through figures: a fixed share of the click-through ones, to save draws per row.
    return (
        str(sent),
        _rate(sent, targeted),
        str(impressions),
        _rate(impressions, sent),
        str(clicks),
        _rate(clicks, impressions),
        str(conversions),
        f"{revenue_cents / 100:.2f}",
        str(conversions // 3),
        f"{revenue_cents // 3 / 100:.2f}",
    )


@functools.lru_cache(maxsize=64)
def _day_labels(data_day: date) -> tuple[str, str]:
    """The `Date` and `Month` texts of a day, made once per file rather than per row."""
    return data_day.strftime(CSV_DATE_FORMAT), f"{MONTH_NAMES[data_day.month - 1]} {data_day.year}"


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}" if whole else "0.00"


def _time_of_day(rng: random.Random) -> str:
    seconds = rng.randrange(86_400)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


PUSH_REPORT = ReportSpec(
    name="Daily Push Report",
    columns=PUSH_COLUMNS,
    numeric=PUSH_NUMERIC,
    text_column="Message",
    values=push_values,
    drift_removed="Month",
    drift_added="Conversion Goal 2 Event",
)
EMAIL_REPORT = ReportSpec(
    name="Weekly Email Summary",
    columns=EMAIL_COLUMNS,
    numeric=EMAIL_NUMERIC,
    text_column="Subject",
    values=email_values,
    weekday=0,
    drift_removed="Spam Complaints",
    drift_added="Complaint Rate (%)",
)
DEFAULT_REPORTS = (PUSH_REPORT, EMAIL_REPORT)


# Packing a file: the body formats


def write_body(path: Path, content: ReportFile, body_format: str, bomb_bytes: int = 0) -> None:
    """Write a report file's body to disk, streaming its rows.

    Args:
        path: Where to write (created or replaced).
        content: The file.
        body_format: `zip` (the vendor's), `gzip` (the CSV gzip-compressed) or `csv` (plain).
        bomb_bytes: 0, or the size of an endless last field that makes the body a
            decompression bomb (zip and gzip only).

    Raises:
        ValueError: If the format is unknown, or a bomb is asked for as plain CSV.
    """
    if body_format not in BODY_FORMATS:
        msg = f"body_format must be one of {BODY_FORMATS}, got {body_format!r}"
        raise ValueError(msg)
    if bomb_bytes and body_format == "csv":
        msg = "a plain CSV body cannot be a decompression bomb: use zip or gzip"
        raise ValueError(msg)
    with path.open("wb") as out:
        if bomb_bytes:
            _write_bomb(out, content, body_format, bomb_bytes)
        elif body_format == "zip":
            _write_zip(out, content)
        elif body_format == "gzip":
            _write_gzip(out, content)
        else:
            out.writelines(content.csv_chunks())


def needs_zip64(content: ReportFile) -> bool:
    """Say whether a member may pass zipfile's 2 GiB limit and needs ZIP64 extensions.

    Args:
        content: The file.

    Returns:
        True for files of very many rows or a huge field.
    """
    return content.rows * ROW_BYTES_BOUND + content.huge_field_bytes >= zipfile.ZIP64_LIMIT


def _write_zip(out: BinaryIO, content: ReportFile) -> None:
    stamp = generated_at(content.day)
    member = zipfile.ZipInfo(content.member_name, date_time=stamp.timetuple()[:6])
    member.compress_type = zipfile.ZIP_DEFLATED
    with (
        zipfile.ZipFile(out, "w") as archive,
        archive.open(member, "w", force_zip64=needs_zip64(content)) as csv_file,
    ):
        for chunk in content.csv_chunks():
            csv_file.write(chunk)


def _write_gzip(out: BinaryIO, content: ReportFile) -> None:
    stamp = int(generated_at(content.day).timestamp())
    with gzip.GzipFile(content.member_name, "wb", fileobj=out, mtime=stamp) as packed:
        for chunk in content.csv_chunks():
            packed.write(chunk)


# The decompression bomb: raw deflate segments, each ending on a full flush, can be joined; one
# piece of BOMB_FILL is compressed once and written as many times as needed, so a body of a few
# MB inflates to several GB without those GB ever existing here.


class _DeflateStream:
    """Raw deflate data written to a file, with the CRC-32 and size of what it inflates to."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.crc = 0
        self.size = 0
        self.compressed_size = 0

    def segment(self, chunks: Iterable[bytes], *, final: bool) -> None:
        compressor = zlib.compressobj(BOMB_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        for chunk in chunks:
            self._count(chunk)
            self._write(compressor.compress(chunk))
        self._write(compressor.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH))

    def repeat(self, chunk: bytes, times: int) -> None:
        compressor = zlib.compressobj(BOMB_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        piece = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
        for _ in range(times):
            self._count(chunk)
            self._write(piece)

    def _count(self, chunk: bytes) -> None:
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.compressed_size += len(data)


def _bomb_data(stream: _DeflateStream, content: ReportFile, bomb_bytes: int) -> None:
    """The file's CSV, then a last row of one field of `bomb_bytes` bytes."""
    stream.segment(content.csv_chunks(), final=False)
    pieces, rest = divmod(bomb_bytes, BOMB_PIECE_BYTES)
    stream.repeat(BOMB_FILL * BOMB_PIECE_BYTES, pieces)
    stream.segment([BOMB_FILL * rest, CSV_LINE_END.encode()], final=True)


def _write_bomb(out: BinaryIO, content: ReportFile, body_format: str, bomb_bytes: int) -> None:
    if body_format == "gzip":
        _write_gzip_bomb(out, content, bomb_bytes)
    else:
        _write_zip64_bomb(out, content, bomb_bytes)


def _write_gzip_bomb(out: BinaryIO, content: ReportFile, bomb_bytes: int) -> None:
    # RFC 1952: magic, deflate, no flags, mtime, no extra flags, unknown OS; then the trailer.
    stamp = int(generated_at(content.day).timestamp())
    out.write(struct.pack("<2sBBLBB", b"\x1f\x8b", 8, 0, stamp, 0, 255))
    stream = _DeflateStream(out)
    _bomb_data(stream, content, bomb_bytes)
    out.write(struct.pack("<LL", stream.crc, stream.size & 0xFFFFFFFF))


# ZIP64 records (APPNOTE 4.3): zipfile cannot take ready-made deflate data, so they are written
# here. Sizes live in the ZIP64 extra field (they pass 4 GiB); 32-bit fields say 0xFFFFFFFF.
ZIP64_VERSION = 45
ZIP64_EXTRA_ID = 0x0001
ZIP64_END_RECORD_SIZE = 44  # the ZIP64 end record's length, less its first 12 bytes
MAX_32 = 0xFFFFFFFF
UTF8_NAME_FLAG = 0x800
MADE_ON_UNIX = 3


@dataclass(frozen=True)
class _ZipMember:
    """What the ZIP records say about the one member."""

    name: bytes
    flags: int
    dos_time: int
    dos_date: int
    crc: int = 0
    compressed_size: int = 0
    size: int = 0

    @property
    def zip64_extra(self) -> bytes:
        return struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, self.size, self.compressed_size)

    def local_header(self) -> bytes:
        fields = (ZIP64_VERSION, 0, self.flags, zipfile.ZIP_DEFLATED, self.dos_time)
        header = struct.pack(
            "<4s2B4HL2L2H",
            b"PK\x03\x04",
            *fields,
            self.dos_date,
            self.crc,
            MAX_32,
            MAX_32,
            len(self.name),
            len(self.zip64_extra),
        )
        return header + self.name + self.zip64_extra

    def central_header(self) -> bytes:
        versions = (ZIP64_VERSION, MADE_ON_UNIX, ZIP64_VERSION, 0)
        fields = (self.flags, zipfile.ZIP_DEFLATED, self.dos_time, self.dos_date, self.crc)
        sizes = (MAX_32, MAX_32, len(self.name), len(self.zip64_extra))
        # No comment, disk 0, no attributes, local header at offset 0.
        header = struct.pack(
            "<4s4B4HL2L5H2L", b"PK\x01\x02", *versions, *fields, *sizes, 0, 0, 0, 0, 0
        )
        return header + self.name + self.zip64_extra


def _write_zip64_bomb(out: BinaryIO, content: ReportFile, bomb_bytes: int) -> None:
    dos_time, dos_date = _dos_stamp(generated_at(content.day))
    flags = 0 if content.member_name.isascii() else UTF8_NAME_FLAG
    member = _ZipMember(content.member_name.encode(), flags, dos_time, dos_date)
    out.write(member.local_header())  # rewritten once the sizes are known
    stream = _DeflateStream(out)
    _bomb_data(stream, content, bomb_bytes)
    member = replace(
        member, crc=stream.crc, compressed_size=stream.compressed_size, size=stream.size
    )
    directory_offset = out.tell()
    out.seek(0)
    out.write(member.local_header())
    out.seek(directory_offset)
    directory = member.central_header()
    out.write(directory)
    out.write(_end_records(len(directory), directory_offset))


def _end_records(directory_size: int, directory_offset: int) -> bytes:
    """The ZIP64 end record, its locator, and the classic end record, for one member."""
    end64 = struct.pack(
        "<4sQ2H2L4Q",
        b"PK\x06\x06",
        ZIP64_END_RECORD_SIZE,
        ZIP64_VERSION,
        ZIP64_VERSION,
        0,
        0,
        1,
        1,
        directory_size,
        directory_offset,
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, directory_offset + directory_size, 1)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, directory_size, min(directory_offset, MAX_32), 0
    )
    return end64 + locator + end


def _dos_stamp(moment: datetime) -> tuple[int, int]:
    dos_time = moment.hour << 11 | moment.minute << 5 | moment.second // 2
    dos_date = (moment.year - 1980) << 9 | moment.month << 5 | moment.day
    return dos_time, dos_date
