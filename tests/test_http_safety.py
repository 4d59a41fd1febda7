"""Credentials stay with the configured host, and a slow body cannot hold a run forever."""

from __future__ import annotations

import contextlib
import time

import pytest

from tap_msgreports.errors import SourceError
from tests.harness import run_tap
from tests.loopback import Handler, serving

PASSCODE = "passcode-that-must-stay-home"
CLEVERTAP = {
    "clevertap_account_id": "ACC-1",
    "clevertap_passcode": PASSCODE,
    "start_date": "2026-01-19",
    "end_date": "2026-01-19",
    "max_retries": 0,
    "request_timeout": 2,
}


def test_a_redirect_is_not_followed_and_the_passcode_goes_nowhere() -> None:
    def elsewhere(handler: Handler) -> None:
        handler.send_response(200)
        handler.end_headers()

    with serving(elsewhere) as thief:

        def redirect(handler: Handler) -> None:
            handler.send_response(307)
            handler.send_header("Location", f"{thief.url}/stolen?Signature=abc123")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with serving(redirect) as server, pytest.raises(SourceError) as caught:
            run_tap({**CLEVERTAP, "clevertap_api_url": server.url})
    assert thief.seen == []
    message = str(caught.value)
    assert "HTTP 307 redirect to http://127.0.0.1:" in message
    assert "not followed" in message
    assert "abc123" not in message
    assert "/stolen" not in message


def test_a_body_dripping_slower_than_the_timeout_is_cut_off() -> None:
    def drip(handler: Handler) -> None:
        body = b'{"status":"success","targets":[]}' + b" " * 200
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(OSError):  # the tap stops reading: that is the point
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.2)  # each read waits less than request_timeout

    started = time.monotonic()
    with serving(drip) as server, pytest.raises(SourceError, match="still arriving after 2 s"):
        run_tap({**CLEVERTAP, "clevertap_api_url": server.url})
    assert time.monotonic() - started < 15  # the body alone would take 47 s
