"""The emulator behaves like CleverTap as api-notes.md describes it, and obeys its controls."""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import requests
from singer_sdk.configuration._dict_config import parse_environment_config

from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator import (
    FAULT_KINDS,
    Account,
    CleverTapAPI,
    EmulatorServer,
    FaultPlan,
    World,
)
from tap_msgreports_emulator.clevertap_data import MAX_CREATION_LEAD_DAYS
from tap_msgreports_emulator.cli import build_parser, build_server, main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TODAY = date(2024, 3, 15)
CAMPAIGNS = "/1/targets/list.json"
REPORTS = "/1/message/report.json"
TIMEOUT = 5
SHORT_FORMAT = re.compile(r"^[A-Z][a-z]{2} [1-9]\d?, (1[0-2]|[1-9]):[0-5]\d [AP]M$")
LONG_FORMAT = re.compile(r"^\d{2} [A-Z][a-z]{2}, \d{4} [0-2]\d:[0-5]\d:00$")


@pytest.fixture
def world() -> World:
    return World(seed=7, today=TODAY, scale=5)


@pytest.fixture
def server(world: World) -> Iterator[EmulatorServer]:
    # max_lifetime: a test that hangs still ends its server.
    with EmulatorServer(world, max_lifetime=60) as emulator:
        yield emulator


def credentials(server: EmulatorServer, index: int = 0) -> dict[str, str]:
    account = server.tap_config()["clevertap_accounts"][index]
    return {
        "X-CleverTap-Account-Id": account["account_id"],
        "X-CleverTap-Passcode": account["passcode"],
    }


def post(
    server: EmulatorServer,
    path: str,
    body: dict[str, Any],
    index: int = 0,
    *,
    timeout: float = TIMEOUT,
) -> requests.Response:
    headers = credentials(server, index)
    return requests.post(server.url + path, json=body, headers=headers, timeout=timeout)


def ymd(day: date) -> int:
    return int(f"{day:%Y%m%d}")


def control(
    server: EmulatorServer,
    method: str,
    path: str,
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


# Determinism


def test_same_seed_gives_same_data_and_other_seed_other_data() -> None:
    def everything(seed: int) -> list[list[dict[str, Any]]]:
        api = CleverTapAPI(World(seed=seed, today=TODAY, scale=5))
        start = TODAY - timedelta(days=40)
        return [api.truth(stream, start, TODAY) for stream in api.streams]

    assert everything(7) == everything(7)
    assert everything(7) != everything(8)


def test_same_seed_gives_identical_http_answers() -> None:
    bodies = []
    for _ in range(2):
        with EmulatorServer(World(seed=7, today=TODAY, scale=5), max_lifetime=30) as emulator:
            body = {"from": ymd(TODAY - timedelta(days=10)), "to": ymd(TODAY)}
            bodies.append(post(emulator, REPORTS, body).content)
    assert bodies[0] == bodies[1]


def test_passcodes_come_from_the_seed_and_differ_per_account() -> None:
    def passcodes(seed: int) -> list[str]:
        config = EmulatorServer(World(seed=seed)).tap_config()
        return [account["passcode"] for account in config["clevertap_accounts"]]

    assert passcodes(1) == passcodes(1)
    assert passcodes(1) != passcodes(2)
    assert len(set(passcodes(1))) == 2


def test_custom_accounts_and_fixed_passcodes_reach_the_config() -> None:
    accounts = [Account("A-1", "Europe/Paris", passcode="secret"), Account("B-2")]
    emulator = EmulatorServer(World(seed=3, accounts=accounts), port=9)
    config = emulator.tap_config()["clevertap_accounts"]
    assert [(a["account_id"], a["timezone"]) for a in config] == [
        ("A-1", "Europe/Paris"),
        ("B-2", "UTC"),
    ]
    assert config[0]["passcode"] == "secret"
    assert config[1]["passcode"].startswith("emu-")
    assert {a["api_url"] for a in config} == {"http://127.0.0.1:9"}


def test_ids_are_unique_across_accounts_and_days(world: World) -> None:
    api = CleverTapAPI(world)
    for stream, key in (("campaigns", "id"), ("message_reports", "message_id")):
        records = api.truth(stream, TODAY - timedelta(days=60), TODAY)
        ids = [record[key] for record in records]
        assert len(ids) == len(set(ids)) > 100
        assert all(10**9 <= i < 10**10 for i in ids)


# Credentials


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-CleverTap-Account-Id": "EMU-ACCT-0001", "X-CleverTap-Passcode": "wrong"},
        {"X-CleverTap-Account-Id": "NO-SUCH-ACCOUNT", "X-CleverTap-Passcode": "wrong"},
    ],
)
@pytest.mark.parametrize("path", [CAMPAIGNS, REPORTS])
def test_bad_credentials_get_401(
    server: EmulatorServer, path: str, headers: dict[str, str]
) -> None:
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    response = requests.post(server.url + path, json=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {"status": "fail", "error": "Invalid Credentials", "code": 401}


def test_header_names_are_case_insensitive(server: EmulatorServer) -> None:
    headers = {name.lower(): value for name, value in credentials(server).items()}
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    response = requests.post(server.url + CAMPAIGNS, json=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200


def test_second_account_uses_its_own_passcode(server: EmulatorServer) -> None:
    headers = credentials(server, 1) | {
        "X-CleverTap-Passcode": credentials(server, 0)["X-CleverTap-Passcode"]
    }
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    response = requests.post(server.url + CAMPAIGNS, json=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert post(server, CAMPAIGNS, body, index=1).status_code == 200


# Dates and ranges


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"from": "20240301", "to": 20240315}, "from"),
        ({"from": 20240301, "to": "20240315"}, "to"),
        ({"from": 20240231, "to": 20240315}, "from"),
        ({"from": 2024031, "to": 20240315}, "from"),
        ({"to": 20240315}, "from"),
        ({"from": True, "to": 20240315}, "from"),
    ],
)
def test_campaigns_need_integer_yyyymmdd_dates(
    server: EmulatorServer, body: dict[str, Any], bad: str
) -> None:
    response = post(server, CAMPAIGNS, body)
    assert response.status_code == 400
    assert response.json() == {
        "status": "fail",
        "error": f'Invalid "{bad}" date (it must be of the format YYYYMMDD)',
        "code": 400,
    }


def test_reports_take_string_or_integer_dates(server: EmulatorServer) -> None:
    as_strings = post(server, REPORTS, {"from": "20240301", "to": "20240315"})
    as_ints = post(server, REPORTS, {"from": 20240301, "to": 20240315})
    assert as_strings.status_code == as_ints.status_code == 200
    assert as_strings.json() == as_ints.json()
    bad = post(server, REPORTS, {"from": "2024-03-01", "to": "20240315"})
    assert bad.status_code == 400
    assert bad.json()["error"] == 'Invalid "from" date (it must be of the format YYYYMMDD)'


@pytest.mark.parametrize(
    ("path", "days", "status"),
    [(CAMPAIGNS, 31, 200), (CAMPAIGNS, 32, 400), (REPORTS, 92, 200), (REPORTS, 93, 400)],
)
def test_range_longer_than_the_maximum_is_refused(
    server: EmulatorServer, path: str, days: int, status: int
) -> None:
    body = {"from": ymd(TODAY - timedelta(days=days - 1)), "to": ymd(TODAY)}
    response = post(server, path, body)
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"status": "fail", "error": "Invalid date range", "code": 400}


@pytest.mark.parametrize("path", [CAMPAIGNS, REPORTS])
def test_from_after_to_is_refused(server: EmulatorServer, path: str) -> None:
    response = post(server, path, {"from": ymd(TODAY), "to": ymd(TODAY - timedelta(days=1))})
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid date range"


def test_maximum_spans_can_be_shrunk(world: World) -> None:
    api = CleverTapAPI(world, campaigns_max_span_days=5, reports_max_span_days=3)
    with EmulatorServer(world, vendors=[api], max_lifetime=30) as emulator:
        assert emulator.clevertap is api
        six_days = {"from": ymd(TODAY - timedelta(days=5)), "to": ymd(TODAY)}
        assert post(emulator, CAMPAIGNS, six_days).status_code == 400
        emulator.clevertap.campaigns_max_span_days = 6
        assert post(emulator, CAMPAIGNS, six_days).status_code == 200
        assert post(emulator, REPORTS, six_days).status_code == 400


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_body_that_is_not_a_json_object_is_refused(server: EmulatorServer, body: bytes) -> None:
    response = requests.post(
        server.url + REPORTS, data=body, headers=credentials(server), timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert response.json()["status"] == "fail"


def test_chunked_request_body_is_read(server: EmulatorServer) -> None:
    chunks = (
        part.encode() for part in ('{"from": ', f'"{TODAY:%Y%m%d}", ', f'"to": {ymd(TODAY)}}}')
    )
    response = requests.post(
        server.url + REPORTS, data=chunks, headers=credentials(server), timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json()["status"] == "success"


def test_empty_range_gives_empty_lists(server: EmulatorServer) -> None:
    # Beyond the longest creation lead: no campaign scheduled there exists yet.
    after = TODAY + timedelta(days=MAX_CREATION_LEAD_DAYS)
    future = {"from": ymd(after + timedelta(days=1)), "to": ymd(after + timedelta(days=6))}
    assert post(server, CAMPAIGNS, future).json() == {"status": "success", "targets": []}
    assert post(server, REPORTS, future).json() == {
        "status": "success",
        "total_results": 0,
        "messages": [],
    }


# Concurrency


def test_fourth_concurrent_request_of_an_account_gets_429_without_retry_after(
    server: EmulatorServer,
) -> None:
    server.faults = FaultPlan(latency_ms=800)
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    results = []
    held = [
        threading.Thread(target=lambda: results.append(post(server, CAMPAIGNS, body).status_code))
        for _ in range(3)
    ]
    for thread in held:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    while server.status()["max_in_flight"].get("EMU-ACCT-0001", 0) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    fourth = post(server, REPORTS, body)
    other_account = post(server, CAMPAIGNS, body, index=1)

    for thread in held:
        thread.join(TIMEOUT)
    assert fourth.status_code == 429
    assert fourth.json() == {"status": "fail", "error": "Rate limit exceeded", "code": 429}
    assert "Retry-After" not in fourth.headers
    assert other_account.status_code == 200
    assert results == [200, 200, 200]
    assert server.status()["max_in_flight"] == {"EMU-ACCT-0001": 4, "EMU-ACCT-0002": 1}


def test_sequential_requests_never_count_as_concurrent(server: EmulatorServer) -> None:
    with requests.Session() as session:
        for _ in range(10):
            response = session.post(
                server.url + CAMPAIGNS,
                json={"from": ymd(TODAY), "to": ymd(TODAY)},
                headers=credentials(server),
                timeout=TIMEOUT,
            )
            assert response.status_code == 200
    assert server.status()["max_in_flight"] == {"EMU-ACCT-0001": 1}


# Campaigns


def test_campaigns_are_unsorted_and_typed_like_the_vendor_example(server: EmulatorServer) -> None:
    body = {"from": ymd(TODAY - timedelta(days=30)), "to": ymd(TODAY)}
    targets = post(server, CAMPAIGNS, body).json()["targets"]
    assert len(targets) > 50
    assert [t["scheduled_on"] for t in targets] != sorted(t["scheduled_on"] for t in targets)
    assert [t["id"] for t in targets] != sorted(t["id"] for t in targets)
    for target in targets:
        assert set(target) == {"id", "name", "scheduled_on", "status"}
        assert isinstance(target["scheduled_on"], int)
        assert len(str(target["scheduled_on"])) == 12
        assert target["status"] in {
            "scheduled",
            "pending",
            "running",
            "paused",
            "stopped",
            "completed",
        }


def test_campaign_statuses_move_on_and_future_lists_grow(server: EmulatorServer) -> None:
    window = (TODAY - timedelta(days=5), TODAY + timedelta(days=10))
    before = {c["id"]: c for c in server.truth("campaigns", *window)}
    control(server, "POST", "advance", json={"days": 12})
    after = {c["id"]: c for c in server.truth("campaigns", *window)}

    assert set(before) < set(after)  # campaigns created since, scheduled in the window
    assert {
        c["status"]
        for c in before.values()
        if c["scheduled_on"] > ymd(TODAY + timedelta(days=1)) * 10**4
    } <= {
        "scheduled",
        "pending",
    }
    changed = [i for i in before if before[i]["status"] != after[i]["status"]]
    assert len(changed) > len(before) // 3
    assert {"completed", "stopped", "running"} <= {c["status"] for c in after.values()}


def test_campaigns_equal_the_truth(server: EmulatorServer) -> None:
    start, end = TODAY - timedelta(days=25), TODAY + timedelta(days=5)
    for index, account_id in enumerate(("EMU-ACCT-0001", "EMU-ACCT-0002")):
        body = {"from": ymd(start), "to": ymd(end)}
        targets = post(server, CAMPAIGNS, body, index=index).json()["targets"]
        truth = control(
            server,
            "GET",
            "truth",
            params={
                "stream": "campaigns",
                "from": start.isoformat(),
                "to": end.isoformat(),
                "account": account_id,
            },
        )
        assert truth["count"] == len(truth["records"]) == len(targets)
        # The API's fields as sent; the truth adds the scheduled instant (checked below).
        expected = sorted(
            ({k: v for k, v in r.items() if k != "scheduled_at"} for r in truth["records"]),
            key=lambda r: r["id"],
        )
        assert (
            sorted(({"account_id": account_id} | t for t in targets), key=lambda r: r["id"])
            == expected
        )


# Message reports


def reports(
    server: EmulatorServer, start: date, end: date, index: int = 0, **filters: list[str] | bool
) -> list[dict[str, Any]]:
    body = {"from": f"{start:%Y%m%d}", "to": f"{end:%Y%m%d}", **filters}
    response = post(server, REPORTS, body, index=index)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["total_results"] == len(payload["messages"])
    messages: list[dict[str, Any]] = payload["messages"]
    return messages


def test_messages_look_like_the_vendor_example_in_both_date_formats(server: EmulatorServer) -> None:
    messages = reports(server, TODAY - timedelta(days=30), TODAY)
    assert len(messages) > 50
    ids = [m["message id"] for m in messages]
    assert ids != sorted(ids)
    formats = {"short": 0, "long": 0}
    for message in messages:
        assert set(message) == {
            "message id", "data", "start_date", "device", "conversion_event",
            "labels", "status", "channel", "message_name", "delivery",
        }  # fmt: skip
        assert len(message["data"]) == 1
        assert set(message["data"][0]) == {"sent", "viewed", "clicked"}
        assert (
            message["data"][0]["sent"]
            >= message["data"][0]["viewed"]
            >= message["data"][0]["clicked"]
        )
        assert message["status"] in {"running", "completed", "stopped"}
        assert message["channel"][0].isupper()
        formats["short"] += bool(SHORT_FORMAT.match(message["start_date"]))
        formats["long"] += bool(LONG_FORMAT.match(message["start_date"]))
    assert formats["short"] > 0
    assert formats["long"] > 0
    assert formats["short"] + formats["long"] == len(messages)


def test_messages_match_by_start_day_only(server: EmulatorServer) -> None:
    window = reports(server, TODAY - timedelta(days=5), TODAY)
    by_day = [
        reports(server, TODAY - timedelta(days=d), TODAY - timedelta(days=d)) for d in range(6)
    ]
    assert sorted(m["message id"] for m in window) == sorted(
        m["message id"] for day in by_day for m in day
    )
    # Still running but started before the window: not in a later window.
    running_earlier = {m["message id"] for m in by_day[5] if m["status"] == "running"}
    assert running_earlier
    assert not running_earlier & {
        m["message id"] for m in reports(server, TODAY - timedelta(days=2), TODAY)
    }
    assert reports(server, TODAY + timedelta(days=1), TODAY + timedelta(days=5)) == []


def test_filters_use_lower_case_api_values(server: EmulatorServer) -> None:
    start = TODAY - timedelta(days=20)
    everything = reports(server, start, TODAY)
    inapp = reports(server, start, TODAY, channel=["inapp", "sms"])
    assert inapp
    assert {m["channel"] for m in inapp} == {"InApp", "SMS"}
    assert len(inapp) == sum(m["channel"] in {"InApp", "SMS"} for m in everything)
    assert {m["delivery"] for m in reports(server, start, TODAY, delivery=["one_time"])} == {
        "One time"
    }
    assert {m["status"] for m in reports(server, start, TODAY, status=["running"])} == {"running"}
    promo = reports(server, start, TODAY, label=["promo"])
    assert promo
    assert all("Promo" in m["labels"] for m in promo)
    by_type = [
        reports(server, start, TODAY, message_type=[t])
        for t in ("single", "ab", "message_on_user_property")
    ]
    assert sum(len(found) for found in by_type) == len(everything)
    assert len(by_type[0]) > len(by_type[1]) > 0


def test_daily_gives_one_element_per_day_run_so_far(server: EmulatorServer) -> None:
    aggregate = {m["message id"]: m for m in reports(server, TODAY - timedelta(days=6), TODAY)}
    daily = reports(server, TODAY - timedelta(days=6), TODAY, daily=True)
    for message in daily:
        days = [element["date"] for element in message["data"]]
        assert days == sorted(days)
        assert days[-1] <= f"{TODAY:%Y%m%d}"
        if message["status"] == "running":
            assert days[-1] == f"{TODAY:%Y%m%d}"
        totals = aggregate[message["message id"]]["data"][0]
        for figure in ("sent", "viewed", "clicked"):
            assert sum(element[figure] for element in message["data"]) == totals[figure]


def test_figures_grow_and_statuses_end_after_advance(server: EmulatorServer) -> None:
    start = TODAY - timedelta(days=3)
    before = {m["message id"]: m for m in reports(server, start, TODAY)}
    status = control(server, "POST", "advance", json={"days": 1})
    assert status["today"] == (TODAY + timedelta(days=1)).isoformat()
    after = {m["message id"]: m for m in reports(server, start, TODAY)}

    assert set(before) == set(after)
    running = [i for i in before if before[i]["status"] == "running"]
    assert running
    grew = [i for i in running if after[i]["data"][0]["sent"] > before[i]["data"][0]["sent"]]
    assert grew
    for i in before:
        for figure in ("sent", "viewed", "clicked"):
            assert after[i]["data"][0][figure] >= before[i]["data"][0][figure]
    control(server, "POST", "advance", json={"days": 30})
    final = reports(server, start, TODAY)
    assert {m["status"] for m in final} <= {"completed", "stopped"}


def as_truth(account_id: str, message: dict[str, Any]) -> dict[str, Any]:
    names = ("message_name", "channel", "delivery", "status", "start_date")
    return {
        "account_id": account_id,
        "message_id": message["message id"],
        **{name: message[name] for name in names},
        **message["data"][0],
    }


def test_message_truth_equals_a_full_range_request(server: EmulatorServer) -> None:
    start = TODAY - timedelta(days=40)
    truth = control(
        server,
        "GET",
        "truth",
        params={"stream": "message_reports", "from": start.isoformat(), "to": TODAY.isoformat()},
    )
    records = [
        as_truth(account_id, message)
        for index, account_id in enumerate(("EMU-ACCT-0001", "EMU-ACCT-0002"))
        for message in reports(server, start, TODAY, index=index)
    ]
    key = itemgetter("account_id", "message_id")
    assert truth["count"] == len(records) > 100
    sent = [{k: v for k, v in r.items() if k != "started_at"} for r in truth["records"]]
    assert sorted(sent, key=key) == sorted(records, key=key)


def test_the_truth_gives_scheduled_and_start_instants_in_utc(server: EmulatorServer) -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # the second account's zone
    params = {"from": (TODAY - timedelta(days=20)).isoformat(), "to": TODAY.isoformat()}
    campaigns = control(
        server, "GET", "truth", params={**params, "stream": "campaigns", "account": "EMU-ACCT-0002"}
    )["records"]
    for campaign in campaigns:
        local = datetime.strptime(str(campaign["scheduled_on"]), "%Y%m%d%H%M")  # noqa: DTZ007
        expected = local.replace(tzinfo=kolkata).astimezone(timezone.utc)
        assert campaign["scheduled_at"] == expected.isoformat()
    messages = control(
        server,
        "GET",
        "truth",
        params={**params, "stream": "message_reports", "account": "EMU-ACCT-0002"},
    )["records"]
    assert messages
    for message in messages:
        started = datetime.fromisoformat(message["started_at"])
        assert started.utcoffset() == timedelta(0)
        assert started.astimezone(kolkata).strftime("%b") in message["start_date"]


# Faults


def test_each_scripted_fault_is_observable(server: EmulatorServer) -> None:
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    plan = {
        "script": [
            *("429", "500", "503", "drop", "truncate", "malformed", "slow", "ok"),
            *("200-429", "200-500", "200-range"),
        ],
        "slow_seconds": 0.3,
    }
    assert control(server, "POST", "faults", json=plan)["script"] == plan["script"]

    limited = post(server, CAMPAIGNS, body)
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert post(server, CAMPAIGNS, body).status_code == 500
    assert post(server, CAMPAIGNS, body).status_code == 503
    with pytest.raises(requests.ConnectionError):
        post(server, CAMPAIGNS, body)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        post(server, CAMPAIGNS, body)
    malformed = post(server, CAMPAIGNS, body)
    assert malformed.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        malformed.json()
    started = time.monotonic()
    assert post(server, CAMPAIGNS, body).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert post(server, CAMPAIGNS, body).status_code == 200
    for code, error in ((429, "Rate limit exceeded"), (500, "Internal server error")):
        failed = post(server, CAMPAIGNS, body)
        assert (failed.status_code, failed.json()) == (
            200,
            {"status": "fail", "error": error, "code": code},
        )
    refused = post(server, CAMPAIGNS, body)
    assert (refused.status_code, refused.json()["error"]) == (200, "Invalid date range")

    injected = control(server, "GET", "status")["faults_injected"]
    assert injected == dict.fromkeys(FAULT_KINDS, 1)


def test_slow_fault_trips_a_client_timeout(server: EmulatorServer) -> None:
    server.faults = FaultPlan(script=["slow"], slow_seconds=1)
    with pytest.raises(requests.Timeout):
        post(server, CAMPAIGNS, {"from": ymd(TODAY), "to": ymd(TODAY)}, timeout=0.2)


def test_injected_429_can_carry_retry_after(server: EmulatorServer) -> None:
    control(server, "POST", "faults", json={"script": ["429"], "retry_after": 2})
    response = post(server, REPORTS, {"from": ymd(TODAY), "to": ymd(TODAY)})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"] == "Rate limit exceeded"


def test_control_paths_are_never_faulted_and_empty_plan_clears(server: EmulatorServer) -> None:
    control(server, "POST", "faults", json={"script": ["500", "500"], "latency_ms": 2000})
    started = time.monotonic()
    assert control(server, "GET", "faults")["script"] == ["500", "500"]
    assert time.monotonic() - started < 1
    assert control(server, "POST", "faults", json={})["script"] == []
    assert post(server, CAMPAIGNS, {"from": ymd(TODAY), "to": ymd(TODAY)}).status_code == 200


def test_plan_for_another_vendor_leaves_clevertap_alone(server: EmulatorServer) -> None:
    server.faults = FaultPlan(script=["500"], vendors=["messangi"])
    assert post(server, CAMPAIGNS, {"from": ymd(TODAY), "to": ymd(TODAY)}).status_code == 200
    assert server.faults.script == ["500"]


def test_fault_rates_are_deterministic_for_a_seed() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan(rates={"500": 0.3, "drop": 0.2}, seed=seed)
        return [plan.next_fault("clevertap") for _ in range(200)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    counts = {kind: draws(1).count(kind) for kind in ("500", "drop", None)}
    assert 40 < counts["500"] < 80
    assert 20 < counts["drop"] < 60


def test_a_plan_limited_to_a_stream_leaves_the_other_stream_of_its_vendor_alone(
    server: EmulatorServer,
) -> None:
    server.faults = FaultPlan(script=["500"], streams=["message_reports"])
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    assert post(server, CAMPAIGNS, body).status_code == 200
    assert post(server, REPORTS, body).status_code == 500
    assert post(server, REPORTS, body).status_code == 200


def test_the_first_plan_that_applies_decides(server: EmulatorServer) -> None:
    control(
        server,
        "POST",
        "faults",
        json={
            "plans": [
                {"streams": ["campaigns"], "script": ["503"]},
                {"vendors": ["clevertap"], "script": ["429", "429"], "retry_after": 3},
            ]
        },
    )
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    assert post(server, CAMPAIGNS, body).status_code == 503
    assert post(server, CAMPAIGNS, body).status_code == 200  # its plan's script is used up
    limited = post(server, REPORTS, body)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    scripts = [plan["script"] for plan in control(server, "GET", "faults")["plans"]]
    assert scripts == [[], ["429"]]


def test_every_request_is_logged_once_and_the_log_is_the_only_count(server: EmulatorServer) -> None:
    body = {"from": ymd(TODAY), "to": ymd(TODAY)}
    server.faults = FaultPlan(script=["drop", "429"], retry_after=2)
    with pytest.raises(requests.ConnectionError):
        post(server, REPORTS, body)
    assert post(server, REPORTS, body).status_code == 429
    server.faults = FaultPlan(script=["500"])  # a new plan: what was injected stays counted
    assert post(server, REPORTS, body).status_code == 500
    assert post(server, REPORTS, body).status_code == 200
    assert post(server, REPORTS, body, index=1).status_code == 200
    assert post(server, CAMPAIGNS, body).status_code == 200

    log = server.request_log()
    assert [(e.stream, e.fault, e.retry_after, e.status) for e in log] == [
        ("message_reports", "drop", None, None),
        ("message_reports", "429", 2, 429),
        ("message_reports", "500", None, 500),
        ("message_reports", None, None, 200),
        ("message_reports", None, None, 200),
        ("campaigns", None, None, 200),
    ]
    assert len({e.resource for e in log[:4]}) == 1  # a retry asks for the same resource
    assert log[4].resource != log[0].resource  # the same body for another account does not
    assert log[5].resource != log[0].resource
    assert all(a.arrived <= b.arrived for a, b in itertools.pairwise(log))
    status = server.status()
    assert status["requests"] == {"clevertap": 6, "messangi": 0, "moengage": 0}
    assert status["faults_injected"] == {"drop": 1, "429": 1, "500": 1}
    assert "injected" not in server.faults.to_dict()


def test_issued_secrets_are_every_passcode_without_showing_them_in_names(
    server: EmulatorServer,
) -> None:
    secrets = server.issued_secrets()
    passcodes = {a["passcode"] for a in server.tap_config()["clevertap_accounts"]}
    assert passcodes <= secrets.keys()
    assert server.messangi.api_key in secrets
    assert server.moengage.secret_key in secrets
    assert not any(secret in what for secret in secrets for what in secrets.values())


@pytest.mark.parametrize(
    "plan",
    [
        {"rates": {"418": 0.1}},
        {"rates": {"500": 0.7, "503": 0.7}},
        {"script": ["boom"]},
        {"nope": 1},
        {"plans": {"rates": {}}},
        {"plans": [{"rates": {}}], "seed": 3},
        {"plans": ["500"]},
        {"plans": [{"streams": "campaigns"}]},
    ],
)
def test_invalid_fault_plan_is_refused(server: EmulatorServer, plan: dict[str, Any]) -> None:
    response = requests.post(server.url + "/_emulator/faults", json=plan, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "error" in response.json()


# Control endpoints


def test_status_config_and_unknown_paths(server: EmulatorServer) -> None:
    post(server, CAMPAIGNS, {"from": ymd(TODAY), "to": ymd(TODAY)})
    status = control(server, "GET", "status")
    assert status == {
        "today": TODAY.isoformat(),
        "seed": 7,
        "scale": 5,
        "requests": {"clevertap": 1, "messangi": 0, "moengage": 0},
        "faults_injected": {},
        "max_in_flight": {"EMU-ACCT-0001": 1},
    }
    config = control(server, "GET", "config")
    assert config == server.tap_config()
    assert config["start_date"] == (TODAY - timedelta(days=29)).isoformat()
    assert config["end_date"] == TODAY.isoformat()
    assert [a["timezone"] for a in config["clevertap_accounts"]] == ["UTC", "Asia/Kolkata"]
    assert {a["api_url"] for a in config["clevertap_accounts"]} == {server.url}
    assert requests.get(server.url + "/_emulator/nothing", timeout=TIMEOUT).status_code == 404
    assert requests.get(server.url + "/1/unknown.json", timeout=TIMEOUT).status_code == 404
    assert (
        requests.get(
            server.url + CAMPAIGNS, headers=credentials(server), timeout=TIMEOUT
        ).status_code
        == 405
    )


@pytest.mark.parametrize(
    "params",
    [
        {"stream": "nope"},
        {"stream": "campaigns", "from": "yesterday"},
        {"stream": "campaigns", "account": "X"},
    ],
)
def test_bad_truth_query_is_refused(server: EmulatorServer, params: dict[str, str]) -> None:
    response = requests.get(server.url + "/_emulator/truth", params=params, timeout=TIMEOUT)
    assert response.status_code == 400


def test_stop_endpoint_answers_then_stops(server: EmulatorServer) -> None:
    assert control(server, "POST", "stop") == {"stopping": True}
    assert server.wait(TIMEOUT)
    assert server.stop_reason == "control endpoint"


# Lifecycle and CLI


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stops_by_itself_when_idle() -> None:
    emulator = EmulatorServer(World(today=TODAY, scale=1), idle_timeout=0.3).start()
    port = emulator.port
    assert port_is_open(port)
    assert emulator.wait(TIMEOUT)
    assert emulator.stop_reason == "idle timeout"
    assert not port_is_open(port)


def test_stops_by_itself_after_max_lifetime_even_when_busy() -> None:
    emulator = EmulatorServer(
        World(today=TODAY, scale=1), idle_timeout=10, max_lifetime=0.5
    ).start()
    deadline = time.monotonic() + TIMEOUT
    while not emulator.wait(0.05):
        assert time.monotonic() < deadline
        with contextlib.suppress(requests.ConnectionError):  # it may stop during the request
            requests.get(emulator.url + "/_emulator/status", timeout=TIMEOUT)
    assert emulator.stop_reason == "max lifetime"


def test_stop_is_quick_with_an_open_keep_alive_connection(world: World) -> None:
    emulator = EmulatorServer(world).start()
    with requests.Session() as session:
        assert session.get(emulator.url + "/_emulator/status", timeout=TIMEOUT).status_code == 200
        started = time.monotonic()
        emulator.stop()
        assert time.monotonic() - started < 1


def test_cli_takes_several_fault_plans_and_gives_each_the_latency() -> None:
    plans = {"plans": [{"streams": ["campaigns"], "script": ["500"]}, {"vendors": ["messangi"]}]}
    args = build_parser().parse_args(["--faults", json.dumps(plans), "--latency-ms", "5"])
    faults = build_server(args).faults
    assert isinstance(faults, list)  # several plans
    assert [(p.streams, p.vendors, p.script, p.latency_ms) for p in faults] == [
        (["campaigns"], None, ["500"], 5.0),
        (None, ["messangi"], [], 5.0),
    ]


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(host="0.0.0.0")  # noqa: S104 - the point of the test
    assert main(["--host", "0.0.0.0"]) == 2  # noqa: S104


def test_cli_in_process_prints_config_three_ways_and_ends_when_idle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = tmp_path / "config.json"
    args = ["--port", "0", "--seed", "3", "--today", "2024-03-15", "--idle-timeout", "0.3"]
    assert main([*args, "--config-out", str(config_path)]) == 0
    first, rest = capsys.readouterr().out.split("\n", 1)
    assert re.fullmatch(
        r"tap-msgreports-emulator listening on http://127\.0\.0\.1:\d+ "
        r"\(seed 3, today 2024-03-15\)",
        first,
    )
    as_json, as_meltano, as_exports = rest.split("\n\n# ")
    config = json.loads(as_json)
    assert config == json.loads(config_path.read_text())

    commands = [shlex.split(line) for line in as_meltano.splitlines()[1:]]
    assert {tuple(command[:4]) for command in commands} == {
        ("meltano", "config", "set", "tap-msgreports")
    }
    from_meltano = {name: value for *_, name, value in commands}
    assert from_meltano == {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in config.items()
    }

    exports = dict(shlex.split(line)[1].split("=", 1) for line in as_exports.splitlines()[1:])
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    read = parse_environment_config(TapMsgReports.config_jsonschema, "TAP_MSGREPORTS_", tmp_path)
    assert read == config  # what the SDK (and so Meltano's env) makes of the exports


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled_and_exits_zero(sig: signal.Signals) -> None:
    command = [sys.executable, "-m", "tap_msgreports_emulator", "--port", "0", "--seed", "5"]
    with subprocess.Popen(
        [*command, "--max-lifetime", "20"], stdout=subprocess.PIPE, text=True
    ) as process:
        lines: queue.Queue[str] = queue.Queue()
        stdout = process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            first = lines.get(timeout=TIMEOUT)
            listening = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(seed 5, today ", first)
            assert listening is not None
            url = listening.group(1)
            config_lines: list[str] = []
            while not config_lines or config_lines[-1] != "}\n":
                config_lines.append(lines.get(timeout=TIMEOUT))
            config = json.loads("".join(config_lines))
            assert config["clevertap_accounts"][0]["api_url"] == url
            assert requests.get(url + "/_emulator/status", timeout=TIMEOUT).json()["seed"] == 5
            process.send_signal(sig)
            assert process.wait(timeout=TIMEOUT) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            reader.join(TIMEOUT)
