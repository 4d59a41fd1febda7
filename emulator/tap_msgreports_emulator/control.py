"""Control endpoints under `/_emulator/`: status, clock, faults, truth, tap config, stop.

They are never delayed nor faulted, so a test can always read and steer the emulator.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tap_msgreports_emulator.faults import FaultPlan, plans_from_dict, plans_to_dict
from tap_msgreports_emulator.vendor import Reply, Request, json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_msgreports_emulator.server import EmulatorServer

CONTROL_PREFIX = "/_emulator/"
# Without from/to, truth covers the same 30 days as the default tap config.
TRUTH_DEFAULT_DAYS = 30


class ControlError(ValueError):
    """A control request that cannot be served; answered with 400 and the message."""


def handle_control(app: EmulatorServer, request: Request) -> Reply:
    """Answer a request for a control path.

    Args:
        app: The emulator.
        request: A request whose path starts with `/_emulator/`.

    Returns:
        The reply: 404 for an unknown path or method, 400 for a bad argument.
    """
    route = ROUTES.get((request.method, request.path.rstrip("/")))
    if route is None:
        return Reply(json_response(404, {"error": f"no control endpoint {request.path}"}))
    try:
        return route(app, request)
    except ControlError as error:
        return Reply(json_response(400, {"error": str(error)}))


def _status(app: EmulatorServer, request: Request) -> Reply:
    del request
    return Reply(json_response(200, app.status()))


def _advance(app: EmulatorServer, request: Request) -> Reply:
    days = _json_body(request).get("days", 1)
    if isinstance(days, bool) or not isinstance(days, int):
        msg = f'"days" must be an integer, got {days!r}'
        raise ControlError(msg)
    app.world.advance(days)
    return Reply(json_response(200, app.status()))


def _get_faults(app: EmulatorServer, request: Request) -> Reply:
    del request
    faults = app.faults if app.faults is not None else FaultPlan(seed=app.world.seed)
    return Reply(json_response(200, plans_to_dict(faults)))


def _set_faults(app: EmulatorServer, request: Request) -> Reply:
    try:
        faults = plans_from_dict(_json_body(request), seed=app.world.seed)
    except ValueError as error:
        raise ControlError(str(error)) from error
    app.faults = faults
    return Reply(json_response(200, plans_to_dict(faults)))


def _truth(app: EmulatorServer, request: Request) -> Reply:
    stream = request.query_value("stream") or ""
    today = app.world.today
    start = _query_day(request, "from", today - timedelta(days=TRUTH_DEFAULT_DAYS - 1))
    end = _query_day(request, "to", today)
    try:
        records = app.truth(stream, start, end, request.query_value("account"))
    except KeyError as error:
        msg = f"unknown stream or account: {error}"
        raise ControlError(msg) from error
    return Reply(json_response(200, {"stream": stream, "count": len(records), "records": records}))


def _config(app: EmulatorServer, request: Request) -> Reply:
    del request
    return Reply(json_response(200, app.tap_config()))


def _stop(app: EmulatorServer, request: Request) -> Reply:
    del request
    # Stop only once the answer is on its way, or the client would see a dropped connection.
    return Reply(
        json_response(200, {"stopping": True}),
        after=lambda: app.request_stop("control endpoint"),
    )


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = request.json()
    except ValueError as error:
        msg = f"the body is not JSON: {error}"
        raise ControlError(msg) from error
    if not isinstance(body, dict):
        msg = "the body must be a JSON object"
        raise ControlError(msg)
    return body


def _query_day(request: Request, name: str, default: date) -> date:
    value = request.query_value(name)
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        msg = f'"{name}" must be a date YYYY-MM-DD, got {value!r}'
        raise ControlError(msg) from error


ROUTES: dict[tuple[str, str], Callable[[EmulatorServer, Request], Reply]] = {
    ("GET", "/_emulator/status"): _status,
    ("POST", "/_emulator/advance"): _advance,
    ("GET", "/_emulator/faults"): _get_faults,
    ("POST", "/_emulator/faults"): _set_faults,
    ("GET", "/_emulator/truth"): _truth,
    ("GET", "/_emulator/config"): _config,
    ("POST", "/_emulator/stop"): _stop,
}
