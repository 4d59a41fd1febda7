"""`tap-msgreports-emulator`: run the emulator in the foreground until SIGINT or SIGTERM.

It prints one line saying where it listens, then a ready-to-use tap config as JSON, and ends by
itself after `--max-lifetime` seconds (one hour by default) so a forgotten emulator goes away.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap_msgreports.settings import is_loopback
from tap_msgreports_emulator.clevertap import CAMPAIGNS_MAX_SPAN_DAYS, REPORTS_MAX_SPAN_DAYS
from tap_msgreports_emulator.control import TRUTH_DEFAULT_DAYS
from tap_msgreports_emulator.faults import FAULT_KINDS, PLANS_KEY, plans_from_dict
from tap_msgreports_emulator.messangi import AUTH_HEADER as MLOG_AUTH_HEADER
from tap_msgreports_emulator.messangi import AUTH_SCHEME as MLOG_AUTH_SCHEME
from tap_msgreports_emulator.messangi import (
    DEFAULT_MAX_ITEMS_PER_RESPONSE,
    DEFAULT_MAX_REPORT_LINES,
)
from tap_msgreports_emulator.messangi_data import DEFAULT_LINES_PER_DAY
from tap_msgreports_emulator.moengage_data import (
    BODY_FORMATS,
    DEFAULT_BODY_FORMAT,
    DEFAULT_ROWS_PER_FILE,
)
from tap_msgreports_emulator.server import EmulatorServer
from tap_msgreports_emulator.world import DEFAULT_SCALE, World

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import FrameType

DEFAULT_PORT = 8765
ENV_PREFIX = "TAP_MSGREPORTS_"
CONTROL_HELP = f"""\
On start it prints the tap's settings three ways: as JSON (also --config-out), as
`meltano config set` commands and as `export TAP_MSGREPORTS_...` lines. Its clock is
simulated (--today, default yesterday), the tap's is not: the tap reads MoEngage files by its
own today, so with the default the newest file it reads is that of two days ago.

control endpoints (never delayed nor faulted; URL is the address it prints):
  GET  /_emulator/status    seed, simulated today, requests served
       curl -s URL/_emulator/status
  POST /_emulator/advance   move the simulated clock on {{"days": N}} (default 1)
       curl -s -X POST -d '{{"days": 1}}' URL/_emulator/advance
  GET  /_emulator/truth     what the vendor holds: ?stream=S&from=YYYY-MM-DD&to=YYYY-MM-DD
                            [&account=ID] (default: the last {TRUTH_DEFAULT_DAYS} days)
       curl -s 'URL/_emulator/truth?stream=campaigns&from=2026-11-01&to=2026-11-30'
  GET  /_emulator/faults    the fault plan in force
       curl -s URL/_emulator/faults
  POST /_emulator/faults    replace it: "rates" per fault kind, "latency_ms", "seed"...;
                            or {{"plans": [plan, ...]}}; kinds: {", ".join(FAULT_KINDS)}
       curl -s -X POST -d '{{"rates": {{"429": 0.2, "503": 0.1}}, "latency_ms": 50}}' \\
            URL/_emulator/faults
  GET  /_emulator/config    the tap settings as JSON
       curl -s URL/_emulator/config
  POST /_emulator/stop      stop the emulator
       curl -s -X POST URL/_emulator/stop
"""
DEFAULT_MAX_LIFETIME = 3600.0
# How often the main thread looks whether a signal arrived or the server stopped by itself.
POLL_SECONDS = 0.1
EXIT_USAGE = 2


def count_at_least(minimum: int) -> Callable[[str], int]:
    """Return an argparse type for an integer of at least `minimum`.

    Args:
        minimum: The smallest value allowed.

    Returns:
        A function that parses the text or raises `argparse.ArgumentTypeError`.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            msg = f"expected an integer >= {minimum}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="tap-msgreports-emulator",
        description="Serve emulated CleverTap, Messangi and MoEngage APIs on loopback.",
        epilog=CONTROL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="seed of all generated data")
    parser.add_argument("--today", type=date.fromisoformat, help="simulated date, YYYY-MM-DD")
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="records/account/day")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to vendor requests")
    parser.add_argument(
        "--faults", type=json.loads, help='a fault plan as JSON, or {"plans": [plan, ...]}'
    )
    parser.add_argument("--idle-timeout", type=float, help="stop after this many idle seconds")
    parser.add_argument(
        "--max-lifetime",
        type=float,
        default=DEFAULT_MAX_LIFETIME,
        help="stop after this many seconds; 0 never (default %(default)s)",
    )
    parser.add_argument(
        "--campaigns-max-span", type=int, default=CAMPAIGNS_MAX_SPAN_DAYS, help="days"
    )
    parser.add_argument("--reports-max-span", type=int, default=REPORTS_MAX_SPAN_DAYS, help="days")
    parser.add_argument(
        "--mlog-lines-per-day",
        type=count_at_least(0),
        default=DEFAULT_LINES_PER_DAY,
        help="Messangi lines per channel per day (default %(default)s)",
    )
    parser.add_argument(
        "--mlog-max-items",
        type=count_at_least(1),
        default=DEFAULT_MAX_ITEMS_PER_RESPONSE,
        help="Messangi items per response at most (default %(default)s)",
    )
    parser.add_argument(
        "--mlog-max-report-lines",
        type=count_at_least(1),
        default=DEFAULT_MAX_REPORT_LINES,
        help="Messangi matching lines before 'too big' (default %(default)s)",
    )
    parser.add_argument(
        "--mlog-burst-lines",
        type=count_at_least(0),
        default=0,
        help="Messangi lines sent within one second of every channel-day (default none)",
    )
    parser.add_argument(
        "--mlog-auth-header",
        default=MLOG_AUTH_HEADER,
        help="Messangi: the header the key must come in (default %(default)s)",
    )
    parser.add_argument(
        "--mlog-auth-scheme",
        default=MLOG_AUTH_SCHEME,
        help='Messangi: the scheme before the key, "" for the key alone (default %(default)s)',
    )
    parser.add_argument(
        "--moengage-rows-per-file",
        type=count_at_least(0),
        default=DEFAULT_ROWS_PER_FILE,
        help="MoEngage data rows per report file (default %(default)s)",
    )
    parser.add_argument(
        "--moengage-body-format",
        choices=BODY_FORMATS,
        default=DEFAULT_BODY_FORMAT,
        help="MoEngage body: a ZIP like the vendor's, gzip or plain CSV (default %(default)s)",
    )
    parser.add_argument(
        "--moengage-basic-auth",
        action="store_true",
        help="MoEngage demands HTTP Basic auth (workspace id, API key) besides the signature",
    )
    parser.add_argument("--config-out", type=Path, help="also write the tap config JSON here")
    return parser


def build_server(args: argparse.Namespace) -> EmulatorServer:
    """Build the server the arguments describe.

    Args:
        args: Parsed command-line arguments.

    Returns:
        The server, not started.

    Raises:
        ValueError: If the fault plan is invalid.
    """
    world = World(seed=args.seed, today=args.today, scale=args.scale)
    faults = dict(args.faults or {})
    if args.latency_ms:
        plans = faults.get(PLANS_KEY)
        for plan in plans if isinstance(plans, list) else [faults]:
            if isinstance(plan, dict):  # a wrong entry is refused by plans_from_dict
                plan["latency_ms"] = args.latency_ms
    server = EmulatorServer(
        world,
        faults=plans_from_dict(faults, seed=args.seed) if faults else None,
        host=args.host,
        port=args.port,
        idle_timeout=args.idle_timeout,
        max_lifetime=args.max_lifetime or None,
    )
    server.clevertap.campaigns_max_span_days = args.campaigns_max_span
    server.clevertap.reports_max_span_days = args.reports_max_span
    server.messangi.lines_per_day = args.mlog_lines_per_day
    server.messangi.max_items_per_response = args.mlog_max_items
    server.messangi.max_report_lines = args.mlog_max_report_lines
    server.messangi.burst_lines = args.mlog_burst_lines
    server.messangi.auth_header = args.mlog_auth_header
    server.messangi.auth_scheme = args.mlog_auth_scheme
    server.moengage.rows_per_file = args.moengage_rows_per_file
    server.moengage.body_format = args.moengage_body_format
    server.moengage.require_basic_auth = args.moengage_basic_auth
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT, SIGTERM or its own time limits.

    Args:
        argv: Arguments without the program name; default `sys.argv[1:]`.

    Returns:
        0 after a clean stop, 2 for unusable arguments.
    """
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host):
        print(f"tap-msgreports-emulator: refusing non-loopback host {args.host!r}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    try:
        server = build_server(args).start()
    except (ValueError, OSError) as error:
        print(f"tap-msgreports-emulator: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    # The handlers come first: a client may signal as soon as it reads "listening".
    with _signals_noted() as received:
        config = server.tap_config()
        if args.config_out is not None:
            args.config_out.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _print_settings(server, args.seed, config)
        while server.running and not received:
            server.wait(POLL_SECONDS)
        server.stop(received[0] if received else "stop()")
    print(f"tap-msgreports-emulator stopped ({server.stop_reason})", file=sys.stderr)  # noqa: T201
    return 0


def _print_settings(server: EmulatorServer, seed: int, config: Mapping[str, Any]) -> None:
    print(  # noqa: T201 - the CLI's output
        f"tap-msgreports-emulator listening on {server.url} "
        f"(seed {seed}, today {server.world.today.isoformat()})"
    )
    print(json.dumps(config, indent=2))  # noqa: T201 - the CLI's output
    print("\n# The same settings for a Meltano project (run in the project's folder):")  # noqa: T201
    print("\n".join(meltano_config_set_lines(config)))  # noqa: T201
    print("\n# Or as environment variables (tap-msgreports --config=ENV, or Meltano):")  # noqa: T201
    print("\n".join(export_lines(config)), flush=True)  # noqa: T201


def meltano_config_set_lines(config: Mapping[str, Any]) -> list[str]:
    """One ``meltano config set`` command per setting; arrays and objects as JSON."""
    return [
        f"meltano config set tap-msgreports {name} {shlex.quote(_setting_text(value))}"
        for name, value in config.items()
    ]


def export_lines(config: Mapping[str, Any]) -> list[str]:
    """One ``export TAP_MSGREPORTS_<NAME>=...`` per setting."""
    return [
        f"export {ENV_PREFIX}{name.upper()}={shlex.quote(_setting_text(value))}"
        for name, value in config.items()
    ]


def _setting_text(value: object) -> str:
    """A setting as Meltano and the SDK read it from text: JSON for anything but a string."""
    return value if isinstance(value, str) else json.dumps(value)


@contextlib.contextmanager
def _signals_noted() -> Iterator[list[str]]:
    """SIGINT and SIGTERM only noted (in the list yielded) while inside."""
    received: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        # Only note the signal: stopping joins threads, which a signal handler should not do.
        received.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
