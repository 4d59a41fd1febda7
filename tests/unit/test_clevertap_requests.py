"""What the CleverTap streams send: dates, filters, headers, URLs; and what they refuse."""

from __future__ import annotations

import datetime as dt
import io
import typing as t

import pytest
import requests
import urllib3

from tap_msgreports.clevertap.streams import CampaignsStream, MessageReportsStream
from tap_msgreports.errors import SourceAuthError, SourceError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import Window

PASSCODE = "p-987654321"
CONFIG = {"clevertap_account_id": "ACC-1", "clevertap_passcode": PASSCODE}
CONTEXT = {"account_id": "ACC-1"}
WINDOW = Window.of_days(dt.date(2025, 12, 30), dt.date(2026, 1, 5))


def tap(**changes: t.Any) -> TapMsgReports:
    return TapMsgReports(config={**CONFIG, **changes})


def test_get_campaigns_sends_integer_dates_inclusive() -> None:
    request = CampaignsStream(tap(clevertap_region="in1")).window_request(CONTEXT, WINDOW)
    assert request.data == {"from": 20251230, "to": 20260105}
    assert request.method == "POST"
    assert request.url == "https://in1.api.clevertap.com/1/targets/list.json"
    assert request.headers["X-CleverTap-Account-Id"] == "ACC-1"
    assert request.headers["X-CleverTap-Passcode"] == PASSCODE
    assert request.headers["Content-Type"] == "application/json"


def test_message_reports_send_string_dates_filters_as_arrays_and_daily() -> None:
    stream = MessageReportsStream(
        tap(
            clevertap_channels=["push", "email"],
            clevertap_deliveries=["one_time"],
            clevertap_statuses=["running"],
            clevertap_message_types=["ab"],
            clevertap_labels=["Onboarding"],
            clevertap_daily=True,
        )
    )
    request = stream.window_request(CONTEXT, WINDOW)
    assert request.url == "https://api.clevertap.com/1/message/report.json"  # Europe
    assert request.data == {
        "from": "20251230",
        "to": "20260105",
        "daily": True,
        "channel": ["push", "email"],
        "delivery": ["one_time"],
        "status": ["running"],
        "message_type": ["ab"],
        "label": ["Onboarding"],
    }


def test_message_reports_without_filters_send_only_the_dates_and_daily() -> None:
    request = MessageReportsStream(tap()).window_request(CONTEXT, WINDOW)
    assert request.data == {"from": "20251230", "to": "20260105", "daily": False}


def answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    body = b'{"status":"fail","error":"Invalid Credentials","code":%d}' % status
    response.raw = urllib3.HTTPResponse(io.BytesIO(body), preload_content=False)
    return response


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_at_once_naming_account_and_setting(
    status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = CampaignsStream(tap())
    sent: list[int] = []

    def refuse(prepared: requests.PreparedRequest, context: t.Any) -> requests.Response:
        sent.append(1)
        return answer(status)

    monkeypatch.setattr(stream, "send_throttled", refuse)
    with pytest.raises(SourceAuthError) as caught:
        stream.read_window(CONTEXT, WINDOW)
    message = str(caught.value)
    assert "CleverTap" in message
    assert "ACC-1" in message
    assert "clevertap_passcode" in message
    assert PASSCODE not in message
    assert sent == [1]  # not retried


@pytest.mark.parametrize(
    ("stream_type", "body", "what"),
    [
        (CampaignsStream, {"status": "success", "targets": [{"name": "x"}]}, "without an id"),
        (
            MessageReportsStream,
            {"status": "success", "messages": [{"message_name": "x"}]},
            "without a message id",
        ),
    ],
)
def test_a_row_without_its_key_is_an_error_not_a_null_key(
    stream_type: type[CampaignsStream | MessageReportsStream], body: dict[str, t.Any], what: str
) -> None:
    with pytest.raises(SourceError, match=what):
        stream_type(tap()).records_from(body, CONTEXT, WINDOW)


def test_a_header_the_library_refuses_is_a_clear_error_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = CampaignsStream(tap())
    headers = stream.account_headers(CONTEXT)
    monkeypatch.setattr(
        stream, "account_headers", lambda context: {**headers, "X-CleverTap-Passcode": "bad\nvalue"}
    )
    with pytest.raises(SourceError) as caught:
        stream.read_window(CONTEXT, WINDOW)
    assert "could not be sent (InvalidHeader)" in str(caught.value)
    assert "bad" not in str(caught.value).replace("check", "")
