"""Issue 12 point 7 (and issue 14 item 5): secrets through side doors.

A logging config that gives a logger its own handler, a secret given with the wrong type, a
vendor body that quotes the signature: none of them may show a secret. Every secret these
tests make up is looked for by the session's scan too (``scan_for``), in every output
(``run_cli`` records it).
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from urllib.parse import parse_qs, urlparse

import pytest

from tap_msgreports.redaction import MASK
from tests.conftest import TODAY, tap_config
from tests.loopback import serving
from tests.processes import run_cli
from tests.secret_scan import scan, scan_for

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_msgreports_emulator import EmulatorServer
    from tests.hostile_report import Attack
    from tests.loopback import Handler

    MakeAttack = t.Callable[[str, str, str], Attack]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PASSCODE = "side-door-passcode-7f3a9c51"
MOENGAGE_KEY = "side-door-moengage-key-0042"
NUMBER_PASSCODE = 987654321012345
#: Every line a handler of the logging config writes starts with this.
OWN = "OWN-HANDLER"

scan_for(
    {
        PASSCODE: "CleverTap passcode of a side-door test",
        MOENGAGE_KEY: "MoEngage key of a side-door test",
        str(NUMBER_PASSCODE): "CleverTap passcode given as a number",
    }
)


def real_today() -> dt.date:
    """The tap's today against a loopback server (not the emulator's simulated one)."""
    return dt.datetime.now(dt.timezone.utc).date()


def own_handler_for(tmp_path: Path, logger: str) -> dict[str, str]:
    """``SINGER_SDK_LOG_CONFIG`` giving ``logger`` a handler of its own, at DEBUG.

    Its records do not reach the root logger's handlers (``propagate: false``).
    """
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"own": {"format": f"{OWN} %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "own": {"class": "logging.StreamHandler", "formatter": "own", "level": "DEBUG"},
        },
        "loggers": {logger: {"level": "DEBUG", "handlers": ["own"], "propagate": False}},
    }
    path = tmp_path / "logging.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return {"SINGER_SDK_LOG_CONFIG": str(path)}


def own_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(OWN)]


# ----- logging configs ------------------------------------------------------------------------


def test_urllib3_with_its_own_handler_shows_no_signature(
    attack: MakeAttack, emulator: EmulatorServer, tmp_path: Path
) -> None:
    row = attack(
        "7",
        "SINGER_SDK_LOG_CONFIG gives urllib3 its own handler at DEBUG (signature in the query)",
        "its request lines show Signature=******** and no secret",
    )
    config = tap_config(
        emulator,
        only="moengage",
        start_date=(TODAY - dt.timedelta(days=2)).isoformat(),
        moengage_signature_in="query",
    )
    done = run_cli(tmp_path, config, own_handler_for(tmp_path, "urllib3"))
    lines = [line for line in own_lines(done.stderr) if "Signature=" in line]
    leaks = scan([("run", (done.stdout + done.stderr).encode())], emulator.issued_secrets())
    row.observed = f"{len(lines)} urllib3 lines with a signature, {len(leaks.leaks)} leaked"
    assert done.returncode == 0, done.stderr[-2000:]
    assert lines
    assert all(f"Signature={MASK}" in line for line in lines)
    assert leaks.leaks == ()


def answer_with_the_passcode(handler: Handler) -> None:
    """A CleverTap that quotes the passcode it was sent in its refusal."""
    passcode = handler.headers.get("X-CleverTap-Passcode", "")
    body = {"status": "fail", "error": f"Passcode {passcode} not valid for this account"}
    send_json(handler, 400, body)


def send_json(handler: Handler, status: int, body: dict[str, t.Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def test_the_taps_logger_with_its_own_handler_shows_no_echoed_passcode(
    attack: MakeAttack, tmp_path: Path
) -> None:
    row = attack(
        "7",
        "SINGER_SDK_LOG_CONFIG gives the logger tap-msgreports its own handler; CleverTap "
        "echoes the passcode in a 400 body",
        "the error line on that handler shows the body with the passcode masked",
    )
    with serving(answer_with_the_passcode) as server:
        config = {
            "clevertap_account_id": "ACC-SIDE-DOOR",
            "clevertap_passcode": PASSCODE,
            "clevertap_api_url": server.url,
            "start_date": (real_today() - dt.timedelta(days=2)).isoformat(),
            "max_retries": 0,
        }
        done = run_cli(tmp_path, config, own_handler_for(tmp_path, "tap-msgreports"))
    errors = [line for line in own_lines(done.stderr) if "not valid for this account" in line]
    row.observed = f"status {done.returncode}; " + (errors[0] if errors else "no error line")
    assert done.returncode == 1
    assert errors, done.stderr[-2000:]
    assert PASSCODE not in done.stdout + done.stderr
    assert f"Passcode {MASK} not valid" in errors[0]


# ----- a vendor body quoting the signature ---------------------------------------------------


def answer_with_the_signature(handler: Handler) -> None:
    """A MoEngage that quotes the signature it was sent (as JSON, not ``signature=``)."""
    query = parse_qs(urlparse(handler.path).query)
    signature = handler.headers.get("Signature") or query.get("Signature", [""])[0]
    message = f'no file: "Signature": "{signature.upper()}" was checked'
    body = {"error": {"message": message, "type": "BAD REQUEST"}}  # MoEngage's own envelope
    send_json(handler, 400, body)


@pytest.mark.parametrize(
    "logger", [None, "tap-msgreports.moengage_campaign_rows"], ids=["root", "stream-logger"]
)
def test_a_moengage_body_quoting_the_signature_is_logged_masked(
    attack: MakeAttack, tmp_path: Path, logger: str | None
) -> None:
    where = f"the stream logger {logger} has its own handler" if logger else "default logging"
    row = attack(
        "7",
        f"MoEngage answers 400 with a body quoting the request's signature ({where})",
        "the vendor's message is logged with the signature masked",
    )
    with serving(answer_with_the_signature) as server:
        config = {
            "moengage_app_id": "SIDEDOOR",
            "moengage_secret_key": MOENGAGE_KEY,
            "moengage_api_url": server.url,
            "moengage_reports": ["Daily Push"],
            "start_date": (real_today() - dt.timedelta(days=4)).isoformat(),
            "end_date": (real_today() - dt.timedelta(days=3)).isoformat(),
            "max_retries": 0,
        }
        done = run_cli(tmp_path, config, own_handler_for(tmp_path, logger) if logger else {})
        signatures = {headers.get("Signature", "") for _, headers in server.seen} - {""}
    scan_for(dict.fromkeys(signatures, "MoEngage signature of a side-door test"))
    output = done.stdout + done.stderr
    quoted = [line for line in done.stderr.splitlines() if "was checked" in line]
    shown = quoted[0][quoted[0].find("no file") :] if quoted else "no such line"
    row.observed = f"{len(signatures)} signatures sent; logged: {shown}"
    assert signatures
    assert quoted, done.stderr[-2000:]
    assert all(f'"Signature": "{MASK}"' in line for line in quoted)
    assert not any(s in output.lower() for s in signatures)
    if logger:
        assert all(line.startswith(OWN) for line in quoted)


# ----- secrets of the wrong type in the config ---------------------------------------------

ACCOUNTS = [{"account_id": "ACC-SIDE-DOOR", "passcode": PASSCODE}]
BASE = {"start_date": "2026-01-01", "end_date": "2026-01-02"}
ONE_ACCOUNT = {**BASE, "clevertap_account_id": "ACC-SIDE-DOOR"}


@pytest.mark.parametrize(
    ("what", "config", "said"),
    [
        (
            "a passcode given as a list",
            {**ONE_ACCOUNT, "clevertap_passcode": [PASSCODE]},
            "clevertap_passcode must be a string or null, got an array",
        ),
        (
            "a passcode given as an object",
            {**ONE_ACCOUNT, "clevertap_passcode": {"value": PASSCODE}},
            "clevertap_passcode must be a string or null, got an object",
        ),
        (
            "a passcode given as a number",
            {**ONE_ACCOUNT, "clevertap_passcode": NUMBER_PASSCODE},
            "clevertap_passcode must be a string or null, got a number",
        ),
        (
            "clevertap_accounts given as JSON text (Meltano, bare plugin definition)",
            {**BASE, "clevertap_accounts": json.dumps(ACCOUNTS)},
            "clevertap_accounts must be an array or null, got a string (JSON text of an array",
        ),
        (
            "clevertap_accounts given as malformed JSON text",
            {**BASE, "clevertap_accounts": json.dumps(ACCOUNTS)[:-3]},
            "clevertap_accounts must be an array or null, got a string (not valid JSON)",
        ),
        (
            "an account's passcode given as a list",
            {**BASE, "clevertap_accounts": [{**ACCOUNTS[0], "passcode": [PASSCODE]}]},
            "clevertap_accounts[0].passcode must be a string, got an array",
        ),
        (
            "the passcode pasted into another setting (an enum)",
            {**ONE_ACCOUNT, "clevertap_passcode": PASSCODE, "moengage_signature_in": PASSCODE},
            'moengage_signature_in must be one of "header", "query", "both"',
        ),
        (
            "the passcode pasted into another setting (a time zone)",
            {**ONE_ACCOUNT, "clevertap_passcode": PASSCODE, "clevertap_timezone": PASSCODE},
            f"clevertap_timezone '{MASK}' is not an IANA time zone",
        ),
    ],
    ids=["list", "object", "number", "json-text", "malformed-json", "nested", "enum", "timezone"],
)
def test_a_secret_of_the_wrong_type_is_named_never_shown(
    attack: MakeAttack, tmp_path: Path, what: str, config: dict[str, t.Any], said: str
) -> None:
    row = attack("7", f"config: {what}", "one line naming the setting and the type, status 1")
    done = run_cli(tmp_path, config, arguments=["--discover"])
    output = done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if said in line]
    row.observed = f"status {done.returncode}: " + (said if lines else done.stderr[-300:])
    assert done.returncode == 1
    assert lines, done.stderr[-2000:]
    assert "Traceback" not in output
    assert PASSCODE not in output
    assert str(NUMBER_PASSCODE) not in output


@pytest.mark.parametrize(
    ("what", "variables", "said"),
    [
        (
            "TAP_MSGREPORTS_CLEVERTAP_ACCOUNTS holding malformed JSON with a passcode",
            {"CLEVERTAP_ACCOUNTS": json.dumps(ACCOUNTS)[:-3]},
            "clevertap_accounts must be an array or null, got a string (not valid JSON)",
        ),
        (
            "the passcode pasted into TAP_MSGREPORTS_REQUEST_TIMEOUT (an integer)",
            {"REQUEST_TIMEOUT": PASSCODE},
            "request_timeout must be an integer or null, got a string",
        ),
    ],
    ids=["malformed-json", "integer"],
)
def test_a_secret_in_an_environment_variable_that_does_not_parse_is_never_shown(
    attack: MakeAttack, tmp_path: Path, what: str, variables: dict[str, str], said: str
) -> None:
    row = attack("7", f"--config ENV: {what}", "one line naming the setting and the type")
    env = {f"TAP_MSGREPORTS_{name}": value for name, value in variables.items()}
    config = {**ONE_ACCOUNT, "clevertap_passcode": PASSCODE}
    done = run_cli(tmp_path, config, env, arguments=["--config", "ENV", "--discover"])
    output = done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if said in line]
    row.observed = f"status {done.returncode}: " + (said if lines else done.stderr[-300:])
    assert done.returncode == 1
    assert lines, done.stderr[-2000:]
    assert "Traceback" not in output
    assert PASSCODE not in output
