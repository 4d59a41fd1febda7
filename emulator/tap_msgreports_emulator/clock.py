"""The tap's MoEngage clock on the emulator's simulated today: a seam the tests and demo own.

MoEngage file life counts from the tap's today (``MoEngageStream.today``, from its ``now()``),
while the emulator's today is simulated (``World.today``, moved by ``/_emulator/advance``). The
tap has no hook for that, on purpose: whoever runs it against the emulator replaces
``MoEngageStream.now``, in one of three ways:

- in the test process: ``tests/conftest.py`` patches it with :func:`emulator_now`;
- a tap process started directly: ``python -m tap_msgreports_emulator.clocked_tap
  --today=...`` (the tap's CLI, after :func:`follow_emulator`);
- a tap that Meltano starts (the demo, the end-to-end tests): Meltano runs the plugin's own
  executable and drops ``PYTHONPATH`` from its environment, so the seam goes into the tap's
  venv: :func:`install_seam` adds a ``.pth`` line there that runs :data:`SEAM` when the
  environment names it (:func:`seam_env`); it patches the class when the tap imports it.

Each asks the emulator at the run's ``moengage_api_url`` (a loopback one only) for its today,
and leaves the real clock when none answers. The standard library and the tap (imported only
once the tap runs), never the emulator: the seam loads this file inside the tap's own venv,
where only the tap is.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import importlib.abc
import importlib.util
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

UTC = dt.timezone.utc
#: The module that defines the class whose clock is moved, and the class.
MODULE = "tap_msgreports.moengage.client"
STREAM_CLASS = "MoEngageStream"
#: What the ``.pth`` of a tap's venv runs when :data:`SEAM_VARIABLE` names it.
SEAM = Path(__file__).with_name("seam.py")
#: Names :data:`SEAM` in the environment of a Meltano command; without it the seam stays off.
SEAM_VARIABLE = "MSGREPORTS_EMULATOR_CLOCK"
PTH_FILE = "tap_msgreports_emulator_clock.pth"
#: site.py runs a .pth line that starts with ``import``, in every process of the venv.
PTH_LINE = (
    f"import os, runpy; (seam := os.environ.get({SEAM_VARIABLE!r})) and runpy.run_path(seam)\n"
)
STATUS_TIMEOUT_SECONDS = 5.0
#: More than any emulator status; a server that is not the emulator may send anything.
STATUS_MAX_BYTES = 1 << 16
#: A loopback URL is never reached through a proxy that the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def emulator_today(url: str) -> dt.date | None:
    """The today of the emulator at ``url``, or None if no emulator answers there."""
    # Imported here: Meltano and the targets load this file too, without the tap.
    from tap_msgreports.settings import is_loopback  # noqa: PLC0415

    url = url.rstrip("/")
    if not url or not is_loopback(urlsplit(url).hostname):
        return None
    try:
        with _OPENER.open(f"{url}/_emulator/status", timeout=STATUS_TIMEOUT_SECONDS) as answer:
            status = json.loads(answer.read(STATUS_MAX_BYTES))
        return dt.date.fromisoformat(status["today"])
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        return None


def moengage_url(config: Mapping[str, Any]) -> str:
    """The run's ``moengage_api_url`` (empty when it reads the vendor)."""
    return str(config.get("moengage_api_url") or "")


def noon(today: dt.date) -> dt.datetime:
    """Noon UTC of a date: the middle of the emulator's day, whatever the time zone."""
    return dt.datetime.combine(today, dt.time(12), tzinfo=UTC)


def emulator_now(stream: Any) -> dt.datetime:  # noqa: ANN401 - a MoEngageStream
    """Noon of the emulator's today, asked at every call: the test process follows advances."""
    today = emulator_today(moengage_url(stream.config))
    return noon(today) if today else dt.datetime.now(UTC)


def fixed_now(today: dt.date) -> Callable[[Any], dt.datetime]:
    """A ``now`` that is always noon of ``today``: a tap process reads one emulator day."""

    def now(stream: Any) -> dt.datetime:  # noqa: ANN401 - a MoEngageStream
        del stream
        return noon(today)

    return now


@functools.cache
def _today_at(url: str) -> dt.date | None:
    return emulator_today(url)


def once_per_process_now(stream: Any) -> dt.datetime:  # noqa: ANN401 - a MoEngageStream
    """Noon of the emulator's today, asked once per process (one run, one emulator day)."""
    today = _today_at(moengage_url(stream.config))
    return noon(today) if today else dt.datetime.now(UTC)


def follow_emulator(now: Callable[[Any], dt.datetime]) -> None:
    """Give the tap's MoEngage stream this clock (the tap must be installed)."""
    module = importlib.import_module(MODULE)
    setattr(getattr(module, STREAM_CLASS), "now", now)  # noqa: B010 - the class is named above


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches the stream class right after the tap imports its module, in this process.

    Nothing is imported before the tap does it: any other process of the tap's venv (pip,
    at an install) only passes by this finder.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        del path, target
        if fullname != MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            setattr(getattr(module, STREAM_CLASS), "now", once_per_process_now)  # noqa: B010

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def follow_emulator_when_imported() -> None:
    """For the seam's ``sitecustomize``: the tap of this process gets the emulator's clock."""
    sys.meta_path.insert(0, _PatchOnImport())


def seam_env() -> dict[str, str]:
    """The variable that switches the seam on, for the environment of Meltano commands."""
    return {SEAM_VARIABLE: str(SEAM)}


def install_seam(python: Path) -> Path:
    """Add the seam's ``.pth`` to the venv of ``python`` (a tap's, that Meltano built).

    Idempotent; ``meltano install`` builds the venv anew, so call it after every install.

    Returns:
        The ``.pth`` file.
    """
    purelib = subprocess.run(  # noqa: S603 - the venv's own interpreter
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    pth = Path(purelib) / PTH_FILE
    pth.write_text(PTH_LINE, encoding="utf-8")
    return pth
