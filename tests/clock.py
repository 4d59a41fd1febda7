"""The tap's MoEngage clock follows the emulator it reads from.

MoEngage file life counts from the tap's today, which comes from the clock, while the
emulator's today is simulated (``World.today``, a fixed date in the tests). In this process
:func:`emulator_now` stands in for ``MoEngageStream.now`` (see ``conftest.py``); a tap run as
a process gets the same from ``TAP_MSGREPORTS_EMULATOR_TODAY`` (:func:`clock_env`). Both ask
the emulator of the run's ``moengage_api_url`` for its today, so they follow
``World.advance``.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import urlparse

import requests

from tap_msgreports.moengage.settings import EMULATOR_TODAY_VARIABLE
from tap_msgreports.settings import is_loopback

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_msgreports.moengage.client import MoEngageStream

UTC = dt.timezone.utc


def emulator_today(config: Mapping[str, t.Any]) -> dt.date | None:
    """The today of the emulator at ``moengage_api_url``, or None if it is not one."""
    url = str(config.get("moengage_api_url") or "").rstrip("/")
    if not url or not is_loopback(urlparse(url).hostname):
        return None
    try:
        status = requests.get(f"{url}/_emulator/status", timeout=5).json()
        return dt.date.fromisoformat(status["today"])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None


def emulator_now(stream: MoEngageStream) -> dt.datetime:
    """Noon UTC of the emulator's today, or the real time when the run reads no emulator."""
    today = emulator_today(stream.config)
    if today is None:
        return dt.datetime.now(UTC)
    return dt.datetime.combine(today, dt.time(12), tzinfo=UTC)


def clock_env(config: Mapping[str, t.Any]) -> dict[str, str]:
    """The environment that gives a tap process the emulator's today (empty without one)."""
    today = emulator_today(config)
    return {EMULATOR_TODAY_VARIABLE: today.isoformat()} if today else {}
