"""Secrets are found from the config schema and masked in every log record."""

from __future__ import annotations

import io
import json
import logging

from singer_sdk import metrics
from singer_sdk.logging import StructuredFormatter

from tap_msgreports.moengage.files import signature
from tap_msgreports.redaction import ACTIVE, MASK, SecretFilter, install, secret_values
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


# ----- every logger and handler, whatever the logging config --------------------------------

SECRET = "side-door-secret-31415"


class KeepRecords(logging.Handler):
    """A handler that ships records, not text (as a socket or HTTP handler does)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def own_logger(name: str, handler: logging.Handler) -> logging.Logger:
    """A logger with a handler of its own that the root's handlers never see."""
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def failure_with_the_secret() -> ValueError:
    try:
        try:
            raise KeyError(SECRET)  # noqa: TRY301
        except KeyError as inner:
            raise ValueError(f"refused {SECRET}") from inner
    except ValueError as exc:
        return exc


def test_a_handler_attached_after_install_writes_no_secret() -> None:
    install({SECRET})
    text = io.StringIO()
    logger = own_logger("tests.side_door.text", logging.StreamHandler(text))
    logger.warning("passcode %s", SECRET)
    logger.error("failed", exc_info=failure_with_the_secret())
    assert "passcode ********" in text.getvalue()
    assert "refused ********" in text.getvalue()  # the traceback, its cause included
    assert SECRET not in text.getvalue()


def test_a_structured_handler_writes_no_secret_in_its_exception_or_extras() -> None:
    install({SECRET})
    handler = logging.StreamHandler(text := io.StringIO())
    handler.setFormatter(StructuredFormatter())
    logger = own_logger("tests.side_door.json", handler)
    logger.error("failed", exc_info=failure_with_the_secret(), extra={"context": SECRET})
    line = json.loads(text.getvalue())
    assert line["exception"]["message"] == f"refused {MASK}"  # read from exc_info itself
    assert SECRET not in text.getvalue()


def test_a_handler_that_ships_records_gets_them_masked() -> None:
    install({SECRET})
    logger = own_logger("tests.side_door.records", handler := KeepRecords())
    logger.error("passcode %s", SECRET, exc_info=failure_with_the_secret())
    record = handler.records[0]
    assert record.getMessage() == f"passcode {MASK}"
    assert record.exc_text is not None
    assert SECRET not in record.exc_text


def test_a_record_with_nothing_to_mask_keeps_its_arguments() -> None:
    install({SECRET})
    logger = own_logger("tests.side_door.metrics", handler := KeepRecords())
    point = metrics.Point("counter", metrics.Metric.RECORD_COUNT, 3, {"stream": "campaigns"})
    metrics.log(logger, point)
    assert handler.records[0].args == (point,)  # metric filters and formatters read it


def test_a_registered_signature_is_masked_in_either_case_inside_any_hex_run() -> None:
    secret_filter = SecretFilter(set())
    signature = "0123456789abcdef" * 4
    secret_filter.add_signature(signature)
    text = f'{{"Signature": "{signature.upper()}"}} ff{signature}00 {signature[:-1]}'
    assert secret_filter.redact(text) == f'{{"Signature": "{MASK}"}} ff{MASK}00 {signature[:-1]}'


def test_a_computed_signature_is_registered() -> None:
    signed = signature("APP", "Daily_Push_20260101.zip", "moengage-key")
    assert ACTIVE.redact(f"body: {signed.upper()}") == f"body: {MASK}"


def test_secrets_of_any_type_are_found() -> None:
    config = {
        "clevertap_passcode": ["listed-passcode", {"deep": "object-passcode"}],
        "messangi_api_key": 123456789,
        "clevertap_accounts": json.dumps([{"account_id": "A", "passcode": "text-passcode"}]),
    }
    found = secret_values(config, TapMsgReports.config_jsonschema)
    assert {"listed-passcode", "object-passcode", "123456789", "text-passcode"} <= found
