"""The tap's MoEngage clock follows the emulator it reads from.

MoEngage file life counts from the tap's today, which comes from the clock, while the
emulator's today is simulated (``World.today``, a fixed date in the tests). The tap has no
hook for it; the seam is the emulator's (``tap_msgreports_emulator.clock``), in three forms:

- this process: :func:`emulator_now` stands in for ``MoEngageStream.now`` (``conftest.py``);
- a tap process a test starts: :func:`tap_command`, the tap's CLI behind a launcher that
  moves the clock first;
- a tap that Meltano starts: :func:`clock_env` in Meltano's environment, the project's tap
  venv having the seam (:func:`install_seam`, after ``meltano install``).

Each asks the emulator of the run's ``moengage_api_url`` for its today, so they follow
``World.advance``.
"""

from __future__ import annotations

import sys
import typing as t

from tap_msgreports_emulator.clock import (
    emulator_now,
    emulator_today,
    install_seam,
    moengage_url,
    seam_env,
)

#: The tap's CLI behind a launcher that first moves its MoEngage clock (``--today=``).
LAUNCHER = [sys.executable, "-m", "tap_msgreports_emulator.clocked_tap"]


if t.TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def tap_command(config: Mapping[str, t.Any]) -> list[str]:
    """The tap as a process on the emulator's clock, for this config; its arguments follow.

    The emulator is asked here, before the process starts, as the tap's environment was
    before: a server that is not the emulator sees the question before the run, not in it.
    """
    today = emulator_today(moengage_url(config))
    return [*LAUNCHER, *([f"--today={today.isoformat()}"] if today else [])]


def clock_env() -> dict[str, str]:
    """What Meltano's environment needs for the taps it starts to follow the emulator."""
    return seam_env()


def install_tap_seam(project: Path) -> None:
    """Give the tap's venv of a Meltano project the seam (after every ``meltano install``)."""
    install_seam(project / ".meltano" / "extractors" / "tap-msgreports" / "venv" / "bin" / "python")


__all__ = ["LAUNCHER", "clock_env", "emulator_now", "install_tap_seam", "tap_command"]
