"""CleverTap answers that are errors: never zero records, always a clear message."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t

import pytest
import requests

from tap_msgreports.clevertap.streams import CampaignsStream, MessageReportsStream
from tap_msgreports.errors import SourceError, WindowTooLargeError
from tap_msgreports.tap import TapMsgReports
from tap_msgreports.windows import Window
from tap_msgreports_emulator import FaultPlan
from tests.conftest import TODAY, tap_config

if t.TYPE_CHECKING:
    from tap_msgreports_emulator import EmulatorServer

CONFIG = {"clevertap_account_id": "ACC-1", "clevertap_passcode": "p-987654321"}
CONTEXT = {"account_id": "ACC-1"}
WINDOW = Window.of_days(TODAY, TODAY)


def response(status: int, body: object) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    return answer


def stream() -> MessageReportsStream:
    return MessageReportsStream(TapMsgReports(config=CONFIG))


def test_a_400_fails_with_the_vendor_message_and_the_range() -> None:
    error = stream().client_error(
        response(400, {"status": "fail", "error": "Invalid label", "code": 400}), CONTEXT, WINDOW
    )
    assert isinstance(error, SourceError)
    assert "Invalid label" in str(error)
    assert "2026-01-20..2026-01-20" in str(error)
    assert "ACC-1" in str(error)


def test_a_range_refusal_asks_for_a_split() -> None:
    error = stream().client_error(
        response(400, {"status": "fail", "error": "Invalid date range", "code": 400}),
        CONTEXT,
        WINDOW,
    )
    assert isinstance(error, WindowTooLargeError)


@pytest.mark.parametrize(
    "body",
    [{"status": "fail", "error": "Something broke"}, {"messages": []}, ["not", "an", "object"]],
)
def test_a_200_without_success_is_an_error(body: object) -> None:
    with pytest.raises(SourceError, match="without success"):
        stream().check_body(body, CONTEXT, WINDOW)


def test_a_success_without_its_list_is_an_error_not_zero_records() -> None:
    campaigns = CampaignsStream(TapMsgReports(config=CONFIG))
    with pytest.raises(SourceError, match="no 'targets' list"):
        campaigns.records_from({"status": "success"}, CONTEXT, WINDOW)


@pytest.mark.emulator
def test_bodies_that_stay_malformed_fail_clearly_and_keep_the_bookmark(
    emulator: EmulatorServer,
) -> None:
    emulator.faults = FaultPlan(script=["ok"] * 2 + ["malformed"] * 3 + ["truncate"] * 3)
    # One request at a time: the script meets the requests in the order they are written
    # (accounts in parallel would take its answers in whatever order they arrive).
    config = tap_config(
        emulator,
        only="clevertap",
        max_retries=2,
        clevertap_max_concurrency=1,
        max_requests_in_flight=1,
    )
    out = io.StringIO()
    tap = TapMsgReports(config=config)
    with contextlib.redirect_stdout(out), pytest.raises(SourceError, match="gave up after 3 tries"):
        tap.sync_all()
    states = [
        json.loads(line)["value"] for line in out.getvalue().splitlines() if '"STATE"' in line
    ]
    partitions = states[-1]["bookmarks"]["campaigns"]["partitions"]
    # The first account's two campaign windows were read and bookmarked; the second
    # account's first window never got a good body, so it has no bookmark to skip ahead.
    assert [(p["context"]["account_id"], p["replication_key_value"]) for p in partitions] == [
        ("EMU-ACCT-0001", "2026-01-20"),
    ]
