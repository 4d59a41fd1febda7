"""Run at the start of a process of a tap's venv, when its environment names this file.

The ``.pth`` line of ``clock.install_seam`` runs it; the demo and the end-to-end tests name it
(``clock.seam_env``) for the taps Meltano starts: the tap of such a process reads MoEngage by
the emulator's today. ``clock.py`` is loaded by its path, because the tap's venv has the tap
but not the emulator.
"""

import importlib.util
import sys
from pathlib import Path

_NAME = "tap_msgreports_emulator_clock"
# Only when run by path (runpy's default name): importing the package's module does nothing.
if __name__ == "<run_path>":
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("clock.py"))
    if _spec is not None and _spec.loader is not None:
        _clock = importlib.util.module_from_spec(_spec)
        sys.modules[_NAME] = _clock
        _spec.loader.exec_module(_clock)
        _clock.follow_emulator_when_imported()
