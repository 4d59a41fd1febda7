"""mlog_items when a second holds more lines than one response: pages, and the auth header.

The emulator sends a burst of lines within one second of every channel-day (a bulk campaign);
splitting stops at one second, so the tap reads that second page by page. A test shapes the
emulator as a real account may differ: a page parameter ignored or named otherwise, pages that
shift, another auth header.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_msgreports.errors import SourceAuthError, SourceError
from tap_msgreports_emulator import EmulatorServer, MessangiAPI, World
from tap_msgreports_emulator.vendor import json_response
from tests.conftest import TODAY, tap_config
from tests.harness import Warehouse, assert_equal_to_truth, differences, run_tap
from tests.processes import run_cli

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tap_msgreports_emulator.vendor import Request, Response

pytestmark = pytest.mark.emulator
MLOG = ("mlog_items",)
BURST = 260
CAP = 100
PAGED = "reading it page by page"
SECOND = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"


class RecordingMessangi(MessangiAPI):
    """The Messangi emulation, keeping every query; ``answer`` may rewrite a body."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.queries: list[dict[str, list[str]]] = []
        self.answer: Callable[[Request, t.Any], t.Any] | None = None

    def handle(self, request: Request) -> Response:
        self.queries.append({name: list(values) for name, values in request.query.items()})
        response = super().handle(request)
        if self.answer is None or response.status != 200:
            return response
        return json_response(200, self.answer(request, json.loads(response.body)))

    def paged(self) -> list[dict[str, list[str]]]:
        return [query for query in self.queries if "page" in query]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """Bursts of 260 lines in one second, 100 lines per response, few other lines."""
    world = World(seed=7, today=TODAY, scale=6)
    messangi = RecordingMessangi(world)
    messangi.lines_per_day = 30
    messangi.burst_lines = BURST
    messangi.max_items_per_response = CAP
    with EmulatorServer(world, vendors=[messangi], max_lifetime=300) as emulator:
        yield emulator


def recording(server: EmulatorServer) -> RecordingMessangi:
    return t.cast("RecordingMessangi", server.messangi)


def config(server: EmulatorServer, **changes: t.Any) -> dict[str, t.Any]:
    """SMS and WhatsApp since yesterday."""
    return tap_config(
        server,
        only="messangi",
        **{
            "start_date": (TODAY - dt.timedelta(days=1)).isoformat(),
            "messangi_channels": ["S", "W"],
            **changes,
        },
    )


class ChannelsTruth:
    """The emulator's truth of some channels only (a key holds its channel: the same keys)."""

    def __init__(self, server: EmulatorServer, channels: list[str]) -> None:
        self.server, self.channels = server, channels

    def truth(self, stream: str, first: dt.date, last: dt.date) -> list[dict[str, t.Any]]:
        rows = self.server.truth(stream, first, last)
        return [row for row in rows if row["channel"] in self.channels]


def report(
    server: EmulatorServer, warehouse: Warehouse, run_config: dict[str, t.Any]
) -> dict[str, dict[str, int]]:
    """Missing, unexpected and stale rows against the truth of the configured channels."""
    first = dt.date.fromisoformat(run_config["start_date"])
    last = dt.date.fromisoformat(run_config["end_date"])
    truth = ChannelsTruth(server, run_config["messangi_channels"])
    return differences(warehouse, t.cast("EmulatorServer", truth), first, last, MLOG)


def assert_exact(server: EmulatorServer, run_config: dict[str, t.Any]) -> None:
    warehouse = Warehouse()
    warehouse.load(run_tap(run_config))
    assert_equal_to_truth(report(server, warehouse, run_config))


# Bursts end exact


def test_bursts_are_read_page_by_page_exact_over_several_days(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse, state = Warehouse(), None
    with caplog.at_level(logging.INFO):
        for day in range(3):
            if day:
                server.world.advance(1)
            run_config = config(server, end_date=server.world.today.isoformat())
            run = run_tap(run_config, state)
            warehouse.load(run)
            state = run.final_state
    found = report(server, warehouse, run_config)
    assert_equal_to_truth(found)
    assert found["mlog_items"]["truth"] > 4 * 2 * BURST
    paged = [r.getMessage() for r in caplog.records if PAGED in r.getMessage()]
    assert len(paged) >= 4 * 2  # every burst (4 days, 2 channels), re-read in the lookback
    assert all(f"holds {BURST}" in m or f"holds {BURST + 1}" in m for m in paged), paged
    assert {query["page"][0] for query in recording(server).paged()} == {"2", "3"}
    twins = [key for key in warehouse.tables["mlog_items"] if key[0].endswith("-2")]
    assert len(twins) >= 4 * 2 * (BURST // 20) // 2  # twins of the bursts are all kept


def test_a_page_size_is_sent_with_every_request_and_read_exact(server: EmulatorServer) -> None:
    assert_exact(server, config(server, messangi_page_size=40))
    assert {query["size"][0] for query in recording(server).queries} == {"40"}
    assert {query["page"][0] for query in recording(server).paged()} == {
        str(page) for page in range(2, 8)
    }


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(per_response=st.integers(min_value=7, max_value=BURST), size=st.none() | st.integers(5, 90))
def test_keys_do_not_depend_on_where_pages_end(
    server: EmulatorServer, per_response: int, size: int | None
) -> None:
    # Wherever pages end, every line gets the key the whole window gives it: the truth's.
    # A size above what the API returns is refused (another test): the API returns as many.
    server.messangi.max_items_per_response = max(per_response, size or 0)
    run_config = config(
        server,
        start_date=TODAY.isoformat(),
        messangi_channels=["S"],
        messangi_page_size=size,
    )
    assert_exact(server, run_config)


# Pages that are not what they seem


def test_an_api_that_ignores_the_page_parameter_stops_naming_the_setting(
    server: EmulatorServer,
) -> None:
    server.messangi.honours_page = False
    with pytest.raises(SourceError) as caught:
        run_tap(config(server, messangi_channels=["W"], messangi_max_concurrency=1))
    assert re.fullmatch(
        rf"Messangi channel W, mlog_items {SECOND}\.\.{SECOND}: page 2 repeats page 1 \(100 "
        rf"of {BURST} lines read, 100 per page\): the API ignores the page parameter 'page'; "
        r"set messangi_page_param to the one it takes",
        str(caught.value),
    ), caught.value
    start, end = re.findall(SECOND, str(caught.value))
    assert dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start) == dt.timedelta(
        seconds=1
    )


@pytest.mark.slow
def test_an_ignored_page_parameter_is_one_line_without_a_traceback(
    server: EmulatorServer, tmp_path: Path
) -> None:
    server.messangi.honours_page = False
    done = run_cli(tmp_path, config(server, messangi_channels=["S"]))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "repeats page 1" in line]
    assert "messangi_page_param" in line
    assert server.messangi.api_key not in done.stderr + done.stdout


def test_a_page_parameter_named_otherwise_is_followed_once_set(server: EmulatorServer) -> None:
    server.messangi.page_param = "pageNumber"
    with pytest.raises(SourceError, match="set messangi_page_param to the one it takes"):
        run_tap(config(server, messangi_channels=["S"]))
    recording(server).queries.clear()
    assert_exact(server, config(server, messangi_page_param="pageNumber"))
    assert any("pageNumber" in query for query in recording(server).queries)


def test_a_page_size_above_what_the_api_returns_stops_naming_the_setting(
    server: EmulatorServer,
) -> None:
    with pytest.raises(SourceError) as caught:
        run_tap(config(server, messangi_channels=["S"], messangi_page_size=500))
    assert str(caught.value).endswith(
        f"100 of {BURST} lines in the first response, fewer than messangi_page_size (500): "
        "the API caps pages lower; set messangi_page_size to 100 or less, or unset it"
    )


def later_pages(change: Callable[[t.Any], None]) -> Callable[[Request, t.Any], t.Any]:
    """An answer that applies ``change`` to the body of every page after the first."""

    def answer(request: Request, body: t.Any) -> t.Any:
        if request.query_value("page"):
            change(body)
        return body

    return answer


def test_an_empty_page_before_the_total_stops_the_run(server: EmulatorServer) -> None:
    recording(server).answer = later_pages(lambda body: body["items"].clear())
    with pytest.raises(SourceError) as caught:
        run_tap(config(server, messangi_channels=["S"]))
    assert str(caught.value).endswith(
        f"page 2 holds 0 lines, not 100, with 100 of {BURST} read: the API does not number "
        "pages as assumed; check messangi_page_param and messangi_page_size"
    )


def test_more_lines_than_the_total_stop_the_run(server: EmulatorServer) -> None:
    recording(server).answer = later_pages(lambda body: body["items"].extend(body["items"][:3]))
    expected = rf"3 pages held {BURST + 6} lines, more than the total {BURST}:"
    with pytest.raises(SourceError, match=expected):
        run_tap(config(server, messangi_channels=["S"]))


def test_a_total_that_moves_once_is_read_again_from_the_first_page(
    server: EmulatorServer,
) -> None:
    moves = iter([1])

    def once(body: t.Any) -> None:
        body["pagination"]["total"] += next(moves, 0)

    recording(server).answer = later_pages(once)
    assert_exact(server, config(server, messangi_channels=["S"], start_date=TODAY.isoformat()))
    (second,) = {query["from"][0] for query in recording(server).paged()}
    pages = [q.get("page", [None])[0] for q in recording(server).queries if q["from"] == [second]]
    assert pages == [None, "2", None, "2", "3"]  # read again from the first page


def test_a_total_that_keeps_moving_stops_the_run(server: EmulatorServer) -> None:
    def grow(body: t.Any) -> None:
        body["pagination"]["total"] += 1

    recording(server).answer = later_pages(grow)
    with pytest.raises(SourceError, match="total kept changing while its pages were read"):
        run_tap(config(server, messangi_channels=["S"]))


# The auth header


@pytest.mark.parametrize(
    ("header", "scheme"), [("X-API-Key", ""), ("Authorization", ""), ("apikey", "Token")]
)
def test_the_auth_header_settings_reach_an_account_that_wants_another_header(
    server: EmulatorServer, header: str, scheme: str
) -> None:
    server.messangi.burst_lines = 0
    server.messangi.auth_header, server.messangi.auth_scheme = header, scheme
    default = {"messangi_auth_header": None, "messangi_auth_scheme": None}
    with pytest.raises(SourceAuthError) as caught:
        run_tap(config(server, **default))
    assert "messangi_auth_header or messangi_auth_scheme" in str(caught.value)
    assert server.messangi.api_key not in str(caught.value)
    run_config = config(server, messangi_auth_header=header, messangi_auth_scheme=scheme)
    assert_exact(server, run_config)
