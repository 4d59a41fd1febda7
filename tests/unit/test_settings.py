"""Settings validation: every bad value is one line naming the setting, before any request."""

from __future__ import annotations

import typing as t

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import ConfigValidationError

from tap_msgreports import settings as settings_module
from tap_msgreports.moengage import settings as moengage_settings
from tap_msgreports.tap import SOURCES, TapMsgReports
from tests.processes import run_cli

VALID: dict[str, t.Any] = {
    "clevertap_account_id": "ACC-1",
    "clevertap_passcode": "not-a-real-passcode",
    "start_date": "2026-01-01",
    "end_date": "2026-01-31",
}


def problems(**changes: t.Any) -> list[str]:
    return TapMsgReports.config_problems({**VALID, **changes})


def test_a_valid_config_has_no_problem() -> None:
    assert problems() == []
    TapMsgReports(config=VALID)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"clevertap_region": "mars1"}, "clevertap_region"),
        ({"start_date": "2026-02-01"}, "start_date"),
        ({"start_date": "31/01/2026"}, "start_date"),
        ({"clevertap_campaign_window_days": 32}, "clevertap_campaign_window_days"),
        ({"clevertap_campaign_window_days": 0}, "clevertap_campaign_window_days"),
        ({"clevertap_report_window_days": 93}, "clevertap_report_window_days"),
        ({"clevertap_timezone": "Mars/Olympus"}, "clevertap_timezone"),
        ({"clevertap_max_concurrency": 4}, "clevertap_max_concurrency"),
        ({"clevertap_api_url": "ftp://example.com"}, "clevertap_api_url"),
        (
            {"clevertap_accounts": [{"account_id": "B", "passcode": "pw-b1", "api_url": "x"}]},
            "api_url of account B in clevertap_accounts",
        ),
        ({"clevertap_passcode": ""}, "clevertap_passcode"),
        ({"clevertap_lookback_days": -1}, "clevertap_lookback_days"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"clevertap_accounts": [{"account_id": "ACC-1", "passcode": "x-passcode"}]}, "twice"),
        ({"clevertap_passcode": "pasted-passcode\n"}, "clevertap_passcode"),
        ({"clevertap_passcode": " spaced-passcode"}, "clevertap_passcode"),
        ({"clevertap_passcode": "tab\tpasscode"}, "clevertap_passcode"),
        ({"clevertap_account_id": "ACC-1 "}, "clevertap_account_id"),
        ({"start_date": "2999-01-01", "end_date": None}, "start_date"),
        ({"start_date": None, "end_date": "2001-01-01"}, "end_date"),
    ],
)
def test_each_bad_setting_is_named(changes: dict[str, t.Any], named: str) -> None:
    found = problems(**changes)
    assert len(found) == 1, found
    assert named in found[0]
    assert "\n" not in found[0]


def test_a_problem_never_shows_the_credential() -> None:
    for bad in ("pasted-passcode\n", " spaced-passcode", "tab\tpasscode"):
        (found,) = problems(clevertap_passcode=bad)
        assert bad.strip() not in found
        assert "passcode" not in found.replace("clevertap_passcode", "")


def test_a_range_with_one_default_is_refused_only_when_empty_everywhere() -> None:
    assert problems(start_date=None, end_date=None) == []
    assert problems(start_date=None, end_date="2999-01-01") == []  # a future end is allowed
    assert problems(start_date="2001-01-01", end_date=None) == []


def test_no_source_names_the_settings_to_set() -> None:
    (found,) = TapMsgReports.config_problems({})
    assert found.startswith("No source is configured: set ")
    for name in ("clevertap_account_id", "clevertap_passcode", "messangi_api_key"):
        assert name in found


def test_the_tap_refuses_a_bad_config_at_construction() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapMsgReports(config={**VALID, "clevertap_region": "mars1"})
    assert any("clevertap_region" in error for error in caught.value.errors)


#: Every setting the tap declares itself (the SDK's built-ins are the SDK's business).
OUR_SETTINGS = [
    name
    for part in (
        settings_module.COMMON_PROPERTIES,
        *(source.settings.PROPERTIES for source in SOURCES),
    )
    for name in part.to_dict()["properties"]
]
MESSANGI_VALID = {"messangi_api_url": "https://api.example.com", "messangi_api_key": "k-1234567"}
#: Where MoEngage would discover its columns if a fuzzed config turns it on: a closed port.
NOWHERE = {"moengage_api_url": "http://127.0.0.1:9"}
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
ACCOUNT_KEYS = st.sampled_from(["account_id", "passcode", "region", "api_url", "timezone", "x"])
SETTING_VALUES = st.one_of(
    SCALARS,
    st.lists(st.text(max_size=5), max_size=2),
    st.lists(st.dictionaries(ACCOUNT_KEYS, SCALARS, max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=3), SCALARS, max_size=2),
)
#: Bookmarks for every partition, so that planning exercises lookbacks from them.
BOOKMARKS = {
    "bookmarks": {
        stream: {
            "partitions": [
                {"context": context, "replication_key_value": value} for context in contexts
            ]
        }
        for stream, contexts, value in (
            ("campaigns", [{"account_id": "ACC-1"}], "2026-01-20"),
            ("message_reports", [{"account_id": "ACC-1"}], "2026-01-20"),
            ("mlog_items", [{"channel": c} for c in "SEPWR"], "2026-01-20T00:00:00.000Z"),
        )
    }
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(OUR_SETTINGS),
        SETTING_VALUES,
        max_size=4,
    ),
)
def test_any_config_validates_or_fails_with_named_one_line_errors(
    changes: dict[str, t.Any],
) -> None:
    """Refused with one line per problem naming a changed setting, or planned without error."""
    config = {**VALID, **MESSANGI_VALID, **NOWHERE, **changes}
    try:
        tap = TapMsgReports(config=config, state=BOOKMARKS, setup_mapper=False)
    except ConfigValidationError as exc:
        errors = exc.errors
        assert errors
        for error in errors:
            assert "\n" not in error
            assert any(name in error for name in OUR_SETTINGS), error
        # What was changed is named (a change can also leave a related setting missing).
        assert any(name in error for error in errors for name in changes), (errors, changes)
        return
    for stream in tap.streams.values():  # no overflow or crash from any accepted value
        for context in stream.partitions or [{}]:
            stream.plan(context)  # type: ignore[attr-defined]


def test_cli_prints_one_line_and_exits_1(tmp_path: t.Any) -> None:
    done = run_cli(tmp_path, {**VALID, "clevertap_report_window_days": 120})
    assert done.returncode == 1
    assert "clevertap_report_window_days must be 1 to 92 days, got 120" in done.stderr
    assert "Traceback" not in done.stderr
    assert VALID["clevertap_passcode"] not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({}, "No source is configured"),
        ({**VALID, "clevertap_region": "mars1"}, "clevertap_region 'mars1' is unknown"),
    ],
)
def test_discovery_with_a_bad_config_is_one_line_too(
    tmp_path: t.Any, config: dict[str, t.Any], said: str
) -> None:
    done = run_cli(tmp_path, config, arguments=["--discover"])
    assert done.returncode == 1
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "changes",
    [
        {"clevertap_passcode": 987654321},
        {"clevertap_accounts": [{"account_id": "B", "passcode": 987654321}]},
    ],
)
def test_a_secret_of_the_wrong_type_is_refused_without_being_shown(
    tmp_path: t.Any, changes: dict[str, t.Any]
) -> None:
    done = run_cli(tmp_path, {**VALID, **changes})
    assert done.returncode == 1
    assert "must be a string" in done.stderr
    assert "987654321" not in done.stderr + done.stdout


MESSANGI = {"messangi_api_url": "https://api.example.com/reporting", "messangi_api_key": "k-123456"}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"messangi_channels": ["S", "X"]}, "messangi_channels"),
        ({"messangi_channels": []}, "messangi_channels"),
        ({"messangi_window_hours": 92 * 24 + 1}, "messangi_window_hours"),
        ({"messangi_api_key": ""}, "messangi_api_key"),
        ({"messangi_api_key": "pasted-key\n"}, "messangi_api_key"),
        ({"messangi_lookback_days": 10**9}, "messangi_lookback_days"),
        ({"messangi_settle_minutes": 10**9}, "messangi_settle_minutes"),
        ({"messangi_api_url": "not a url"}, "messangi_api_url"),
        ({"messangi_lookback_days": -2}, "messangi_lookback_days"),
        ({"messangi_statuses": ["SENT", ""]}, "messangi_statuses"),
        ({"messangi_statuses": ["  "]}, "messangi_statuses"),
    ],
)
def test_each_bad_messangi_setting_is_named(changes: dict[str, t.Any], named: str) -> None:
    (found,) = TapMsgReports.config_problems({**MESSANGI, **changes})
    assert named in found


def test_messangi_alone_is_a_source() -> None:
    assert TapMsgReports.config_problems(MESSANGI) == []
    names = [stream.name for stream in TapMsgReports(config=MESSANGI).discover_streams()]
    assert names == ["mlog_items"]


def test_number_settings_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAP_MSGREPORTS_CLEVERTAP_ACCOUNT_ID", "ACC-9")
    monkeypatch.setenv("TAP_MSGREPORTS_CLEVERTAP_PASSCODE", "env-passcode")
    monkeypatch.setenv("TAP_MSGREPORTS_BACKOFF_MAX_SECONDS", "5")
    monkeypatch.setenv("TAP_MSGREPORTS_BACKOFF_INITIAL_SECONDS", "0.25")
    tap = TapMsgReports(config={}, parse_env_config=True)
    assert tap.config["backoff_max_seconds"] == 5.0
    assert tap.config["backoff_initial_seconds"] == 0.25


MOENGAGE = {
    "moengage_app_id": "APP123",
    "moengage_secret_key": "s-1234567890",
    "moengage_reports": ["Daily Push Report"],
}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"moengage_reports": []}, "moengage_reports"),
        ({"moengage_reports": ["Push/Daily"]}, "moengage_reports"),
        ({"moengage_reports": ["A", "A"]}, "moengage_reports"),
        ({"moengage_secret_key": ""}, "moengage_secret_key"),
        ({"moengage_api_url": "api.example.com"}, "moengage_api_url"),
        ({"moengage_max_file_mb": 0}, "moengage_max_file_mb"),
        ({"moengage_max_file_mb": 10**12}, "moengage_max_file_mb"),
        ({"moengage_secret_key": "pasted-secret\n"}, "moengage_secret_key"),
        ({"moengage_app_id": " APP1"}, "moengage_app_id"),
    ],
)
def test_each_bad_moengage_setting_is_named(changes: dict[str, t.Any], named: str) -> None:
    (found,) = TapMsgReports.config_problems({**MOENGAGE, **changes})
    assert named in found


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("moengage_data_center", "07"),
        ("moengage_data_center", "1"),
        ("moengage_signature_in", "body"),
        ("moengage_auth", "basic"),
        ("moengage_auth", "Signature"),
    ],
)
def test_moengage_choices_are_checked_before_any_request(
    setting: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_request(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(requests.Session, "send", no_request)
    with pytest.raises(ConfigValidationError) as caught:
        TapMsgReports(config={**MOENGAGE, setting: value})
    assert any(setting in error for error in caught.value.errors)


@pytest.mark.parametrize("center", ["01", "02", "03", "04", "05", "06", "101"])
def test_each_data_center_is_its_own_host(center: str) -> None:
    config = {**MOENGAGE, "moengage_data_center": center}
    assert moengage_settings.base_url(config) == f"https://api-{center}.moengage.com"
    assert TapMsgReports.config_problems(config) == []
    # moengage_api_url wins over the data center.
    assert moengage_settings.base_url({**config, "moengage_api_url": "https://x.test/"}) == (
        "https://x.test"
    )


@pytest.mark.parametrize("cap", [0, -1, 65, 1000])
def test_a_global_cap_out_of_range_is_one_line_naming_it(cap: int) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapMsgReports(config={**VALID, "max_requests_in_flight": cap})
    assert caught.value.errors == [f"max_requests_in_flight must be 1 to 64, got {cap}"]


@pytest.mark.parametrize("cap", [1, 16, 64])
def test_a_global_cap_in_range_is_taken(cap: int) -> None:
    TapMsgReports(config={**VALID, "max_requests_in_flight": cap})
