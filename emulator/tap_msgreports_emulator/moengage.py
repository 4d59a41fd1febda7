"""MoEngage Campaign Report API emulation: `GET /campaign_reports/rest_api/{APP_ID}/{FILENAME}`.

One request downloads one report file for one generation date, as `api-notes.md` section 5
describes it: the request is signed with sha256(APP_ID|FILENAME|SECRET), a missing or wrong
signature gets 401 with an empty body (so does missing Basic auth, when the emulation is told
to demand it, as a workspace may), and every other refusal is a 400 with the vendor's
`{"error": {...}}` envelope. A file exists from the day after its generation date and is
refused once it is older than 7 days. The body is a ZIP holding one CSV, served as
`application/gzip`.

Bodies are built once per content and format, streamed into files in a temporary directory that
the emulation removes when the server stops, and sent from disk in chunks.

What the vendor documents nowhere is assumed; each assumption is one constant or function
below (the files' own are in `moengage_data.py`), so a real account proving one wrong is a
one-line change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import shutil
import tempfile
import threading
import weakref
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from tap_msgreports_emulator.moengage_data import (
    BODY_FORMATS,
    DEFAULT_BODY_FORMAT,
    DEFAULT_REPORTS,
    DEFAULT_ROWS_PER_FILE,
    FILE_NAME_SPACE,
    FILE_NAME_SUFFIX,
    ReportFile,
    ReportSpec,
    write_body,
)
from tap_msgreports_emulator.vendor import Request, Response, VendorAPI, json_response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from tap_msgreports_emulator.world import World

PATH_PREFIX = "/campaign_reports/rest_api/"
# The vendor's documented download type, whatever the body really is (api-notes 5.4).
BODY_CONTENT_TYPE = "application/gzip"
SIGNATURE_HEADER = "Signature"
# Assumed (api-notes 5.3): the signature may also come as this query parameter.
SIGNATURE_QUERY = "Signature"
# Assumed: `.zip` is required (api-notes 5.2), the date must be a real one, case counts.
FILE_NAME_PATTERN = re.compile(
    rf"(?P<prefix>.+){FILE_NAME_SPACE}(?P<day>\d{{8}}){re.escape(FILE_NAME_SUFFIX)}"
)
# A file generated on D can be downloaded from D + 1 (today's is not generated yet, api-notes
# 5.4) until D + 7: the vendor refuses a report only when it is "older than 7 days" (api-notes
# 5.4's errors), i.e. once today - D passes EXPIRY_DAYS.
GENERATION_LAG_DAYS = 1
EXPIRY_DAYS = 7
# Basic auth, when demanded: the workspace id as user, the API key as password (public clients).
AUTHORIZATION_HEADER = "Authorization"
# A missing or wrong signature: the only refusal without an envelope, its body empty.
UNAUTHORIZED = 401
# Assumed texts of the 400s; the vendor only lists their causes.
INVALID_APP_ID = "Invalid APP ID"
INVALID_FILE_NAME = "Invalid Report file name"
EXPIRED = f"Requested report is older than {EXPIRY_DAYS} days"
ERROR_TYPES = {
    400: "BAD REQUEST",
    405: "METHOD NOT ALLOWED",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
}
ERROR_TEXT = {
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# Seed labels of the derived credentials.
APP_ID_LABEL = "moengage-app-id"
REPORT_KEY_LABEL = "moengage-report-key"
APP_ID_PREFIX = "EMUAPP"
APP_ID_HEX_DIGITS = 6


class MoEngageError(Exception):
    """A request the API refuses, with the status and the message it answers."""

    def __init__(self, status: int, message: str = "") -> None:
        """Create the error.

        Args:
            status: HTTP status code.
            message: The `error.message` text; default the usual text for the status.
        """
        self.status = status
        self.message = message or ERROR_TEXT.get(status, "Error")
        super().__init__(self.message)


def fail(status: int, message: str = "", retry_after: int | None = None) -> Response:
    """Build a MoEngage error response.

    Args:
        status: HTTP status code.
        message: The `error.message` text; default the usual text for the status.
        retry_after: Seconds for a `Retry-After` header, or None for none.

    Returns:
        401 with an empty JSON-typed body, anything else with the `{"error": ...}` envelope.
    """
    headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
    if status == UNAUTHORIZED:
        return Response(UNAUTHORIZED, b"", "application/json", headers)
    error = {
        "attribute": "",
        "message": message or ERROR_TEXT.get(status, "Error"),
        "type": ERROR_TYPES.get(status, "ERROR"),
        "request_id": "",
    }
    return json_response(status, {"error": error}, headers)


def signature(app_id: str, file_name: str, secret_key: str) -> str:
    """Return the signature of a download.

    Args:
        app_id: The workspace (app) id.
        file_name: The file name, `.zip` included.
        secret_key: The campaign report API key.

    Returns:
        64 lower-case hex digits.
    """
    return hashlib.sha256(f"{app_id}|{file_name}|{secret_key}".encode()).hexdigest()


def is_generated(report: ReportSpec, day: date, today: date, late_days: int = 0) -> bool:
    """Say whether a report's file for a generation date has been made by today.

    Args:
        report: The report.
        day: The generation date.
        today: The emulator's today.
        late_days: Days the file comes after the usual day (see `MoEngageAPI.late_days`).

    Returns:
        True if the schedule makes a file that day and the day (plus any delay) is over.
    """
    return report.generated_on(day) and (today - day).days >= GENERATION_LAG_DAYS + late_days


def is_expired(day: date, today: date, served_days: int = EXPIRY_DAYS) -> bool:
    """Say whether a file of a generation date has expired.

    Args:
        day: The generation date.
        today: The emulator's today.
        served_days: How old a file may be and still be served (see
            `MoEngageAPI.served_days`).

    Returns:
        True once the day is older than `served_days` days.
    """
    return (today - day).days > served_days


def refusal(
    report: ReportSpec,
    day: date,
    today: date,
    late_days: int = 0,
    served_days: int = EXPIRY_DAYS,
) -> str | None:
    """Return why a file cannot be downloaded today, if it cannot.

    Args:
        report: The report.
        day: The generation date.
        today: The emulator's today.
        late_days: Days the file comes after the usual day.
        served_days: How old a file may be and still be served.

    Returns:
        None for an available file, else the 400 message.
    """
    if not is_generated(report, day, today, late_days):
        # Assumed (api-notes 5.4): a file not made (yet) is an invalid file name.
        return INVALID_FILE_NAME
    return EXPIRED if is_expired(day, today, served_days) else None


class _FileCache:
    """Finished bodies on disk, built once per key, in a directory removed by `close()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[object, Path] = {}
        self._building: dict[object, threading.Lock] = {}
        self._numbers = itertools.count(1)
        self._directory: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None

    def path(self, key: object, build: Callable[[Path], None]) -> Path:
        """Return the file for a key, building it on first use (once, whoever asks)."""
        with self._lock:
            if key in self._paths:
                return self._paths[key]
            building = self._building.setdefault(key, threading.Lock())
            directory = self._ensure_directory()
        with building:
            with self._lock:
                if key in self._paths:
                    return self._paths[key]
                target = directory / f"body-{next(self._numbers)}"
            partial = target.with_suffix(".partial")
            try:
                build(partial)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(target)  # a reader never sees a half-written body
            with self._lock:
                self._paths[key] = target
        return target

    def close(self) -> None:
        """Remove the directory and forget every body."""
        with self._lock:
            cleanup, self._cleanup, self._directory = self._cleanup, None, None
            self._paths.clear()
            self._building.clear()
        if cleanup is not None:
            cleanup()

    def _ensure_directory(self) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="moengage-emulator-"))
            # Also removed at garbage collection or exit, should close() never be called.
            self._cleanup = weakref.finalize(
                self, shutil.rmtree, self._directory, ignore_errors=True
            )
        return self._directory


class MoEngageAPI(VendorAPI):
    """The MoEngage Campaign Report download over a `World`'s seed and clock.

    The knobs are plain attributes, read at each request, so a test can change them.

    Attributes:
        world: The world the data comes from.
        reports: The reports built in the dashboard, each with its schedule.
        rows_per_file: Data rows in every file.
        body_format: `zip` (the vendor's), `gzip` or `csv`; always sent as `application/gzip`.
        zip_bomb_bytes: 0, or add a last row of one field this long, so that a small body
            inflates to it (`moengage_data.ZIP_BOMB_BYTES` is a few GB); zip and gzip only.
        huge_field_bytes: 0, or give the middle row a text field this long
            (`moengage_data.HUGE_FIELD_BYTES` is 10 MB).
        header_drift: Headers differ from one date to the next (a column added, one removed).
        late_days: Files come this many days later than the day after their date (a
            generation running late, or a workspace whose dates run ahead of UTC); 0 by
            default.
        served_days: A file is refused (400, `EXPIRED`) once older than this many days;
            EXPIRY_DAYS by default, less for a vendor whose day runs ahead of the client's.
        require_basic_auth: Demand HTTP Basic auth (workspace id, API key) besides the
            signature, as a workspace may: 401 with an empty body without it. Off by default.
        basic_auth_given: Whether each download carried Basic auth, in arrival order.
        signature_places: Where each download carried its signature, in arrival order:
            `header`, `query`, `both` or `none` (to check what the client sends).
    """

    name = "moengage"
    streams = ("moengage_campaign_rows",)

    def __init__(  # noqa: PLR0913 - every argument is a documented knob of the emulator
        self,
        world: World,
        *,
        app_id: str | None = None,
        secret_key: str | None = None,
        reports: Sequence[ReportSpec] | None = None,
        rows_per_file: int = DEFAULT_ROWS_PER_FILE,
        body_format: str = DEFAULT_BODY_FORMAT,
        zip_bomb_bytes: int = 0,
        huge_field_bytes: int = 0,
        header_drift: bool = False,
    ) -> None:
        """Create the emulation.

        Args:
            world: The world the data comes from.
            app_id: A fixed app id, or None to derive one from the seed.
            secret_key: A fixed secret key, or None to derive one from the seed.
            reports: The reports; default `Daily Push Report` (daily) and
                `Weekly Email Summary` (Mondays).
            rows_per_file: Data rows in every file.
            body_format: `zip`, `gzip` or `csv`.
            zip_bomb_bytes: 0, or the size a bomb body inflates to.
            huge_field_bytes: 0, or the size of one huge field.
            header_drift: Make headers change from one date to the next.

        Raises:
            ValueError: If a size is negative, the format unknown, or report file names clash.
        """
        if min(rows_per_file, zip_bomb_bytes, huge_field_bytes) < 0:
            msg = "rows_per_file, zip_bomb_bytes and huge_field_bytes must be >= 0"
            raise ValueError(msg)
        if body_format not in BODY_FORMATS:
            msg = f"body_format must be one of {BODY_FORMATS}, got {body_format!r}"
            raise ValueError(msg)
        self.world = world
        self.reports: tuple[ReportSpec, ...] = tuple(
            DEFAULT_REPORTS if reports is None else reports
        )
        if len({_prefix(report.name) for report in self.reports}) != len(self.reports):
            msg = "two reports have the same file name prefix"
            raise ValueError(msg)
        self._app_id = app_id
        self._secret_key = secret_key
        self.rows_per_file = rows_per_file
        self.body_format = body_format
        self.zip_bomb_bytes = zip_bomb_bytes
        self.huge_field_bytes = huge_field_bytes
        self.header_drift = header_drift
        self.late_days = 0
        self.served_days = EXPIRY_DAYS
        self.require_basic_auth = False
        self.basic_auth_given: list[bool] = []
        self.signature_places: list[str] = []
        self._places_lock = threading.Lock()
        self._files = _FileCache()
        self._signatures: dict[str, str] = {}  # every signature computed -> its file name
        self._signatures_lock = threading.Lock()

    @property
    def app_id(self) -> str:
        """The app (workspace) id: the fixed one, or `EMUAPP` and hex digits from the seed."""
        if self._app_id is not None:
            return self._app_id
        digits = self.world.secret(APP_ID_LABEL).removeprefix("emu-")[:APP_ID_HEX_DIGITS]
        return APP_ID_PREFIX + digits.upper()

    @property
    def secret_key(self) -> str:
        """The campaign report API key: the fixed one, or the one derived from the seed."""
        return self._secret_key or self.world.secret(REPORT_KEY_LABEL)

    def signature(self, file_name: str) -> str:
        """Return the signature a correct client sends for a file.

        Args:
            file_name: The file name, `.zip` included.

        Returns:
            64 lower-case hex digits.
        """
        computed = signature(self.app_id, file_name, self.secret_key)
        with self._signatures_lock:
            self._signatures[computed] = file_name
        return computed

    def basic_credentials(self) -> str:
        """Return the Basic auth token a correct client sends (`Authorization: Basic <it>`).

        Returns:
            base64 of `app_id:secret_key`.
        """
        return base64.b64encode(f"{self.app_id}:{self.secret_key}".encode()).decode("ascii")

    def issued_secrets(self) -> dict[str, str]:
        """Return the secret key, its Basic auth token and every signature computed so far.

        Returns:
            Secret -> `MoEngage secret key`, `MoEngage Basic credentials` or
            `MoEngage signature of <file>`.
        """
        with self._signatures_lock:
            files = dict(self._signatures)
        signatures = {sig: f"MoEngage signature of {name}" for sig, name in files.items()}
        return {
            **signatures,
            self.basic_credentials(): "MoEngage Basic credentials",
            self.secret_key: "MoEngage secret key",
        }

    def handles(self, path: str) -> bool:
        """Say whether a path is a report download.

        Args:
            path: URL path.

        Returns:
            True for paths under `/campaign_reports/rest_api/`.
        """
        return path.startswith(PATH_PREFIX)

    def handle(self, request: Request) -> Response:
        """Answer a download request.

        Args:
            request: The request.

        Returns:
            The file, or the vendor's refusal.
        """
        try:
            if request.method != "GET":
                raise MoEngageError(405)  # noqa: TRY301 - one place turns errors into responses
            content = self._requested_file(request)
            return self._download(content)
        except MoEngageError as error:
            return fail(error.status, error.message)

    def error_response(self, status: int, retry_after: int | None = None) -> Response:
        """Build the vendor's error response for a status.

        Args:
            status: HTTP status code.
            retry_after: Seconds for a `Retry-After` header, or None.

        Returns:
            The response.
        """
        return fail(status, retry_after=retry_after)

    def tap_config(self, base_url: str) -> dict[str, Any]:
        """Return the MoEngage settings: credentials, the emulator's URL, the report names.

        Args:
            base_url: The emulator's URL (the tap appends
                `/campaign_reports/rest_api/{app_id}/{file}`).

        Returns:
            `moengage_app_id`, `moengage_secret_key`, `moengage_api_url`, `moengage_reports`,
            and `moengage_auth` when Basic auth is demanded.
        """
        config = {
            "moengage_app_id": self.app_id,
            "moengage_secret_key": self.secret_key,
            "moengage_api_url": base_url,
            "moengage_reports": [report.name for report in self.reports],
        }
        if self.require_basic_auth:
            config["moengage_auth"] = "signature+basic"
        return config

    def close(self) -> None:
        """Remove the bodies built so far and their temporary directory."""
        self._files.close()

    def report(self, report_name: str) -> ReportSpec:
        """Find a report by name.

        Args:
            report_name: The name as built in the dashboard.

        Returns:
            The report.

        Raises:
            KeyError: If there is no such report.
        """
        for report in self.reports:
            if report.name == report_name:
                return report
        raise KeyError(report_name)

    def content(self, report_name: str, day: date) -> ReportFile:
        """Return what a report's file of a generation date holds, with today's knobs.

        Args:
            report_name: The report name.
            day: The generation date (whether a file exists that day is not checked).

        Returns:
            The file's content: header, rows, names.
        """
        return ReportFile(
            seed=self.world.seed,
            report=self.report(report_name),
            day=day,
            rows=self.rows_per_file,
            header_drift=self.header_drift,
            huge_field_bytes=self.huge_field_bytes,
        )

    def body_file(self, report_name: str, day: date) -> Path:
        """Build (or find) the body served for a report and date, e.g. before a benchmark.

        Args:
            report_name: The report name.
            day: The generation date (whether a file exists that day is not checked).

        Returns:
            The file on disk; it lives until `close()`.
        """
        return self._body_of(self.content(report_name, day))

    def available_dates(self) -> dict[str, list[date]]:
        """Return the dates whose files can be downloaded today, per report.

        Returns:
            Report name -> generation dates (generated and not expired), oldest first.
        """
        today = self.world.today
        recent = [today - timedelta(days=back) for back in range(self.served_days, 0, -1)]
        return {
            report.name: [day for day in recent if self._refusal(report, day) is None]
            for report in self.reports
        }

    def generated_files(self, start: date, end: date) -> list[ReportFile]:
        """Return every file generated by today for generation dates in a range.

        Args:
            start: First generation date, inclusive.
            end: Last generation date, inclusive.

        Returns:
            Files by report (in `reports` order), then date; expired ones too.
        """
        today = self.world.today
        return [
            self.content(report.name, day)
            for report in self.reports
            for day in _days(start, end)
            if is_generated(report, day, today, self.late_days)
        ]

    def truth(
        self, stream: str, start: date, end: date, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return every row of the files generated for the dates, expired or not.

        Args:
            stream: `moengage_campaign_rows`.
            start: First generation date, inclusive.
            end: Last generation date, inclusive.
            account_id: Must be None: MoEngage has no accounts here.

        Returns:
            `{"report_name", "report_date", "row_number", "values": {header: value}}` per
            row; the bomb row of `zip_bomb_bytes` is not a row and is left out.

        Raises:
            KeyError: If the stream is not `moengage_campaign_rows` or an account is given.
        """
        if stream not in self.streams:
            raise KeyError(stream)
        if account_id is not None:
            raise KeyError(account_id)
        return [record for content in self.generated_files(start, end) for record in _rows(content)]

    def _requested_file(self, request: Request) -> ReportFile:
        """Check a download in the assumed order: app id, credentials, file name, availability."""
        app_id, file_name = _path_parts(request.path)
        if app_id != self.app_id:
            raise MoEngageError(400, INVALID_APP_ID)
        signed, basic = self._signed(request, file_name), self._basic_auth(request)
        if not signed or (self.require_basic_auth and not basic):
            raise MoEngageError(UNAUTHORIZED)
        report, day = self._parse_file_name(file_name)
        reason = self._refusal(report, day)
        if reason is not None:
            raise MoEngageError(400, reason)
        return self.content(report.name, day)

    def _refusal(self, report: ReportSpec, day: date) -> str | None:
        return refusal(report, day, self.world.today, self.late_days, self.served_days)

    def _basic_auth(self, request: Request) -> bool:
        """Say whether the request carries the right Basic auth; note whether it had any."""
        given = request.header(AUTHORIZATION_HEADER)
        with self._places_lock:
            self.basic_auth_given.append(given is not None)
        scheme, _, token = (given or "").strip().partition(" ")
        expected = self.basic_credentials().encode()
        # The scheme's case does not count (RFC 7617); the token is compared exactly.
        return scheme.lower() == "basic" and hmac.compare_digest(token.strip().encode(), expected)

    def _signed(self, request: Request, file_name: str) -> bool:
        expected = self.signature(file_name).encode()
        given = (request.header(SIGNATURE_HEADER), request.query_value(SIGNATURE_QUERY))
        self._note_place(in_header=given[0] is not None, in_query=given[1] is not None)
        # Either place will do; the hex is compared case-insensitively.
        return any(
            hmac.compare_digest(value.strip().lower().encode(), expected)
            for value in given
            if value is not None
        )

    def _note_place(self, *, in_header: bool, in_query: bool) -> None:
        place = {(True, True): "both", (True, False): "header", (False, True): "query"}
        with self._places_lock:
            self.signature_places.append(place.get((in_header, in_query), "none"))

    def _parse_file_name(self, file_name: str) -> tuple[ReportSpec, date]:
        match = FILE_NAME_PATTERN.fullmatch(file_name)
        report = None if match is None else self._by_prefix().get(match["prefix"])
        day = None if match is None else _yyyymmdd(match["day"])
        if report is None or day is None:
            raise MoEngageError(400, INVALID_FILE_NAME)
        return report, day

    def _by_prefix(self) -> dict[str, ReportSpec]:
        return {_prefix(report.name): report for report in self.reports}

    def _download(self, content: ReportFile) -> Response:
        return Response(
            200,
            content_type=BODY_CONTENT_TYPE,
            headers=(("Content-Disposition", _disposition(content.file_name)),),
            file=self._body_of(content),
        )

    def _body_of(self, content: ReportFile) -> Path:
        body_format, bomb_bytes = self.body_format, self.zip_bomb_bytes
        return self._files.path(
            (content, body_format, bomb_bytes),
            lambda path: write_body(path, content, body_format, bomb_bytes),
        )


def _prefix(report_name: str) -> str:
    return report_name.replace(" ", FILE_NAME_SPACE)


def _yyyymmdd(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None  # e.g. 20260230


def _disposition(file_name: str) -> str:
    """Return a Content-Disposition that names the file (RFC 6266; headers are Latin-1)."""
    if file_name.isascii():
        quoted = file_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'attachment; filename="{quoted}"'
    return f"attachment; filename*=UTF-8''{quote(file_name)}"


def _path_parts(path: str) -> tuple[str, str]:
    """Split a download path into (app id, file name), both percent-decoded."""
    app_id, _, file_name = path.removeprefix(PATH_PREFIX).partition("/")
    # A "/" left in the file name makes it match no report.
    return unquote(app_id), unquote(file_name)


def _rows(content: ReportFile) -> Iterator[dict[str, Any]]:
    header = content.header
    for number, row in enumerate(content.records(), start=1):
        yield {
            "report_name": content.report.name,
            "report_date": content.day.isoformat(),
            "row_number": number,
            "values": dict(zip(header, row, strict=True)),
        }


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
