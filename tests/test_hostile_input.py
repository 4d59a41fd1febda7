"""Hostile or broken answers end in a clear error or a documented fallback, never a hang."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import resource
import typing as t

import pytest

from tap_msgreports.clevertap.streams import MessageReportsStream
from tap_msgreports.errors import SourceError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import Window
from tests.conftest import tap_config
from tests.harness import run_tap
from tests.loopback import Handler, Server, serving

if t.TYPE_CHECKING:
    from tap_msgreports_emulator import EmulatorServer

CONFIG = {
    "messangi_api_key": "k-1234567890",
    "messangi_channels": ["S"],
    "start_date": "2026-01-19",
    "end_date": "2026-01-19",
    "max_retries": 1,
    "backoff_initial_seconds": 0.01,
    "request_timeout": 5,
}


@pytest.fixture
def server() -> t.Iterator[Server]:
    with serving(lambda handler: None) as httpd:
        yield httpd


def serve(httpd: Server, body: bytes, headers: dict[str, str] | None = None) -> dict[str, t.Any]:
    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        for name, value in (headers or {"Content-Length": str(len(body))}).items():
            handler.send_header(name, value)
        handler.end_headers()
        with contextlib.suppress(OSError):  # the tap may stop reading: that is the point
            handler.wfile.write(body)

    httpd.answer = answer
    return {**CONFIG, "messangi_api_url": httpd.url}


def test_a_body_declared_too_large_is_refused_unread(
    server: Server,
) -> None:
    config = serve(server, b"{}", {"Content-Length": str(5 << 30)})
    with pytest.raises(SourceError, match="declares 5120 MB, over the 1 MB limit"):
        run_tap({**config, "max_response_mb": 1})


def test_a_body_growing_too_large_is_refused(server: Server) -> None:
    config = serve(
        server, b'{"items": ["' + b"x" * (3 << 20) + b'"]}', {"Transfer-Encoding": "identity"}
    )
    with pytest.raises(SourceError, match="grew beyond the 1 MB limit"):
        run_tap({**config, "max_response_mb": 1})


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "nested"),
        (b'{"items": [{"channel": "\xff"}], "pagination": {"total": 1}}', "invalid UTF-8"),
        (b'{"items": [', "truncated"),
    ],
)
def test_bodies_that_are_not_json_fail_clearly(server: Server, body: bytes, why: str) -> None:
    with pytest.raises(SourceError, match=r"gave up after 2 tries: malformed JSON body"):
        run_tap(serve(server, body))


def test_a_lying_total_fails_with_channel_range_and_counts(
    server: Server,
) -> None:
    body = (
        b'{"meta": {}, "pagination": {"total": 1000000000}, '
        b'"items": [{"channel": "S", "date": "2026-01-19T10:00:00.000Z"}]}'
    )
    with pytest.raises(SourceError) as caught:
        run_tap(serve(server, body))
    message = str(caught.value)
    assert "Messangi channel S" in message
    # Split down to one second, where pages would be read: a billion pages is not a second's.
    assert "1000000000 lines in one second at 1 per response" in message
    assert "would take more than 10000 requests: is pagination.total right?" in message


def test_a_lying_total_over_a_92_day_window_fails_fast_in_few_requests(
    server: Server,
) -> None:
    """A split makes at most 64 pieces: a total of a billion cannot ask for millions."""
    body = (
        b'{"meta": {}, "pagination": {"total": 1000000000}, '
        b'"items": [{"channel": "S", "date": "2026-01-19T10:00:00.000Z"}]}'
    )
    config = serve(server, body)
    config |= {"start_date": "2025-10-19", "messangi_window_hours": 92 * 24}
    seen: list[str] = []
    answer = server.answer

    def counted(handler: Handler) -> None:
        seen.append(handler.path)
        answer(handler)

    server.answer = counted
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(SourceError, match="would take more than 10000 requests"):
        run_tap(config)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 200  # uncapped, the first split alone made 8 million windows (1.3 GB)
    assert len(seen) <= 10  # one piece per level, down to a second (64**4 > 92 days), no page


def test_lines_with_a_date_in_an_unknown_format_are_kept_with_a_warning(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    body = (
        b'{"meta": {}, "pagination": {"total": 2}, "items": ['
        b'{"channel": "S", "date": "19/01/2026 10:00", "recipient": "+1"},'
        b'{"channel": "S", "date": "2026-01-19T10:00:00.000Z", "recipient": "+2"}]}'
    )
    with caplog.at_level(logging.WARNING):
        records = run_tap(serve(server, body)).records["mlog_items"]
    assert sorted(record["date"] for record in records) == [
        "19/01/2026 10:00",
        "2026-01-19T10:00:00.000Z",
    ]
    assert "1 lines have a date in an unknown format (e.g. '19/01/2026 10:00')" in caplog.text


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://api.example.com", False),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("https://api.example.com", True),
    ],
)
def test_plain_http_is_refused_unless_local_or_allowed(url: str, allowed: bool) -> None:
    config = {**CONFIG, "messangi_api_url": url}
    problems = TapMsgReports.config_problems(config)
    assert (problems == []) is allowed, problems
    assert TapMsgReports.config_problems({**config, "allow_insecure_http": True}) == []


@pytest.mark.emulator
def test_a_zip_bomb_is_refused_by_name(emulator: EmulatorServer) -> None:
    emulator.moengage.zip_bomb_bytes = 5 << 30
    config = tap_config(emulator, only="moengage", moengage_max_file_mb=64, max_retries=0)
    with pytest.raises(SourceError, match=r"Daily_Push_Report_\d{8}\.zip.*moengage_max_file_mb"):
        run_tap(config)


@pytest.mark.emulator
def test_a_ten_megabyte_field_is_kept_whole(emulator: EmulatorServer) -> None:
    emulator.moengage.huge_field_bytes = 10 << 20
    config = tap_config(emulator, only="moengage", moengage_reports=["Daily Push Report"])
    rows = run_tap(config).records["moengage_campaign_rows"]
    assert max(len(row.get("message") or "") for row in rows) >= 10 << 20


def test_a_start_date_in_an_unknown_format_is_kept_raw(caplog: pytest.LogCaptureFixture) -> None:
    stream = MessageReportsStream(
        TapMsgReports(config={"clevertap_account_id": "A-1", "clevertap_passcode": "p-12345678"})
    )
    day = dt.date(2026, 1, 20)
    body = {
        "status": "success",
        "messages": [{"message id": 1, "start_date": "yesterday-ish", "data": []}],
    }
    with caplog.at_level(logging.WARNING):
        (record,) = stream.records_from(body, {"account_id": "A-1"}, Window.of_days(day, day))
    assert (record["start_date"], record["started_at"]) == ("yesterday-ish", None)
    assert "unknown format" in caplog.text
