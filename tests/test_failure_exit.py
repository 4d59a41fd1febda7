"""A partition that fails ends the run at once: fetches of later partitions still in flight
(a long Retry-After, a stalled answer) are abandoned, not waited for."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import typing as t

import pytest

from tests.loopback import Handler, serving
from tests.processes import run_cli

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

REFUSED, BUSY = "ACC-REFUSED", "ACC-BUSY"
#: Without the abandon, the run would wait this long for the busy account's fetch.
LONG_SECONDS = 120
#: The run must end well within this; the process is killed (and the test fails) after it.
EXIT_WITHIN = 10


def two_accounts(busy: str, released: threading.Event) -> Callable[[Handler], None]:
    """CleverTap for two accounts: one refused at once, one whose answer takes for ever:
    ``busy`` says how, ``retry-after`` (503 with ``Retry-After``) or ``stall`` (none)."""

    def answer(handler: Handler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.headers.get("X-CleverTap-Account-Id") == REFUSED:
            reply(handler, 401, {"status": "fail", "error": "Invalid Credentials", "code": 401})
        elif busy == "retry-after":
            reply(handler, 503, {"status": "fail", "error": "busy"}, {"Retry-After": "120"})
        else:
            released.wait(LONG_SECONDS)

    return answer


def reply(
    handler: Handler, status: int, body: object, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(data)


@pytest.mark.parametrize("busy", ["retry-after", "stall"])
def test_a_failed_partition_ends_the_run_without_waiting_for_later_fetches(
    tmp_path: Path, busy: str, attack: Callable[..., t.Any]
) -> None:
    how = {"retry-after": "waits out a 503's Retry-After: 120", "stall": "gets no answer"}
    row = attack(
        "16 (failure)",
        f"account 1 refused while account 2's fetch {how[busy]} (request_timeout 120 s)",
        f"exit within {EXIT_WITHIN} s, status 1, one line naming account 1",
    )
    released = threading.Event()
    with serving(two_accounts(busy, released)) as server:
        config = {
            "clevertap_accounts": [
                {"account_id": REFUSED, "passcode": "refused-passcode-1"},
                {"account_id": BUSY, "passcode": "busy-passcode-22"},
            ],
            "clevertap_api_url": server.url,
            "clevertap_lookahead_days": 0,
            "start_date": "2026-01-01",
            "end_date": "2026-01-02",
            "request_timeout": LONG_SECONDS,
            "backoff_max_seconds": LONG_SECONDS,
            "max_retries": 3,
        }
        started = time.monotonic()
        try:
            done = run_cli(tmp_path, config, timeout=EXIT_WITHIN * 3)
        finally:
            released.set()
        seconds = time.monotonic() - started
    row.observed = f"status {done.returncode} after {seconds:.2f} s"
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"CleverTap refused the credentials of account {REFUSED}" in done.stderr
    assert "Traceback" not in done.stderr
    assert seconds < EXIT_WITHIN, f"exit {seconds:.1f} s after start"
