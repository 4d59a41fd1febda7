"""The tap on the emulator's clock, for the tap processes the tests start themselves.

``python -m tap_msgreports_emulator.clocked_tap --today=YYYY-MM-DD ARGUMENTS...`` runs the
tap's own CLI on ``ARGUMENTS`` with MoEngage's today moved to that date (the emulator's, which
``tests/clock.py`` asks for before it starts the process: a run reads one emulator day, and a
server that is not the emulator must not see the question while the tap runs). Without
``--today`` first, the tap keeps the real clock.
"""

from __future__ import annotations

import datetime as dt
import sys

from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator.clock import fixed_now, follow_emulator

TODAY_OPTION = "--today="


def main() -> None:
    """Move the tap's MoEngage clock as ``--today=`` says, then run the tap's CLI."""
    if len(sys.argv) > 1 and sys.argv[1].startswith(TODAY_OPTION):
        today = dt.date.fromisoformat(sys.argv.pop(1).removeprefix(TODAY_OPTION))
        follow_emulator(fixed_now(today))
    TapMsgReports.cli()


if __name__ == "__main__":
    main()
