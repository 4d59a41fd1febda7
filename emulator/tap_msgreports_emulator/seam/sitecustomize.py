"""Loaded by every Python process whose ``PYTHONPATH`` holds this folder (see ``../clock.py``).

The demo and the end-to-end tests put it there for the taps Meltano starts: the tap of such a
process reads MoEngage by the emulator's today. The folder holds nothing else, and the file is
loaded by its path, because the tap's environment has the tap but not the emulator.
"""

import importlib.util
import sys
from pathlib import Path

_NAME = "tap_msgreports_emulator_clock"
_spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).parent.parent / "clock.py")
if _spec is not None and _spec.loader is not None:
    _clock = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _clock
    _spec.loader.exec_module(_clock)
    _clock.follow_emulator_when_imported()
