"""MoEngage files: names, signatures, formats told by their bytes, CSV read safely."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import subprocess
import sys
import tempfile
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_msgreports.errors import SourceError
from tap_msgreports.moengage import files
from tap_msgreports.moengage.columns import FIXED_COLUMNS, RESERVED, column_names, snake

CSV_TEXT = (
    "\ufeffDate,Campaign Name,Message,All Platform Sent,Sent,sent,1st Click Time,Order\r\n"
    '2026-01-19,"Promo, big","She said ""hi""\r\nthen left",12,"0012",N/A,09:00,1\r\n'
    "2026-01-19,Café ☕,plain,7,,12.5%,10:00,2\r\n"
)


def test_file_names_follow_the_vendor_examples() -> None:
    assert files.file_name("Report test", dt.date(2021, 2, 17)) == "Report_test_20210217.zip"
    assert files.file_name("Report - test", dt.date(2021, 2, 17)) == "Report_-_test_20210217.zip"


def test_signature_is_sha256_of_app_file_and_secret() -> None:
    # sha256("ABCDEF123|Daily_Push_20250105.zip|SECRET"), the api-notes example.
    assert files.signature("ABCDEF123", "Daily_Push_20250105.zip", "SECRET") == (
        "81bb1c842a175bbf00101c9b80f29aa5c6748160be68e83ddb771daef3e6df5e"
    )


def test_basic_auth_is_the_workspace_id_and_the_key_as_rfc_7617_says() -> None:
    # base64("ABCDEF123:SECRET"); the user is the workspace id, the password the API key.
    assert files.basic_authorization("ABCDEF123", "SECRET") == "Basic QUJDREVGMTIzOlNFQ1JFVA=="


@pytest.mark.parametrize("name", ["", "  ", "a/b", "what?", "x#y", "50%", "tab\tname"])
def test_report_names_that_cannot_make_a_file_name(name: str) -> None:
    assert files.file_name_problem(name)


def body(kind: str, text: str = CSV_TEXT) -> io.BytesIO:
    data = text.encode()
    if kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("Daily_Push_20260120.csv", data)
        return io.BytesIO(buffer.getvalue())
    if kind == "gzip":
        return io.BytesIO(gzip.compress(data))
    return io.BytesIO(data)


def read_all(file: io.BytesIO, limit: int = 1 << 20) -> list[tuple[list[str], list[list[str]]]]:
    found = []
    for stream in files.csv_streams(file, limit, "f.zip"):
        header, rows = files.read_csv(stream, "f.zip")
        found.append((header, list(rows)))
    return found


@pytest.mark.parametrize("kind", ["zip", "gzip", "plain"])
def test_every_format_gives_the_same_rows(kind: str) -> None:
    ((header, rows),) = read_all(body(kind))
    assert header[0] == "Date"  # the BOM is gone
    assert rows == [
        [
            "2026-01-19",
            "Promo, big",
            'She said "hi"\r\nthen left',
            "12",
            "0012",
            "N/A",
            "09:00",
            "1",
        ],
        ["2026-01-19", "Café ☕", "plain", "7", "", "12.5%", "10:00", "2"],
    ]


def test_a_row_with_the_wrong_field_count_is_an_error() -> None:
    with pytest.raises(SourceError, match="line 2 has 3 fields where the header has 2"):
        read_all(body("plain", "a,b\r\n1,2,3\r\n"))


def test_text_that_is_not_utf8_is_an_error() -> None:
    with pytest.raises(SourceError, match="not UTF-8"):
        read_all(io.BytesIO(b"a,b\r\n\xff\xfe,1\r\n"))


def test_inflating_beyond_the_limit_is_refused() -> None:
    for kind in ("gzip", "zip"):
        with pytest.raises(SourceError, match="moengage_max_file_mb"):
            read_all(body(kind, "a\r\n" + "0\r\n" * 400_000), limit=100_000)


def zip_of(members: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text.encode())
    return io.BytesIO(buffer.getvalue())


def test_a_zip_whose_members_together_exceed_the_limit_is_refused_before_any_is_opened() -> None:
    # Each member is below the limit; the three of them are not.
    members = {f"part{n}.csv": "a\r\n" + "0\r\n" * 15_000 for n in range(3)}
    streams = files.csv_streams(zip_of(members), 100_000, "f.zip")
    with pytest.raises(
        SourceError, match=r"f\.zip: its 3 member\(s\) declare .* moengage_max_file_mb"
    ):
        next(streams)


def test_one_budget_is_shared_by_every_stream_of_a_file() -> None:
    budget = files.ByteBudget(10, "f.zip")
    first = files.SizeLimitedReader(io.BytesIO(b"123456"), budget)
    second = files.SizeLimitedReader(io.BytesIO(b"123456"), budget)
    assert first.read() == b"123456"
    with pytest.raises(SourceError, match=r"f\.zip inflates beyond"):
        second.read()


def patched_zip(*, method: int | None = None, flags: int | None = None) -> io.BytesIO:
    """A one-member ZIP whose compression method or flag bits are changed in both headers."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("Daily_Push_20260120.csv", CSV_TEXT.encode())
    data = bytearray(buffer.getvalue())
    central = data.index(b"PK\x01\x02")
    for flags_at in (6, central + 8):  # local header, central directory entry
        if flags is not None:
            data[flags_at : flags_at + 2] = flags.to_bytes(2, "little")
        if method is not None:
            data[flags_at + 2 : flags_at + 4] = method.to_bytes(2, "little")
    return io.BytesIO(bytes(data))


def test_a_member_in_a_compression_zipfile_cannot_read_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match=r"^f\.zip: Daily_Push_20260120\.csv uses a compression"):
        files.validate(patched_zip(method=9), 1 << 20, "f.zip")  # 9: Deflate64


def test_an_encrypted_member_is_a_clear_error() -> None:
    with pytest.raises(
        SourceError, match=r"^f\.zip: Daily_Push_20260120\.csv is encrypted: export"
    ):
        files.validate(patched_zip(flags=1), 1 << 20, "f.zip")  # bit 0: encrypted


def test_a_truncated_zip_fails_validation() -> None:
    whole = body("zip").getvalue()
    with tempfile.TemporaryFile() as cut:
        cut.write(whole[: len(whole) // 2])
        with pytest.raises(ValueError, match="corrupt or truncated"):
            files.validate(cut, 1 << 20, "cut.zip")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty"),
        (b"\n  \n", "is empty"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "HTML or XML page"),
        (b'\xef\xbb\xbf  {"error": {"message": "oops"}}', "JSON document"),
        (b"[1, 2]", "JSON document"),
    ],
)
def test_a_body_that_is_no_csv_fails_validation(content: bytes, said: str) -> None:
    with tempfile.TemporaryFile() as download:
        download.write(content)
        with pytest.raises(ValueError, match=said):
            files.validate(download, 1 << 20, "Daily_Push_20260120.zip")


def test_column_names_are_unique_snake_case_identifiers() -> None:
    header = [
        "Date",
        "Campaign Name",
        "All Platform Sent",
        "Sent",
        "sent",
        "1st Click Time",
        "Order",
    ]
    assert column_names(header) == [
        "date",
        "campaign_name",
        "all_platform_sent",
        "sent",
        "sent_2",
        "c_1st_click_time",
        "order_",
    ]
    assert column_names(["Report Date", "row number"]) == ["report_date_2", "row_number_2"]
    assert snake("Open Rate (%)") == snake("Open Rate %") == "open_rate"


IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@given(st.lists(st.text(max_size=80), max_size=30))
def test_any_header_gives_valid_distinct_identifiers(header: list[str]) -> None:
    names = column_names(header)
    assert len(names) == len(header)
    assert len({n.upper() for n in [*names, *FIXED_COLUMNS]}) == len(names) + len(FIXED_COLUMNS)
    assert all(IDENTIFIER.match(name) for name in names)


@pytest.mark.parametrize("kind", ["zip", "gzip", "plain"])
def test_the_header_is_read_from_the_first_bytes_only(kind: str) -> None:
    rows = "".join(f"2026-01-19,x{i},y,{i},2,3,4,5\r\n" for i in range(50_000))
    whole = body(kind, CSV_TEXT + rows).getvalue()
    prefix = whole[:600]
    assert len(prefix) < len(whole)
    assert files.header_from_prefix(prefix) == [
        "Date",
        "Campaign Name",
        "Message",
        "All Platform Sent",
        "Sent",
        "sent",
        "1st Click Time",
        "Order",
    ]


def test_an_unreadable_prefix_gives_no_header() -> None:
    assert files.header_from_prefix(files.ZIP_MAGIC + b"\x00" * 10) is None
    assert files.header_from_prefix(files.GZIP_MAGIC + b"garbage") is None


def test_camel_case_splits_but_acronyms_stay_whole() -> None:
    assert column_names(["campaignId", "iOS Sent", "Ios Sent"]) == [
        "campaign_id",
        "ios_sent",
        "ios_sent_2",
    ]


#: PostgreSQL's SQL Key Words appendix (Table C.1), category "reserved"; system_user since 16.
POSTGRESQL_RESERVED = """
    all analyse analyze and any array as asc asymmetric both case cast check collate column
    constraint create current_catalog current_date current_role current_time current_timestamp
    current_user default deferrable desc distinct do else end except false fetch for foreign
    from grant group having in initially intersect into lateral leading limit localtime
    localtimestamp not null offset on only or order placing primary references returning select
    session_user some symmetric system_user table then to trailing true union unique user using
    variadic when where window with
""".split()  # noqa: SIM905 - word lists read better as text
#: The same table, category "reserved (can be function or type)".
POSTGRESQL_FUNCTION_OR_TYPE = """
    authorization binary collation concurrently cross current_schema freeze full ilike inner is
    isnull join left like natural notnull outer overlaps right similar tablesample verbose
""".split()  # noqa: SIM905 - word lists read better as text
#: Snowflake's "Reserved & limited keywords" table, every keyword of it.
SNOWFLAKE_RESERVED = """
    account all alter and any as between by case cast check column connect connection
    constraint create cross current current_date current_time current_timestamp current_user
    database delete distinct drop else exists false following for from full grant group
    gscluster having ilike in increment inner insert intersect into is issue join lateral left
    like localtime localtimestamp minus natural not null of on or order organization qualify
    regexp revoke right rlike row rows sample schema select set some start table tablesample
    then to trigger true try_cast union unique update using values view when whenever where with
""".split()  # noqa: SIM905 - word lists read better as text


def test_reserved_words_are_the_documented_ones() -> None:
    documented = {*POSTGRESQL_RESERVED, *POSTGRESQL_FUNCTION_OR_TYPE, *SNOWFLAKE_RESERVED}
    assert documented - RESERVED == set(), "documented, but not suffixed"
    assert RESERVED - documented == set(), "suffixed, but documented by neither"
    for word in ("collation", "concurrently", "current_catalog", "current_schema"):
        assert snake(word.title()) == f"{word}_"


def test_fields_up_to_the_limit_are_read_and_importing_changes_no_csv_setting() -> None:
    huge = "x" * (1 << 20)  # beyond the csv module's default of 128 KiB
    ((_, rows),) = read_all(body("plain", f"a,b\r\n{huge},1\r\n"), limit=4 << 20)
    assert rows == [[huge, "1"]]
    code = (
        "import csv; before = csv.field_size_limit(); import tap_msgreports.moengage.files; "
        "assert csv.field_size_limit() == before"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
