"""Messangi paging and auth header settings: each bad value is one line naming the setting."""

from __future__ import annotations

import typing as t

import pytest

from tap_msgreports.messangi import settings
from tap_msgreports.tap import TapMsgReports
from tests.processes import run_cli

KEY = "k-1234567890abcdef"
MESSANGI = {"messangi_api_url": "https://api.example.com/reporting", "messangi_api_key": KEY}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"messangi_page_size": 0}, "messangi_page_size must be 1 to 100000, got 0"),
        ({"messangi_page_size": -5}, "messangi_page_size must be 1 to 100000, got -5"),
        ({"messangi_page_size": 100_001}, "messangi_page_size must be 1 to 100000"),
        ({"messangi_page_param": ""}, "messangi_page_param must be a query parameter name"),
        ({"messangi_page_param": "page number"}, "messangi_page_param must be a query"),
        ({"messangi_page_param": "from"}, "messangi_page_param must not be a parameter"),
        ({"messangi_page_param": "size"}, "messangi_page_param must not be a parameter"),
        ({"messangi_page_param": "campaignID"}, "messangi_page_param must not be a parameter"),
        ({"messangi_auth_header": ""}, "messangi_auth_header must be an HTTP header name"),
        ({"messangi_auth_header": "X API Key"}, "messangi_auth_header must be an HTTP header"),
        ({"messangi_auth_header": "Authorization:"}, "messangi_auth_header must be an HTTP"),
        ({"messangi_auth_header": "X-Key\n"}, "messangi_auth_header must be an HTTP header"),
        ({"messangi_auth_header": "Host"}, "messangi_auth_header cannot be Host"),
        ({"messangi_auth_header": "content-length"}, "messangi_auth_header cannot be"),
        ({"messangi_auth_scheme": "Bearer token"}, "messangi_auth_scheme must be one word"),
        ({"messangi_auth_scheme": " "}, "messangi_auth_scheme must be one word"),
        ({"messangi_auth_scheme": "Bearer\r\n"}, "messangi_auth_scheme must be one word"),
    ],
)
def test_each_bad_paging_or_header_setting_is_one_line(
    changes: dict[str, t.Any], named: str
) -> None:
    (found,) = TapMsgReports.config_problems({**MESSANGI, **changes})
    assert found.startswith(named), found


@pytest.mark.parametrize(
    "pasted", [f"Authorization: Bearer {KEY}", f"Bearer {KEY}", f"X-Api-Key {KEY}"]
)
def test_a_key_pasted_into_the_header_settings_is_not_shown(pasted: str) -> None:
    for name in ("messangi_auth_header", "messangi_auth_scheme", "messangi_page_param"):
        (found,) = TapMsgReports.config_problems({**MESSANGI, name: pasted})
        assert name in found
        assert KEY not in found


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"messangi_page_size": 1, "messangi_page_param": "pageNumber"},
        {"messangi_page_param": "page[number]", "messangi_page_size": 100_000},
        {"messangi_auth_header": "X-API-Key", "messangi_auth_scheme": ""},
        {"messangi_auth_header": "apikey", "messangi_auth_scheme": "Token"},
        {"messangi_auth_header": None, "messangi_auth_scheme": None, "messangi_page_size": None},
    ],
)
def test_valid_paging_and_header_settings_pass(changes: dict[str, t.Any]) -> None:
    assert TapMsgReports.config_problems({**MESSANGI, **changes}) == []


@pytest.mark.parametrize(
    ("changes", "header"),
    [
        ({}, ("Authorization", f"Bearer {KEY}")),
        ({"messangi_auth_scheme": ""}, ("Authorization", KEY)),
        ({"messangi_auth_header": "X-API-Key", "messangi_auth_scheme": ""}, ("X-API-Key", KEY)),
        ({"messangi_auth_scheme": "Token"}, ("Authorization", f"Token {KEY}")),
        (
            {"messangi_auth_header": None, "messangi_auth_scheme": None},
            ("Authorization", f"Bearer {KEY}"),
        ),
    ],
)
def test_the_key_goes_in_the_configured_header(
    changes: dict[str, t.Any], header: tuple[str, str]
) -> None:
    assert settings.auth_header({**MESSANGI, **changes}) == header


@pytest.mark.slow
def test_a_page_size_of_zero_stops_before_any_request_in_one_line(tmp_path: t.Any) -> None:
    done = run_cli(tmp_path, {**MESSANGI, "messangi_page_size": 0})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "messangi_page_size must be 1 to 100000, got 0" in done.stderr
    assert KEY not in done.stderr + done.stdout
