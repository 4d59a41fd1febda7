"""The fault suite's report: per case and stream, what was injected, survived and lost.

Built from the emulator's request log and the differences with its truth; tests add their
outcomes to :data:`REPORT`, which ``tests/conftest.py`` prints at the end of the run and
writes to ``output/test-report/faults.md``.
"""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Sequence

    from tap_msgreports_emulator import LoggedRequest

#: Columns of injected faults; a 429 sent with ``Retry-After`` is its own kind here, and so
#: is a failure inside an HTTP 200 (CleverTap's ``"status": "fail"`` with code 429 or 500).
KINDS = (
    *("429", "429 Retry-After", "500", "503", "drop", "truncate", "malformed", "slow"),
    *("200-429", "200-500"),
)
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
SURVIVED_MEANS = (
    "survived: injected faults whose request was asked again and answered normally, in a "
    "stream that ended equal to the emulator's truth."
)


def kind_of(entry: LoggedRequest) -> str | None:
    """The report's kind of an injected fault, or None for a request without one."""
    if entry.fault == "429" and entry.retry_after is not None:
        return "429 Retry-After"
    return entry.fault


def recovered(log: Sequence[LoggedRequest]) -> list[LoggedRequest]:
    """Faulted requests that were asked again later and then answered normally."""
    # By arrival: a slow answer is logged when it is sent, after the retry that overtook it.
    log = sorted(log, key=lambda entry: entry.arrived)
    answered_after: dict[str, int] = {}  # resource -> last position answered normally
    for position, entry in enumerate(log):
        if entry.fault is None and entry.status not in {None, *RETRIED_STATUSES}:
            answered_after[entry.resource] = position
    return [
        entry
        for position, entry in enumerate(log)
        if entry.fault is not None and answered_after.get(entry.resource, -1) > position
    ]


@dataclass(frozen=True)
class StreamOutcome:
    """One stream in one fault case."""

    case: str
    stream: str
    requests: int
    injected: dict[str, int]
    #: Injected faults whose request was later answered normally, in a stream that ended
    #: equal to the truth; anything else is not survived.
    survived: int
    truth: int
    missing: int
    stale: int
    unexpected: int

    @property
    def injected_total(self) -> int:
        return sum(self.injected.values())

    @property
    def equal_to_truth(self) -> bool:
        return (self.missing, self.stale, self.unexpected) == (0, 0, 0)


def stream_outcomes(
    case: str, log: Sequence[LoggedRequest], differences: dict[str, dict[str, int]]
) -> list[StreamOutcome]:
    """Per stream of ``differences``: requests, faults by kind, survived, rows."""
    back = Counter(entry.stream for entry in recovered(log))
    outcomes = []
    for stream, rows in differences.items():
        entries = [entry for entry in log if entry.stream == stream]
        injected = Counter(kind for entry in entries if (kind := kind_of(entry)) is not None)
        equal = (rows["missing"], rows["stale"], rows["unexpected"]) == (0, 0, 0)
        outcomes.append(
            StreamOutcome(
                case=case,
                stream=stream,
                requests=len(entries),
                injected={kind: injected[kind] for kind in KINDS},
                survived=back[stream] if equal else 0,
                truth=rows["truth"],
                missing=rows["missing"],
                stale=rows["stale"],
                unexpected=rows["unexpected"],
            )
        )
    return outcomes


@dataclass(frozen=True)
class KillOutcome:
    """One run SIGKILLed at a random point of its output, then resumed from its state."""

    seed: int
    stream: str | None
    lookback_days: str
    read: int
    #: The message the kill cut in two (``RECORD``, ``STATE``...), None between two.
    cut_message: str | None
    states: int
    fresh_rows: int
    resumed_rows: int
    missing: int
    stale: int
    unexpected: int

    @property
    def equal_to_truth(self) -> bool:
        return (self.missing, self.stale, self.unexpected) == (0, 0, 0)


@dataclass
class FaultReport:
    """Every fault case and kill of the session."""

    cases: list[StreamOutcome] = field(default_factory=list)
    kills: list[KillOutcome] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cases or self.kills)

    def markdown(self) -> str:
        lines = []
        if self.cases:
            lines += self._cases_table()
        if self.kills:
            lines += self._kills_table()
        return "\n".join(lines) + "\n"

    def _cases_table(self) -> list[str]:
        head = ["case", "stream", "requests", *KINDS, "injected", "survived"]
        head += ["truth", "missing", "stale", "unexpected"]
        rows = [_case_row(o.case, o.stream, [o]) for o in self.cases]
        rows.append(_case_row("all cases", "all streams", self.cases))
        return [
            "## Faults injected and survived",
            "",
            SURVIVED_MEANS,
            "",
            *_table(head, rows),
            "",
        ]

    def _kills_table(self) -> list[str]:
        head = ["seed", "killed in", "lookback (days)", "bytes read", "cut mid-message"]
        head += ["STATEs read", "rows of a fresh run", "rows of the resumed run"]
        head += ["missing", "stale", "unexpected"]
        rows = [
            [
                str(k.seed),
                k.stream or "-",
                k.lookback_days,
                str(k.read),
                k.cut_message or "-",
                str(k.states),
                str(k.fresh_rows),
                str(k.resumed_rows),
                str(k.missing),
                str(k.stale),
                str(k.unexpected),
            ]
            for k in self.kills
        ]
        equal = sum(k.equal_to_truth for k in self.kills)
        per_stream = Counter(k.stream or "-" for k in self.kills)
        where = ", ".join(f"{stream} {n}" for stream, n in sorted(per_stream.items()))
        cut = Counter(k.cut_message or "between two" for k in self.kills)
        mid = ", ".join(f"{message} {n}" for message, n in sorted(cut.items()))
        summary = (
            f"kills: {len(self.kills)} (in {where}; cut mid-message: {mid}); "
            f"resumed equal to the truth: {equal} of {len(self.kills)}"
        )
        return [
            "## Kills and resumes",
            "",
            *_table(head, rows),
            "",
            summary,
            "",
        ]


def _case_row(case: str, stream: str, outcomes: Sequence[StreamOutcome]) -> list[str]:
    counts = [
        sum(o.requests for o in outcomes),
        *(sum(o.injected[kind] for o in outcomes) for kind in KINDS),
        sum(o.injected_total for o in outcomes),
        sum(o.survived for o in outcomes),
        sum(o.truth for o in outcomes),
        sum(o.missing for o in outcomes),
        sum(o.stale for o in outcomes),
        sum(o.unexpected for o in outcomes),
    ]
    return [case, stream, *map(str, counts)]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(head), line(["-" * w for w in widths]), *(line(row) for row in rows)]


REPORT = FaultReport()
