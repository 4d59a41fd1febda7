"""The tap on the emulator's clock, for the tap processes the tests start themselves.

``python -m tap_msgreports_emulator.clocked_tap --config FILE ...`` takes the tap's arguments.

The emulator of the config's ``moengage_api_url`` is asked for its today once, before the tap
starts (a run reads one emulator day); then the tap's own CLI runs with the same arguments.
Without an emulator there, the tap keeps the real clock.
"""

from __future__ import annotations

import sys

from tap_msgreports.tap import TapMsgReports
from tap_msgreports_emulator.clock import config_url, emulator_today, fixed_now, follow_emulator


def main() -> None:
    """Move the tap's MoEngage clock to the emulator's today, then run the tap's CLI."""
    if today := emulator_today(config_url(sys.argv[1:])):
        follow_emulator(fixed_now(today))
    TapMsgReports.cli()


if __name__ == "__main__":
    main()
