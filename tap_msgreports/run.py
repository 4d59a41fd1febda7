"""What the streams of one run share, handed to each stream by the tap that makes it.

A stream never reaches back into the tap for these: the tap knows its sources, a source
does not know the tap (no import circle, no untyped attribute lookups).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tap_msgreports.concurrency import ThrottleRegistry
from tap_msgreports.stopping import Stop


@dataclass(frozen=True)
class RunContext:
    """The throttles every stream of an account shares, and the run's stop."""

    throttles: ThrottleRegistry = field(default_factory=ThrottleRegistry)
    stop: Stop = field(default_factory=Stop)

    @classmethod
    def of(cls, tap: object) -> RunContext:
        """The run context a tap holds as ``run`` (for streams made without one).

        Raises:
            TypeError: when ``tap`` holds none.
        """
        found = getattr(tap, "run", None)
        if not isinstance(found, RunContext):
            msg = f"{type(tap).__name__} has no RunContext as 'run'"
            raise TypeError(msg)
        return found
