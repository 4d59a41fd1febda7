"""The hostile-world table: per attack, what must happen and what the test saw.

A test of ``tests/hostile/`` takes the ``attack`` fixture, names the issue point, the attack
and the expected outcome, and sets ``observed`` once it has seen what the tap did. The rows
are printed at the end of the run (``tests/conftest.py``) and written to
``output/test-report/hostile.md``; a row whose test failed says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Attack:
    """One attack: what was done, what must happen, what happened."""

    point: str
    attack: str
    expected: str
    observed: str = "(the test ended before it saw an outcome)"
    #: Set when the test ends: whether it passed.
    held: bool | None = None


@dataclass
class HostileReport:
    """Every attack of the session, in the order the tests ran."""

    rows: list[Attack] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def markdown(self) -> str:
        head = ["point", "attack", "expected", "observed", "held"]
        rows = [
            [row.point, row.attack, row.expected, row.observed, _held(row.held)]
            for row in sorted(self.rows, key=lambda row: _point_order(row.point))
        ]
        held = sum(row.held is True for row in self.rows)
        lines = [
            "## Hostile world: attacks and outcomes",
            "",
            "| " + " | ".join(head) + " |",
            "| " + " | ".join("---" for _ in head) + " |",
            *("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows),
            "",
            f"attacks held: {held} of {len(self.rows)}",
        ]
        return "\n".join(lines) + "\n"


def _held(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "not run"}[value]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _point_order(point: str) -> tuple[int, str]:
    number = "".join(ch for ch in point if ch.isdigit())
    return (int(number) if number else 0, point)


REPORT = HostileReport()
