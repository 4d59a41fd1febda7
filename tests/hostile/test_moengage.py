"""MoEngage in a hostile world: foreign 4xx, stalled and short bodies, bombs, wide ZIPs, app ids.

Each test answers the tap from a small loopback server (``tests/loopback.py``) and records
what it saw in the hostile-world table (``attack`` fixture). The server answers the clock's
question of ``tests/clock.py`` with a 404, so the tap's today is the real one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
import resource
import shutil
import struct
import sys
import time
import typing as t
import zipfile
import zlib
from pathlib import Path

import pytest
import urllib3

from tap_msgreports.errors import SourceError
from tap_msgreports.moengage.columns import FIXED_COLUMNS as FIXED
from tap_msgreports.tap import TapMsgReports
from tests.harness import parse_messages
from tests.loopback import Handler, serving
from tests.processes import TAP, run_cli, run_recorded, write_config

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.hostile_report import Attack

TODAY = dt.datetime.now(dt.timezone.utc).date()
APP_ID = "APP1234"
KEY = "report-key-that-stays-home"
REPORT = "Daily Push"
CSV = b"Campaign Name,Sent\r\nA,1\r\nB,2\r\n"


def config(url: str, **changes: t.Any) -> dict[str, t.Any]:
    """MoEngage only, at ``url``, two days back, one try, short timeouts."""
    return {
        "moengage_app_id": APP_ID,
        "moengage_secret_key": KEY,
        "moengage_api_url": url,
        "moengage_reports": [REPORT],
        "start_date": (TODAY - dt.timedelta(days=2)).isoformat(),
        "request_timeout": 2,
        "max_retries": 0,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        **changes,
    }


def files_only(answer: Callable[[Handler], None]) -> Callable[[Handler], None]:
    """``answer`` for file downloads; a 404 for anything else (the tests' clock asks)."""

    def answer_files(handler: Handler) -> None:
        if handler.path.startswith("/campaign_reports/rest_api/"):
            answer(handler)
            return
        reply(handler, 404, b"", "text/plain")

    return answer_files


def reply(handler: Handler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(body)


def sync(tap_config: dict[str, t.Any]) -> tuple[str, BaseException | None]:
    """Run the tap in this process: what it wrote, and the error it ended with."""
    out = io.StringIO()
    failure: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            TapMsgReports(config=tap_config).sync_all()
        except SourceError as exc:
            failure = exc
    return out.getvalue(), failure


def bookmarks(output: str) -> list[str]:
    """Every bookmark value the STATE messages of ``output`` hold."""
    found = []
    for state in parse_messages(output).states:
        streams = state.get("bookmarks", {}).get("moengage_campaign_rows", {})
        found += [p.get("replication_key_value") for p in streams.get("partitions", [])]
    return [value for value in found if value]


# ----- point 2: a 4xx that is not MoEngage's "no file" ----------------------------------------

VENDOR_NO_FILE = json.dumps(
    {
        "error": {
            "attribute": "",
            "message": "Invalid Report file name",
            "type": "BAD REQUEST",
            "request_id": "",
        }
    }
).encode()
FOREIGN_ANSWERS = {
    "404 HTML page": (404, b"<html><body>Not Found</body></html>", "text/html", "an HTML page"),
    "400 HTML page": (400, b"<html>Bad Request</html>", "text/html", "an HTML page"),
    "400 other JSON": (400, b'{"message": "bad"}', "application/json", "a JSON body"),
    "410 vendor-like body": (410, VENDOR_NO_FILE, "application/json", "a JSON body"),
}


def no_file(handler: Handler) -> None:
    """MoEngage's own answer for a file that is not there."""
    reply(handler, 400, VENDOR_NO_FILE, "application/json")


@pytest.mark.parametrize("case", FOREIGN_ANSWERS)
def test_a_4xx_that_is_not_moengages_own_stops_the_run_with_origin_and_status(
    attack: Callable[..., Attack], tmp_path: Path, case: str
) -> None:
    status, body, content_type, kind = FOREIGN_ANSWERS[case]
    row = attack(
        "2",
        f"MoEngage files answered by a {case} (a wrong moengage_api_url, a proxy)",
        "run stops: origin and status named, no path or query, bookmark unmoved, exit 1",
    )
    with serving(files_only(lambda h: reply(h, status, body, content_type))) as server:
        done = run_cli(tmp_path, config(server.url, moengage_signature_in="query"))
    errors = [line for line in done.stderr.splitlines() if f"HTTP {status} from" in line]
    said = errors[-1][errors[-1].find(f"HTTP {status}") :] if errors else "no such line"
    row.observed = f"exit {done.returncode}; {said}"
    assert done.returncode == 1
    assert errors, done.stderr[-2000:]
    line = errors[-1]
    assert re.search(rf"HTTP {status} from http://127\.0\.0\.1:\d+ \({kind}", line)
    assert "check moengage_api_url" in line
    assert "/campaign_reports" not in line
    assert "Signature" not in line
    assert "skipped" not in done.stderr
    assert bookmarks(done.stdout) == []
    # Discovery's probe (best effort) says the same instead of "no file in the last 7 days".
    assert f"no columns learnt at discovery (HTTP {status} from http://127.0.0.1:" in done.stderr


def test_moengages_own_400_is_still_no_file_or_not_yet(
    attack: Callable[..., Attack], caplog: pytest.LogCaptureFixture
) -> None:
    row = attack(
        "2",
        "MoEngage's own 400 (vendor envelope) for old dates, today and yesterday",
        "old dates skipped with a warning, today and yesterday left for the next run, rc 0",
    )
    with serving(files_only(no_file)) as server, caplog.at_level(logging.INFO):
        start = (TODAY - dt.timedelta(days=4)).isoformat()
        output, failure = sync(config(server.url, start_date=start))
    row.observed = f"error: {failure}; bookmarks: {bookmarks(output)}"
    assert failure is None
    assert "no file Daily_Push_" in caplog.text
    assert "is not generated yet" in caplog.text
    assert bookmarks(output)[-1] == (TODAY - dt.timedelta(days=2)).isoformat()


# ----- point 4: a body that never ends --------------------------------------------------------

DRIP_SECONDS = 20  # the server gives up by then: unfixed, the tests end (and fail) too


def dripping(stop_at: float) -> Callable[[Handler], None]:
    """A 200 that declares a large file and sends a byte every 0.3 s until ``stop_at``."""

    def drip(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/gzip")
        handler.send_header("Content-Length", str(10 << 20))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(b"PK\x03\x04")
            while time.monotonic() < stop_at:
                handler.wfile.write(b"\x00")
                handler.wfile.flush()
                time.sleep(0.3)  # each read waits less than request_timeout

    return drip


def test_a_stalled_probe_ends_soon_after_request_timeout(
    attack: Callable[..., Attack], caplog: pytest.LogCaptureFixture
) -> None:
    row = attack(
        "4",
        "discovery's probe of a file that drips a byte every 0.3 s (request_timeout 2)",
        "the probe gives up within a few seconds, discovery goes on with a warning",
    )
    with serving(files_only(dripping(time.monotonic() + DRIP_SECONDS))) as server:
        started = time.monotonic()
        TapMsgReports(config=config(server.url))
        seconds = time.monotonic() - started
    row.observed = f"discovery ended after {seconds:.1f} s"
    assert seconds < 8
    assert "no columns learnt at discovery (gave up after 1 tries" in caplog.text
    assert "still arriving after 2 s, past its deadline" in caplog.text


def test_a_stalled_download_ends_as_a_timeout_and_is_retried(
    attack: Callable[..., Attack], caplog: pytest.LogCaptureFixture
) -> None:
    row = attack(
        "4",
        "a sync whose file drips a byte every 0.3 s (request_timeout 2, max_retries 1)",
        "each try ends soon after request_timeout, is retried as a timeout, then the run stops",
    )
    with serving(files_only(no_file)) as server:
        tap_config = config(server.url, max_retries=1, start_date=TODAY.isoformat())
        catalog = TapMsgReports(config=tap_config).catalog_dict  # the probe has its own test
        server.answer = files_only(dripping(time.monotonic() + 2 * DRIP_SECONDS))
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SourceError) as caught:
            TapMsgReports(config=tap_config, catalog=catalog).sync_all()
        seconds = time.monotonic() - started
    row.observed = f"stopped after {seconds:.1f} s: {str(caught.value)[-120:]}"
    assert seconds < 12
    assert "gave up after 2 tries" in str(caught.value)
    assert "still arriving after 2 s, past its deadline" in str(caught.value)
    assert "try 1 failed" in caplog.text


# ----- point 9: an app id that leaves the report path -----------------------------------------


@pytest.mark.parametrize("app_id", ["APP1/../../other", "APP1?x=", "APP1#frag", "APP 1"])
def test_an_app_id_that_would_leave_the_report_path_is_refused_before_any_request(
    attack: Callable[..., Attack], tmp_path: Path, app_id: str
) -> None:
    row = attack(
        "9",
        f"moengage_app_id {app_id!r}: a signed request would leave /rest_api/{{app_id}}/",
        "config refused in one line naming moengage_app_id, no request sent, exit 1",
    )
    with serving(files_only(no_file)) as server:
        done = run_cli(tmp_path, config(server.url, moengage_app_id=app_id))
    files_asked = [path for path, _ in server.seen if not path.startswith("/_emulator")]
    lines = [line for line in done.stderr.splitlines() if "moengage_app_id has" in line]
    row.observed = f"exit {done.returncode}, {len(files_asked)} requests; " + (
        lines[0][lines[0].find("moengage_app_id") :] if lines else "no line names it"
    )
    assert done.returncode == 1
    assert lines, done.stderr[-1500:]
    assert files_asked == []


# ----- point 11: a plain CSV body shorter than its Content-Length ------------------------------


@pytest.fixture(params=["urllib3 enforcing Content-Length", "urllib3 not enforcing it"])
def enforcement(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Whether urllib3 checks Content-Length itself: the tap must not depend on it."""
    if request.param.endswith("not enforcing it"):
        real = urllib3.response.HTTPResponse.__init__

        def lax(self: urllib3.response.HTTPResponse, *args: t.Any, **kwargs: t.Any) -> None:
            real(self, *args, **{**kwargs, "enforce_content_length": False})

        monkeypatch.setattr(urllib3.response.HTTPResponse, "__init__", lax)
    return str(request.param)


def short_body(body: bytes) -> Callable[[Handler], None]:
    """A 200 that declares 500 bytes more than it sends, then closes the connection."""

    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/gzip")
        handler.send_header("Content-Length", str(len(body) + 500))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)
        handler.close_connection = True

    return answer


def test_a_short_plain_csv_download_is_retried_never_read_as_whole(
    attack: Callable[..., Attack], enforcement: str
) -> None:
    row = attack(
        "11",
        f"a plain CSV file 500 bytes shorter than its Content-Length ({enforcement})",
        "each try fails as broken mid-body, the run stops, no row written, bookmark unmoved",
    )
    with serving(files_only(no_file)) as server:
        tap_config = config(server.url, max_retries=1, start_date=TODAY.isoformat())
        catalog = TapMsgReports(config=tap_config).catalog_dict
        server.answer = files_only(short_body(CSV))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SourceError) as caught:
            TapMsgReports(config=tap_config, catalog=catalog).sync_all()
    run = parse_messages(out.getvalue())
    row.observed = f"{len(run.records)} streams with records; {str(caught.value)[-70:]}"
    assert "gave up after 2 tries: connection broken mid-body" in str(caught.value)
    assert run.records == {}
    assert bookmarks(out.getvalue()) == []


def test_a_short_plain_csv_probe_teaches_no_columns(
    attack: Callable[..., Attack], enforcement: str, caplog: pytest.LogCaptureFixture
) -> None:
    row = attack(
        "11",
        f"discovery's probe of a plain CSV cut inside its header ({enforcement})",
        "the probe fails as broken mid-body, no column learnt from the cut header",
    )
    with serving(files_only(short_body(b"Campaign Name,Se"))) as server:
        catalog = TapMsgReports(config=config(server.url, max_retries=1)).catalog_dict
    (entry,) = catalog["streams"]
    learnt = sorted(set(entry["schema"]["properties"]) - {*FIXED})
    row.observed = f"columns learnt: {learnt or 'none'}"
    assert learnt == []
    assert "gave up after 2 tries: connection broken mid-body" in caplog.text


# ----- point 6: a ZIP whose members each add a column ------------------------------------------


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def serving_file(body: bytes) -> Callable[[Handler], None]:
    """Every date's file is ``body``."""
    return files_only(lambda handler: reply(handler, 200, body, "application/gzip"))


def schema_messages(output: str) -> list[dict[str, t.Any]]:
    return [m for m in parse_messages(output).messages if m["type"] == "SCHEMA"]


def test_a_zip_whose_members_each_add_a_column_declares_them_in_one_schema(
    attack: Callable[..., Attack],
) -> None:
    members = 600
    row = attack(
        "6",
        f"a ZIP of {members} CSV members, each adding a column",
        "one SCHEMA message for the file (all its new columns at once), every row written",
    )
    body = zip_bytes(
        {
            f"part{i}.csv": f"Campaign Name,Extra {i}\r\nC{i},{i}\r\n".encode()
            for i in range(members)
        }
    )
    with serving(serving_file(body)) as server:
        tap_config = config(server.url, start_date=TODAY.isoformat(), moengage_max_columns=5000)
        output, failure = sync(tap_config)
    schemas = schema_messages(output)
    records = parse_messages(output).records.get("moengage_campaign_rows", [])
    row.observed = (
        f"{len(schemas)} SCHEMA messages ({sum(len(json.dumps(s)) for s in schemas) >> 10} KB) "
        f"for {len(records)} rows"
    )
    assert failure is None
    assert len(records) == members
    assert len(schemas) <= 2  # the stream's own, then the file's columns at once
    assert {f"extra_{i}" for i in range(members)} <= set(schemas[-1]["schema"]["properties"])


def test_a_file_with_more_columns_than_allowed_is_refused_before_any_row(
    attack: Callable[..., Attack],
) -> None:
    row = attack(
        "3",
        "a ZIP of 1,500 members, each adding a column (moengage_max_columns 1000, the default)",
        "the file is refused naming moengage_max_columns, no row and no SCHEMA for it",
    )
    body = zip_bytes(
        {f"p{i}.csv": f"Campaign Name,Extra {i}\r\nC{i},{i}\r\n".encode() for i in range(1500)}
    )
    with serving(serving_file(body)) as server:
        output, failure = sync(config(server.url, start_date=TODAY.isoformat()))
    row.observed = f"{str(failure)[-90:]}; {len(schema_messages(output))} SCHEMA"
    assert "moengage_max_columns (1000)" in str(failure)
    assert parse_messages(output).records == {}
    assert len(schema_messages(output)) <= 1


def test_a_header_of_millions_of_names_is_refused_as_it_is_read(
    attack: Callable[..., Attack],
) -> None:
    row = attack(
        "3",
        "a file whose header row is 4 million tiny names (12 MB)",
        "refused while the header is read (bounded by moengage_max_columns), no row",
    )
    header = b",".join(b"c%d" % i for i in range(4_000_000)) + b"\r\n"
    with serving(serving_file(zip_bytes({"wide.csv": header + b"1\r\n"}))) as server:
        output, failure = sync(config(server.url, start_date=TODAY.isoformat()))
    row.observed = str(failure)[-90:]
    assert "has a row of more than 1000 fields, over moengage_max_columns" in str(failure)
    assert parse_messages(output).records == {}


# ----- point 3: a ZIP bomb of one long line ---------------------------------------------------

BOMB_BYTES = 4_000_000_000  # inflated; ZIP sizes stay 32-bit
PIECE = b"x" * (1 << 20)
ROOT = Path(__file__).parent.parent.parent
MEMORY_LIMIT = 1 << 30  # the tap process's address space: unfixed, it fails fast


def one_line_bomb(path: Path) -> None:
    """A ZIP of one CSV member: a header, then one row of ~4 GB without a line break.

    The raw deflate data is one compressed megabyte of ``x`` repeated (each copy, made after
    a full flush, refers to nothing before it), so building it takes seconds.
    """
    start = b"Campaign Name,Message\r\nA,"
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(start) + first.flush(zlib.Z_FULL_FLUSH)
    again = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = again.compress(PIECE) + again.flush(zlib.Z_FULL_FLUSH)
    copies = (BOMB_BYTES - len(start)) // len(PIECE)
    size, crc = len(start) + copies * len(PIECE), zlib.crc32(start)
    for _ in range(copies):
        crc = zlib.crc32(PIECE, crc)
    data_size = len(head) + copies * len(block) + 2
    name = b"bomb.csv"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, data_size, size, 8, 0)
    central = struct.pack(
        "<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, crc, data_size, size, 8, 0, 0, 0, 0, 0, 0
    )
    with path.open("wb") as out:
        out.write(local + name + head)
        for _ in range(copies):
            out.write(block)
        out.write(b"\x03\x00")  # an empty last block
        directory_at = out.tell()
        out.write(central + name)
        end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, 46 + len(name), directory_at, 0)
        out.write(end)


def serving_path(path: Path) -> Callable[[Handler], None]:
    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/gzip")
        handler.send_header("Content-Length", str(path.stat().st_size))
        handler.end_headers()
        with contextlib.suppress(OSError), path.open("rb") as body:
            shutil.copyfileobj(body, handler.wfile)

    return files_only(answer)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def tiny_fields_bomb(path: Path) -> None:
    """A ZIP of one CSV member: a header, then one 16 MB row of 5.5 million 2-byte fields.

    Within the row size limit, but the csv module would build 5.5 million strings (~400 MB).
    """
    row = b"ab," * 5_500_000 + b"ab\r\n"
    path.write_bytes(zip_bytes({"tiny.csv": b"Campaign Name,Message\r\n" + row}))


BOMBS = {
    "a ZIP inflating to one 4 GB line": (one_line_bomb, "has a row longer than 16384 KB"),
    "a ZIP of one 16 MB row of 5.5 million tiny fields": (
        tiny_fields_bomb,
        "has a row of more than 1000 fields",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("bomb_kind", BOMBS)
def test_a_zip_bomb_is_refused_as_it_is_read_within_150_mb(
    attack: Callable[..., Attack], tmp_path: Path, bomb_kind: str
) -> None:
    build, refusal = BOMBS[bomb_kind]
    bomb = tmp_path / "bomb.zip"
    build(bomb)
    row = attack(
        "3",
        f"{bomb_kind}, downloaded as {bomb.stat().st_size >> 10} KB (default limits)",
        "refused while the row is read, naming the file; peak RSS of the tap under 150 MB",
    )
    result = tmp_path / "rusage.json"
    with serving(serving_path(bomb)) as server:
        tap_config = config(server.url, start_date=TODAY.isoformat(), request_timeout=30)
        command = [sys.executable, "-I", "-S", str(ROOT / "bench" / "rusage.py"), str(result)]
        done = run_recorded(
            [*command, *TAP, "--config", str(write_config(tmp_path, tap_config))],
            what="tap-msgreports",
            timeout=240,
            preexec_fn=limit_memory,
        )
    peak_mb = json.loads(result.read_text())["peak_rss_kb"] / 1024
    said = [line for line in done.stderr.splitlines() if "Daily_Push" in line]
    row.observed = f"exit {done.returncode}, peak RSS {peak_mb:.0f} MB; " + (
        said[-1][said[-1].find("Daily_Push") :] if said else done.stderr[-100:]
    )
    assert done.returncode == 1
    assert refusal in done.stderr
    assert peak_mb < 150
