"""Secrets are found from the config schema and masked in every log record."""

from __future__ import annotations

import logging

from tap_msgreports.redaction import MASK, SecretFilter, secret_values
from tap_msgreports.tap import TapMsgReports


def test_secret_values_include_nested_account_passcodes() -> None:
    config = {
        "clevertap_account_id": "ACC-1",
        "clevertap_passcode": "first-passcode",
        "clevertap_accounts": [{"account_id": "ACC-2", "passcode": "second-passcode"}],
    }
    found = secret_values(config, TapMsgReports.config_jsonschema)
    assert found == {"first-passcode", "second-passcode"}


def test_secrets_are_also_masked_trimmed_and_as_repr_quotes_them() -> None:
    config = {"clevertap_account_id": "ACC-1", "clevertap_passcode": "pasted-passcode\n"}
    found = secret_values(config, TapMsgReports.config_jsonschema)
    secret_filter = SecretFilter(found)
    # What requests says of a header it refuses, and a trimmed copy of the value.
    text = "Invalid return character(s) in header value: 'pasted-passcode\\n'; pasted-passcode"
    assert "pasted-passcode" not in secret_filter.redact(text)


def test_filter_masks_message_arguments_and_traceback() -> None:
    secret_filter = SecretFilter({"hunter2-secret"})
    try:
        raise ValueError("bad hunter2-secret")  # noqa: TRY301
    except ValueError as exc:
        record = logging.LogRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "got %s",
            ("hunter2-secret",),
            (type(exc), exc, exc.__traceback__),
        )
    assert secret_filter.filter(record)
    assert record.getMessage() == f"got {MASK}"
    assert record.exc_text is not None
    assert "hunter2-secret" not in record.exc_text


def test_signatures_in_query_strings_are_masked() -> None:
    secret_filter = SecretFilter(set())
    record = logging.LogRecord(
        "urllib3",
        logging.DEBUG,
        __file__,
        1,
        '"GET /x/A_20260101.zip?Signature=%s HTTP/1.1" 200',
        ("ab12" * 16,),
        None,
    )
    secret_filter.filter(record)
    assert "ab12" not in record.getMessage()
    assert f"Signature={MASK}" in record.getMessage()
