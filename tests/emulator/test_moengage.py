"""The emulator behaves like the MoEngage Campaign Report API of api-notes.md section 5."""

from __future__ import annotations

import base64
import csv
import gzip
import http.client
import io
import re
import threading
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tap_msgreports_emulator import EmulatorServer, FaultPlan, MoEngageAPI, World
from tap_msgreports_emulator.cli import build_parser, build_server
from tap_msgreports_emulator.moengage import signature as signature_of
from tap_msgreports_emulator.moengage_data import HUGE_FIELD_BYTES, PUSH_REPORT, ZIP_BOMB_BYTES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TODAY = date(2026, 1, 20)  # a Tuesday
MONDAY = date(2026, 1, 19)
PREFIX = "/campaign_reports/rest_api/"
TIMEOUT = 5
PUSH = "Daily Push Report"
EMAIL = "Weekly Email Summary"
PLATFORMS = ["Android", "Ios", "Web", "All Platform"]
PUSH_HEADER = [
    "Date", "Time", "Month", "Campaign Name", "Campaign ID", "Conversion Goal 1 Event",
    "Message", "Title",
    *(f"{p} {metric}" for metric in ("Sent", "Sent Rate", "Impressions", "Impression Rate",
                                     "Clicks", "CTR") for p in PLATFORMS),
    *(f"Goal 1 {goal} {p}" for goal in ("Click Through Conversion Events",
                                        "Click Through Total Revenue",
                                        "View Through Conversion Events",
                                        "View Through Total Revenue") for p in PLATFORMS),
    "iOS Sent", "1st Click Time", "Revenue/Click ($)",
]  # fmt: skip
EMAIL_HEADER = [
    "Date", "Campaign Name", "Campaign ID", "Subject", "Email Sent", "Sent", "sent",
    "Delivered", "Hard Bounces", "Soft Bounces", "Unique Opens", "Open Rate (%)",
    "Open Rate %", "Unique Clicks", "Click Rate (%)", "Unsubscribes", "Spam Complaints",
    "Tag Category: Uncategorized", "1st Open Time",
]  # fmt: skip
AWKWARD_NUMBERS = {"N/A", "", "12.5%", "123456789012345678901234567890", "0012"}
WRONG_KEY = "not-the-report-key"
ERROR_KEYS = {"attribute", "message", "type", "request_id"}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    # max_lifetime: a test that hangs still ends its server.
    with EmulatorServer(World(seed=7, today=TODAY, scale=1), max_lifetime=60) as emulator:
        yield emulator


def name_of(report: str, day: date) -> str:
    return f"{report.replace(' ', '_')}_{day:%Y%m%d}.zip"


def download(
    server: EmulatorServer,
    file_name: str,
    *,
    signature: str | None = None,
    where: str = "header",
    app_id: str | None = None,
) -> requests.Response:
    moengage = server.moengage
    signature = moengage.signature(file_name) if signature is None else signature
    headers = {"Signature": signature} if where in {"header", "both"} else {}
    params = {"Signature": signature} if where in {"query", "both"} else {}
    return requests.get(
        f"{server.url}{PREFIX}{app_id or moengage.app_id}/{file_name}",
        headers=headers,
        params=params,
        timeout=TIMEOUT,
    )


def report_rows(
    server: EmulatorServer, report: str, day: date
) -> tuple[list[str], list[list[str]]]:
    response = download(server, name_of(report, day))
    assert response.status_code == 200, response.text
    return parse_body(response.content)


def inflate(body: bytes) -> bytes:
    """Sniff the body like the tap must: ZIP, gzip or plain CSV, whatever the content type."""
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            (member,) = archive.namelist()
            return archive.read(member)  # zipfile checks the CRC-32 at the end
    if body.startswith(b"\x1f\x8b"):
        return gzip.decompress(body)
    return body


def parse_body(body: bytes) -> tuple[list[str], list[list[str]]]:
    text = inflate(body).decode("utf-8")
    assert text.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    return header, rows


def refusal(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["type"] == "BAD REQUEST"
    assert body["error"]["attribute"] == body["error"]["request_id"] == ""
    message: str = body["error"]["message"]
    return message


def control(
    server: EmulatorServer,
    path: str,
    method: str = "GET",
    *,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = requests.request(
        method, server.url + "/_emulator/" + path, timeout=TIMEOUT, json=json, params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Signature, credentials, config


@pytest.mark.parametrize(
    "example",
    [
        # The vendor's current Python sample (its inputs; it prints no digest, so this one is
        # computed; seed 003's digest 80300f55... comes without its inputs).
        (
            "YOUR-APP-ID", "YOUR-SECRET-KEY", "Report - test", date(2021, 2, 18),
            "Report_-_test_20210217.zip",
            "a2c630368a57ea660b53272339a3394bf5ec0228b4afce351597dceda7ba1906",
        ),
        # api-notes 5.3's full example.
        (
            "ABCDEF123", "SECRET", "Daily Push", date(2025, 1, 6), "Daily_Push_20250105.zip",
            "81bb1c842a175bbf00101c9b80f29aa5c6748160be68e83ddb771daef3e6df5e",
        ),
    ],
)  # fmt: skip
def test_documented_examples_download_with_signature_in_header_or_query(
    example: tuple[str, str, str, date, str, str],
) -> None:
    app_id, secret, report, today, file_name, expected = example
    world = World(seed=7, today=today)
    moengage = MoEngageAPI(
        world, app_id=app_id, secret_key=secret, reports=[replace(PUSH_REPORT, name=report)]
    )
    assert moengage.signature(file_name) == expected
    with EmulatorServer(world, vendors=[moengage], max_lifetime=30) as emulator:
        for where in ("header", "query", "both"):
            assert download(emulator, file_name, where=where).status_code == 200
        upper = download(emulator, file_name, signature=expected.upper(), where="query")
        assert upper.status_code == 200
        spaced = download(emulator, file_name, signature=f" {expected.upper()} ", where="query")
        assert spaced.status_code == 200
        # The wrong one in the header does not spoil the right one in the query.
        query = requests.get(
            f"{emulator.url}{PREFIX}{app_id}/{file_name}",
            headers={"Signature": "0" * 64},
            params={"Signature": expected},
            timeout=TIMEOUT,
        )
        assert query.status_code == 200


def test_credentials_come_from_the_seed_and_reach_the_config(server: EmulatorServer) -> None:
    moengage = server.moengage
    assert re.fullmatch(r"EMUAPP[0-9A-F]{6}", moengage.app_id)
    assert len(moengage.secret_key) >= 16
    config = server.tap_config()
    assert config["moengage_app_id"] == moengage.app_id
    assert config["moengage_secret_key"] == moengage.secret_key
    assert config["moengage_api_url"] == server.url
    assert config["moengage_reports"] == [PUSH, EMAIL]
    assert control(server, "config") == config
    same, other = MoEngageAPI(World(seed=7)), MoEngageAPI(World(seed=8))
    assert (same.app_id, same.secret_key) == (moengage.app_id, moengage.secret_key)
    assert other.app_id != moengage.app_id
    assert other.secret_key != moengage.secret_key
    passcode = config["clevertap_accounts"][0]["passcode"]
    assert moengage.secret_key not in {server.messangi.api_key, passcode}


def test_every_signature_it_checks_is_an_issued_secret_and_requests_name_the_stream(
    server: EmulatorServer,
) -> None:
    moengage = server.moengage
    assert moengage.issued_secrets() == {
        moengage.secret_key: "MoEngage secret key",
        moengage.basic_credentials(): "MoEngage Basic credentials",
    }
    file_name = name_of(PUSH, MONDAY)
    expected = signature_of(moengage.app_id, file_name, moengage.secret_key)  # not via the server
    assert download(server, file_name, signature=expected).status_code == 200
    assert moengage.issued_secrets()[expected] == f"MoEngage signature of {file_name}"
    assert server.issued_secrets()[expected] == f"MoEngage signature of {file_name}"
    assert [entry.stream for entry in server.request_log()] == ["moengage_campaign_rows"]


@pytest.mark.parametrize(
    "case", ["missing", "wrong hex", "other file", "other secret", "query name in lower case"]
)
def test_missing_or_wrong_signature_gets_401_with_an_empty_body(
    server: EmulatorServer, case: str
) -> None:
    file_name = name_of(PUSH, MONDAY)
    moengage = server.moengage
    signature, where = {
        "missing": ("", "neither"),
        "wrong hex": ("0" * 64, "header"),
        "other file": (moengage.signature(name_of(PUSH, MONDAY - timedelta(days=1))), "both"),
        "other secret": (
            MoEngageAPI(World(seed=7), secret_key=WRONG_KEY).signature(file_name),
            "header",
        ),
        "query name in lower case": (moengage.signature(file_name), "lower"),
    }[case]
    params = {"signature": signature} if where == "lower" else {}
    response = (
        requests.get(
            f"{server.url}{PREFIX}{moengage.app_id}/{file_name}", params=params, timeout=TIMEOUT
        )
        if where == "lower"
        else download(server, file_name, signature=signature, where=where)
    )
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == "0"


def with_basic(
    server: EmulatorServer, file_name: str, credentials: str | None = None, scheme: str = "Basic"
) -> requests.Response:
    """A download signed in the header, with Basic auth (the right one unless given)."""
    moengage = server.moengage
    token = moengage.basic_credentials() if credentials is None else credentials
    return requests.get(
        f"{server.url}{PREFIX}{moengage.app_id}/{file_name}",
        headers={"Signature": moengage.signature(file_name), "Authorization": f"{scheme} {token}"},
        timeout=TIMEOUT,
    )


def test_basic_auth_is_demanded_only_when_switched_on(server: EmulatorServer) -> None:
    moengage = server.moengage
    file_name = name_of(PUSH, MONDAY)
    assert download(server, file_name).status_code == 200  # off: the signature is enough
    assert with_basic(server, file_name).status_code == 200  # and Basic auth does no harm
    assert "moengage_auth" not in server.tap_config()
    moengage.require_basic_auth = True
    alone = download(server, file_name)
    assert (alone.status_code, alone.content) == (401, b"")
    assert with_basic(server, file_name).status_code == 200
    assert with_basic(server, file_name, scheme="basic").status_code == 200
    other_key = base64.b64encode(f"{moengage.app_id}:{WRONG_KEY}".encode()).decode()
    other_app = base64.b64encode(f"EMUAPPFFFFFF:{moengage.secret_key}".encode()).decode()
    for wrong in (other_key, other_app, ""):
        assert with_basic(server, file_name, wrong).status_code == 401
    # Basic auth does not stand in for the signature.
    unsigned = requests.get(
        f"{server.url}{PREFIX}{moengage.app_id}/{file_name}",
        headers={"Authorization": f"Basic {moengage.basic_credentials()}"},
        timeout=TIMEOUT,
    )
    assert unsigned.status_code == 401
    assert moengage.basic_auth_given == [False, True, False, True, True, True, True, True, True]
    assert server.tap_config()["moengage_auth"] == "signature+basic"
    token = base64.b64decode(moengage.basic_credentials()).decode()
    assert token == f"{moengage.app_id}:{moengage.secret_key}"
    assert moengage.issued_secrets()[moengage.basic_credentials()] == "MoEngage Basic credentials"


# 400s


def test_wrong_app_id_is_a_400_before_the_signature_is_looked_at(server: EmulatorServer) -> None:
    file_name = name_of(PUSH, MONDAY)
    assert refusal(download(server, file_name, app_id="EMUAPPFFFFFF")) == "Invalid APP ID"
    assert refusal(download(server, file_name, app_id="x", signature="")) == "Invalid APP ID"


@pytest.mark.parametrize(
    "file_name",
    [
        "Daily_Push_Report_20260119",  # no .zip
        "Daily_Push_Report_20260119.csv",
        "Daily_Push_Report_20260119.ZIP",
        "Daily_Push_Report_2026119.zip",
        "Daily_Push_Report_20260230.zip",  # no such date
        "Daily Push Report_20260119.zip",  # spaces kept
        "daily_push_report_20260119.zip",
        "Unknown_Report_20260119.zip",
        "Daily_Push_Report-20260119.zip",
        "Daily_Push_Report_20260119.zip/more",
        "",
    ],
)
def test_file_names_that_match_no_file_are_invalid(server: EmulatorServer, file_name: str) -> None:
    assert refusal(download(server, file_name)) == "Invalid Report file name"


def test_where_each_download_carried_its_signature_is_recorded(server: EmulatorServer) -> None:
    file_name = name_of(PUSH, MONDAY)
    for where in ("header", "query", "both", "neither"):
        download(server, file_name, where=where)
    assert server.moengage.signature_places == ["header", "query", "both", "none"]


def test_no_path_of_the_vendor_answers_404(server: EmulatorServer) -> None:
    moengage = server.moengage
    for path in (PREFIX, PREFIX + moengage.app_id, PREFIX + moengage.app_id + "/a/b/c.zip"):
        response = requests.get(server.url + path, timeout=TIMEOUT)
        assert response.status_code in {400, 401}
    posted = requests.post(
        f"{server.url}{PREFIX}{moengage.app_id}/{name_of(PUSH, MONDAY)}", timeout=TIMEOUT
    )
    assert posted.status_code == 405
    assert posted.json()["error"]["type"] == "METHOD NOT ALLOWED"


# Time: generation, expiry, schedules


def test_a_file_appears_the_day_after_its_date_and_expires_seven_days_later(
    server: EmulatorServer,
) -> None:
    file_name = name_of(PUSH, TODAY)
    assert refusal(download(server, file_name)) == "Invalid Report file name"  # not yet made
    assert refusal(download(server, name_of(PUSH, TODAY + timedelta(days=3)))) == (
        "Invalid Report file name"
    )
    control(server, "advance", method="POST", json={"days": 1})
    first = download(server, file_name)
    assert first.status_code == 200
    for _ in range(6):  # up to today - date == 7: not "older than 7 days" yet
        control(server, "advance", method="POST", json={"days": 1})
        again = download(server, file_name)
        assert again.status_code == 200
        assert again.content == first.content  # a file never changes
    control(server, "advance", method="POST", json={"days": 1})  # today - date == 8
    assert refusal(download(server, file_name)) == "Requested report is older than 7 days"


def test_a_late_file_comes_late_days_after_the_usual_day(server: EmulatorServer) -> None:
    server.moengage.late_days = 1
    yesterday = TODAY - timedelta(days=1)
    assert refusal(download(server, name_of(PUSH, yesterday))) == "Invalid Report file name"
    assert server.moengage.available_dates()[PUSH][-1] == TODAY - timedelta(days=2)
    assert {
        row["report_date"] for row in server.truth("moengage_campaign_rows", yesterday, TODAY)
    } == set()
    control(server, "advance", method="POST", json={"days": 1})
    assert download(server, name_of(PUSH, yesterday)).status_code == 200


def test_available_dates_are_exactly_what_downloads(server: EmulatorServer) -> None:
    available = server.moengage.available_dates()
    assert available[PUSH] == [TODAY - timedelta(days=back) for back in range(7, 0, -1)]
    assert available[EMAIL] == [MONDAY]
    for report in (PUSH, EMAIL):
        for back in range(-1, 12):
            day = TODAY - timedelta(days=back)
            response = download(server, name_of(report, day))
            assert (response.status_code == 200) == (day in available[report]), (report, day)


def test_the_weekly_report_exists_on_mondays_only(server: EmulatorServer) -> None:
    server.moengage.rows_per_file = 3
    for back in range(1, 15):
        day = TODAY - timedelta(days=back)
        response = download(server, name_of(EMAIL, day))
        if day.weekday() != 0:
            assert refusal(response) == "Invalid Report file name", day  # never made
        elif back <= 7:
            assert response.status_code == 200
        else:
            assert "older than 7 days" in refusal(response)
    control(server, "advance", method="POST", json={"days": 6})  # Monday 26th
    # Last week's file is 7 days old, still served; today's is not made yet.
    assert server.moengage.available_dates()[EMAIL] == [MONDAY]
    # On Tuesday 27th last week's file is older than 7 days, and this week's is there.
    control(server, "advance", method="POST", json={"days": 1})
    assert server.moengage.available_dates()[EMAIL] == [MONDAY + timedelta(days=7)]


def test_the_file_dated_today_minus_7_is_served_and_an_older_one_refused(
    server: EmulatorServer,
) -> None:
    week = download(server, name_of(PUSH, TODAY - timedelta(days=7)))
    assert week.status_code == 200
    assert parse_body(week.content)[0] == PUSH_HEADER
    older = download(server, name_of(PUSH, TODAY - timedelta(days=8)))
    assert refusal(older) == "Requested report is older than 7 days"  # the vendor's cause


def test_a_vendor_whose_day_runs_ahead_refuses_the_file_dated_today_minus_7(
    server: EmulatorServer,
) -> None:
    server.moengage.served_days = 6
    refused = download(server, name_of(PUSH, TODAY - timedelta(days=7)))
    assert refusal(refused) == "Requested report is older than 7 days"
    assert download(server, name_of(PUSH, TODAY - timedelta(days=6))).status_code == 200
    assert server.moengage.available_dates()[PUSH][0] == TODAY - timedelta(days=6)


# Bodies and CSV


@pytest.mark.parametrize(("body_format", "magic"), [("zip", b"PK\x03\x04"), ("gzip", b"\x1f\x8b")])
def test_bodies_are_compressed_as_asked_and_always_typed_gzip(
    server: EmulatorServer, body_format: str, magic: bytes
) -> None:
    server.moengage.body_format = body_format
    response = download(server, name_of(PUSH, MONDAY))
    assert response.status_code == 200
    assert response.content.startswith(magic)
    assert response.headers["Content-Type"] == "application/gzip"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Daily_Push_Report_20260119.zip"'
    )
    server.moengage.body_format = "csv"
    plain = download(server, name_of(PUSH, MONDAY))
    assert plain.headers["Content-Type"] == "application/gzip"
    assert plain.content.startswith("\ufeffDate,".encode())
    assert parse_body(response.content) == parse_body(plain.content)
    if body_format == "zip":
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            (member,) = archive.infolist()
        assert member.filename == "Daily_Push_Report_20260119.csv"
        assert member.compress_type == zipfile.ZIP_DEFLATED


def test_headers_of_both_reports(server: EmulatorServer) -> None:
    push_header, push_rows = report_rows(server, PUSH, MONDAY)
    email_header, email_rows = report_rows(server, EMAIL, MONDAY)
    assert push_header == PUSH_HEADER
    assert email_header == EMAIL_HEADER
    assert len(push_rows) == len(email_rows) == 50
    assert all(len(row) == len(PUSH_HEADER) for row in push_rows)
    assert all(len(row) == len(EMAIL_HEADER) for row in email_rows)


def test_csv_is_bom_crlf_and_carries_the_awkward_content(server: EmulatorServer) -> None:
    server.moengage.rows_per_file = 120
    raw = download(server, name_of(PUSH, MONDAY)).content
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    assert text.startswith("\ufeffDate,Time,Month,")
    assert text.endswith("\r\n")
    assert "\n" not in text.split("\r\n", 1)[0]
    header, rows = parse_body(raw)
    messages = {row[header.index("Message")] for row in rows}
    assert any("," in m for m in messages)
    assert any('"' in m for m in messages)
    assert any("\r\n" in m for m in messages)
    assert any("\n" in m and "\r\n" not in m for m in messages)
    assert any(not m.isascii() for m in messages)
    assert any(ord(c) > 0xFFFF for row in rows for c in "".join(row))  # emoji
    assert text.count('""') > 0  # doubled quotes inside quoted fields
    counts = [i for i, name in enumerate(header) if name.endswith((" Sent", " Clicks"))]
    assert len(counts) == 9
    assert sum(all(row[i].isdigit() for i in counts) for row in rows) > len(rows) // 2
    found = {value for row in rows for value in row if value in AWKWARD_NUMBERS - {""}}
    assert found == AWKWARD_NUMBERS - {""}
    assert {row[0] for row in rows} == {"2026-01-18"}  # data date = generation date - 1
    assert {row[header.index("Month")] for row in rows} == {"January 2026"}
    ids = Counter(row[header.index("Campaign ID")] for row in rows)
    assert all(re.fullmatch(r"[0-9a-f]{24}", campaign) for campaign in ids)
    assert max(ids.values()) >= 3
    snake = Counter(re.sub(r"\W+", "_", name.lower()).strip("_") for name in header)
    assert snake["ios_sent"] == 2  # "Ios Sent" and "iOS Sent"
    email_header, _ = report_rows(server, EMAIL, MONDAY)
    email_snake = Counter(re.sub(r"\W+", "_", name.lower()).strip("_") for name in email_header)
    assert email_snake["sent"] == 2
    assert email_snake["open_rate"] == 2
    assert "Tag Category: Uncategorized" in email_header
    assert "1st Open Time" in email_header
    assert "1st Click Time" in header


def test_truth_equals_the_parsed_files_expired_ones_included(server: EmulatorServer) -> None:
    first, last = TODAY - timedelta(days=9), TODAY
    truth = control(
        server,
        "truth",
        params={
            "stream": "moengage_campaign_rows",
            "from": first.isoformat(),
            "to": last.isoformat(),
        },
    )
    assert truth["count"] == len(truth["records"]) == (9 + 2) * 50  # 9 push days, 2 Mondays
    assert server.truth("moengage_campaign_rows", first, last) == truth["records"]
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in truth["records"]:
        assert set(record) == {"report_name", "report_date", "row_number", "values"}
        by_file.setdefault((record["report_name"], record["report_date"]), []).append(record)
    assert (PUSH, TODAY.isoformat()) not in by_file  # not generated yet
    available = server.moengage.available_dates()
    for report, days in available.items():
        for day in days:
            header, rows = report_rows(server, report, day)
            records = by_file[report, day.isoformat()]
            assert [r["row_number"] for r in records] == list(range(1, len(rows) + 1))
            assert [r["values"] for r in records] == [
                dict(zip(header, row, strict=True)) for row in rows
            ]
    expired = (PUSH, (TODAY - timedelta(days=9)).isoformat())
    assert len(by_file[expired]) == 50
    assert set(by_file) - {(r, d.isoformat()) for r, days in available.items() for d in days}


def test_rows_per_file_keeps_the_first_rows(server: EmulatorServer) -> None:
    server.moengage.rows_per_file = 4
    header, few = report_rows(server, PUSH, MONDAY)
    assert len(few) == 4
    server.moengage.rows_per_file = 300
    _, many = report_rows(server, PUSH, MONDAY)
    assert len(many) == 300
    assert many[:4] == few
    server.moengage.rows_per_file = 0
    assert report_rows(server, PUSH, MONDAY) == (header, [])


def test_same_seed_gives_same_bytes_and_other_seed_other_rows() -> None:
    def bodies(seed: int) -> list[bytes]:
        with EmulatorServer(World(seed=seed, today=TODAY), max_lifetime=30) as emulator:
            result = []
            for body_format in ("zip", "gzip"):
                emulator.moengage.body_format = body_format
                result += [download(emulator, name_of(r, MONDAY)).content for r in (PUSH, EMAIL)]
            return result

    first, again, other = bodies(7), bodies(7), bodies(8)
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    assert parse_body(first[0])[0] == parse_body(other[0])[0]  # same columns


# Size, memory, faults


def peak_rss_growth_kb(action: Callable[[], object]) -> int:
    """Run `action` and return how far the peak RSS rose above the RSS before it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")

    def status(field: str) -> int:
        text = Path("/proc/self/status").read_text()
        found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        assert found is not None, field
        return int(found.group(1))

    before = status("VmRSS")
    action()
    return status("VmHWM") - before


def test_a_big_file_is_generated_and_sent_with_bounded_memory(server: EmulatorServer) -> None:
    moengage = server.moengage
    moengage.rows_per_file = 100_000
    built = []
    growth = peak_rss_growth_kb(lambda: built.append(moengage.body_file(EMAIL, MONDAY)))
    with zipfile.ZipFile(built[0]) as archive:
        (member,) = archive.infolist()
    assert member.file_size > 15_000_000  # 100k rows of CSV...
    assert growth < 8_000  # ...never held in memory (KB)

    received = []

    def fetch() -> None:
        with requests.get(
            f"{server.url}{PREFIX}{moengage.app_id}/{name_of(EMAIL, MONDAY)}",
            headers={"Signature": moengage.signature(name_of(EMAIL, MONDAY))},
            stream=True,
            timeout=TIMEOUT,
        ) as response:
            received.append(sum(len(chunk) for chunk in response.iter_content(2**16)))

    assert peak_rss_growth_kb(fetch) < 8_000
    assert received == [built[0].stat().st_size]


def test_bodies_live_on_disk_until_the_server_stops() -> None:
    with EmulatorServer(World(seed=7, today=TODAY), max_lifetime=30) as emulator:
        path = emulator.moengage.body_file(PUSH, MONDAY)
        assert path.is_file()
        assert emulator.moengage.body_file(PUSH, MONDAY) == path  # built once
        assert download(emulator, name_of(PUSH, MONDAY)).content == path.read_bytes()
        emulator.moengage.body_format = "gzip"
        assert emulator.moengage.body_file(PUSH, MONDAY) != path
    assert not path.parent.exists()


def test_concurrent_first_requests_build_one_body(server: EmulatorServer) -> None:
    server.moengage.rows_per_file = 5_000
    bodies = []
    threads = [
        threading.Thread(target=lambda: bodies.append(download(server, name_of(EMAIL, MONDAY))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert [body.status_code for body in bodies] == [200] * 4
    assert len({body.content for body in bodies}) == 1
    assert len(list(server.moengage.body_file(EMAIL, MONDAY).parent.iterdir())) == 1
    assert server.status()["requests"] == {"clevertap": 0, "messangi": 0, "moengage": 4}
    assert server.status()["max_in_flight"]["moengage"] >= 1


def test_truncate_keeps_the_content_length_and_cuts_the_body(server: EmulatorServer) -> None:
    server.moengage.rows_per_file = 2_000
    file_name = name_of(PUSH, MONDAY)
    full = download(server, file_name).content
    server.faults = FaultPlan(script=["truncate", "429", "500", "ok"], vendors=["moengage"])
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        path = f"{PREFIX}{server.moengage.app_id}/{file_name}"
        connection.request("GET", path, headers={"Signature": server.moengage.signature(file_name)})
        response = connection.getresponse()
        assert response.status == 200
        length = response.getheader("Content-Length")
        assert length is not None
        assert int(length) == len(full) > 100_000
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert cut.value.partial == full[: len(full) // 2]
    finally:
        connection.close()
    limited = download(server, file_name)
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "TOO MANY REQUESTS"
    assert download(server, file_name).json()["error"]["message"] == "Internal Server Error"
    assert download(server, file_name).content == full
    assert server.status()["faults_injected"] == {"truncate": 1, "429": 1, "500": 1}


# Hostile extras (off by default)


def test_zip_bomb_inflates_to_gigabytes_from_a_small_body(server: EmulatorServer) -> None:
    moengage = server.moengage
    moengage.rows_per_file = 5
    moengage.zip_bomb_bytes = ZIP_BOMB_BYTES
    response = download(server, name_of(PUSH, MONDAY))
    assert response.status_code == 200
    assert len(response.content) < 8 * 2**20
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        (member,) = archive.infolist()
        assert member.file_size > ZIP_BOMB_BYTES >= 4 * 2**30
        with archive.open(member) as stream:
            assert stream.read(2**20).startswith("\ufeffDate,".encode())
    assert len(server.truth("moengage_campaign_rows", MONDAY, MONDAY)) == 5 + 5


@pytest.mark.parametrize("body_format", ["zip", "gzip"])
def test_a_small_bomb_is_valid_and_ends_in_one_endless_field(
    server: EmulatorServer, body_format: str
) -> None:
    moengage = server.moengage
    moengage.rows_per_file = 5
    moengage.body_format = body_format
    moengage.zip_bomb_bytes = 3 * 2**20 + 7
    body = download(server, name_of(PUSH, MONDAY)).content
    assert len(body) < 2**16
    head, _, last = inflate(body).decode("utf-8").rstrip("\r\n").rpartition("\r\n")
    assert last == "0" * (3 * 2**20 + 7)
    moengage.zip_bomb_bytes = 0
    assert parse_body(download(server, name_of(PUSH, MONDAY)).content) == parse_body(
        (head + "\r\n").encode()
    )


def test_a_huge_field_is_one_row_of_the_file_and_of_the_truth(server: EmulatorServer) -> None:
    moengage = server.moengage
    moengage.rows_per_file = 9
    moengage.huge_field_bytes = HUGE_FIELD_BYTES
    body = download(server, name_of(PUSH, MONDAY)).content
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(2 * HUGE_FIELD_BYTES)
        header, rows = parse_body(body)
    finally:
        csv.field_size_limit(limit)
    sizes = [len(row[header.index("Message")]) for row in rows]
    assert sizes[4] == HUGE_FIELD_BYTES
    assert max(sizes[:4] + sizes[5:]) < 100
    truth = [
        r
        for r in server.truth("moengage_campaign_rows", MONDAY, MONDAY)
        if r["report_name"] == PUSH
    ]
    assert [r["values"] for r in truth] == [dict(zip(header, row, strict=True)) for row in rows]


def test_header_drift_adds_and_removes_a_column_from_one_date_to_the_next(
    server: EmulatorServer,
) -> None:
    server.moengage.header_drift = True
    headers = {}
    for report in (PUSH, EMAIL):
        for day in server.moengage.available_dates()[report]:
            header, rows = report_rows(server, report, day)
            headers[report, day] = header
            truth = [
                r["values"]
                for r in server.truth("moengage_campaign_rows", day, day)
                if r["report_name"] == report
            ]
            assert truth == [dict(zip(header, row, strict=True)) for row in rows]
    sunday, monday = headers[PUSH, MONDAY - timedelta(days=1)], headers[PUSH, MONDAY]
    assert sunday != monday
    assert {frozenset(set(sunday) - set(monday)), frozenset(set(monday) - set(sunday))} == {
        frozenset({"Month"}),
        frozenset({"Conversion Goal 2 Event"}),
    }
    control(server, "advance", method="POST", json={"days": 7})
    next_monday = report_rows(server, EMAIL, MONDAY + timedelta(days=7))[0]
    assert {*next_monday} ^ {*headers[EMAIL, MONDAY]} == {"Spam Complaints", "Complaint Rate (%)"}


# CLI


def test_cli_options_reach_the_moengage_emulation() -> None:
    args = build_parser().parse_args(
        ["--moengage-rows-per-file", "7", "--moengage-body-format", "gzip", "--moengage-basic-auth"]
    )
    moengage = build_server(args).moengage
    assert (moengage.rows_per_file, moengage.body_format, moengage.require_basic_auth) == (
        7,
        "gzip",
        True,
    )
    defaults = build_server(build_parser().parse_args([])).moengage
    assert (defaults.rows_per_file, defaults.body_format, defaults.require_basic_auth) == (
        50,
        "zip",
        False,
    )
    for bad in (["--moengage-body-format", "rar"], ["--moengage-rows-per-file", "-1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)
