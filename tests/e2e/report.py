"""Figures the end-to-end tests measure, printed at the end of the session.

``tests/conftest.py`` prints them and writes them to ``output/test-report/e2e.md``.
"""

from __future__ import annotations

#: One line per figure, in the order measured.
FIGURES: list[str] = []


def add(line: str) -> None:
    """Keep a figure for the session's summary."""
    FIGURES.append(line)
