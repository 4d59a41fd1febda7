"""Fault injection: which vendor requests fail, how, and how often.

A plan draws faults from its own seeded generator, so for a given seed and order of requests the
same requests fail. A script of faults for the next requests makes a test exact where rates
would only make it likely. A plan can be limited to some vendors or streams; the server takes
several plans, and the first that applies to a request decides its latency and fault, so each
stream can have its own plan and its own guaranteed faults.

A plan only decides; the server counts what it injected, in its request log.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Failures a vendor reports inside an HTTP 200 (CleverTap's `"status": "fail"` envelope, as
# public clients of the real API see it): a 429, a 500, a range refusal. A vendor that never
# does so answers such a request normally, and no fault is logged.
FAILURES_IN_OK = ("200-429", "200-500", "200-range")
# The order is also the order in which one uniform draw is mapped onto the rates.
FAULT_KINDS = ("429", "500", "503", "drop", "truncate", "malformed", "slow", *FAILURES_IN_OK)
# A script entry that lets one request through untouched.
NO_FAULT = "ok"
DEFAULT_SLOW_SECONDS = 1.0
_PLAN_KEYS = frozenset(
    {"rates", "script", "latency_ms", "slow_seconds", "retry_after", "vendors", "streams", "seed"}
)
# The JSON key of several plans, e.g. `{"plans": [{...}, {...}]}`.
PLANS_KEY = "plans"


@dataclass
class FaultPlan:
    """Latency and faults to inject into vendor requests.

    Attributes:
        rates: Probability per fault kind (see `FAULT_KINDS`); they add up to at most 1.
        script: Faults for the next requests, one entry each, used before the rates;
            `"ok"` lets a request through.
        latency_ms: Milliseconds added to every request the plan applies to.
        slow_seconds: How long a `"slow"` fault waits before answering.
        retry_after: Seconds sent as `Retry-After` on injected 429s; None sends no header, like
            the real CleverTap.
        vendors: Vendor names the plan applies to; None means all of them.
        streams: Stream names the plan applies to (`campaigns`, `mlog_items`, ...); None means
            all of them.
        seed: Seed of the draws.
    """

    rates: dict[str, float] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    slow_seconds: float = DEFAULT_SLOW_SECONDS
    retry_after: int | None = None
    vendors: list[str] | None = None
    streams: list[str] | None = None
    seed: int = 1
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the plan and seed its generator.

        Raises:
            ValueError: If a kind is unknown, a rate is out of range or the rates add up to
                more than 1, or a duration is negative.
        """
        _check_kinds([*self.rates, *(s for s in self.script if s != NO_FAULT)])
        if any(not 0 <= rate <= 1 for rate in self.rates.values()) or sum(self.rates.values()) > 1:
            msg = f"fault rates must be between 0 and 1 and add up to at most 1: {self.rates}"
            raise ValueError(msg)
        if self.latency_ms < 0 or self.slow_seconds < 0 or (self.retry_after or 0) < 0:
            msg = "latency_ms, slow_seconds and retry_after must not be negative"
            raise ValueError(msg)
        self._rng = random.Random(f"{self.seed}:faults")  # noqa: S311
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], seed: int = 1) -> FaultPlan:
        """Build a plan from its JSON form (the body of `POST /_emulator/faults`).

        Args:
            data: Keys as the attributes (`rates`, `script`, `latency_ms`, `slow_seconds`,
                `retry_after`, `vendors`, `streams`, `seed`); an empty mapping is a plan without
                faults.
            seed: Seed used when `data` has none.

        Returns:
            The plan.

        Raises:
            ValueError: If a key is unknown or a value has the wrong type.
        """
        unknown = set(data) - _PLAN_KEYS
        if unknown:
            msg = f"unknown fault plan keys: {sorted(unknown)}"
            raise ValueError(msg)
        try:
            return cls(
                rates={
                    str(kind): float(rate) for kind, rate in dict(data.get("rates", {})).items()
                },
                script=[str(kind) for kind in data.get("script", [])],
                latency_ms=float(data.get("latency_ms", 0)),
                slow_seconds=float(data.get("slow_seconds", DEFAULT_SLOW_SECONDS)),
                retry_after=_optional_int(data.get("retry_after")),
                vendors=_optional_names(data.get("vendors")),
                streams=_optional_names(data.get("streams")),
                seed=int(data.get("seed", seed)),
            )
        except (TypeError, AttributeError) as exc:
            msg = f"invalid fault plan: {exc}"
            raise ValueError(msg) from exc

    def to_dict(self) -> dict[str, Any]:
        """Return the plan's JSON form, with what is left of the script.

        Returns:
            A JSON-serialisable dict.
        """
        with self._lock:
            return {
                "rates": dict(self.rates),
                "script": list(self.script),
                "latency_ms": self.latency_ms,
                "slow_seconds": self.slow_seconds,
                "retry_after": self.retry_after,
                "vendors": self.vendors,
                "streams": self.streams,
                "seed": self.seed,
            }

    def applies_to(self, vendor: str, stream: str | None = None) -> bool:
        """Say whether the plan covers a request of a vendor and a stream.

        Args:
            vendor: A vendor name, e.g. `"clevertap"`.
            stream: The stream the request is for, or None if it is for none (a plan limited
                to streams does not cover it).

        Returns:
            True if the plan's latency and faults apply to that request.
        """
        return (self.vendors is None or vendor in self.vendors) and (
            self.streams is None or stream in self.streams
        )

    def next_fault(self, vendor: str, stream: str | None = None) -> str | None:
        """Decide the fault of one request.

        Args:
            vendor: The vendor the request is for.
            stream: The stream the request is for, if any.

        Returns:
            A kind from `FAULT_KINDS`, or None to answer normally.
        """
        if not self.applies_to(vendor, stream):
            return None
        with self._lock:
            kind = self.script.pop(0) if self.script else self._draw()
            return None if kind is None or kind == NO_FAULT else kind

    def _draw(self) -> str | None:
        if not self.rates:
            return None
        draw = self._rng.random()
        threshold = 0.0
        for kind in FAULT_KINDS:
            threshold += self.rates.get(kind, 0.0)
            if draw < threshold:
                return kind
        return None


def plans_from_dict(data: Mapping[str, Any], seed: int = 1) -> FaultPlan | list[FaultPlan]:
    """Build one plan, or several from `{"plans": [...]}` (the first that applies wins).

    Args:
        data: One plan's JSON form, or `{"plans": [plan, ...]}`.
        seed: Seed of the plans that give none.

    Returns:
        The plan, or the list of plans.

    Raises:
        ValueError: If a plan is invalid, or `plans` is not a list of objects.
    """
    if PLANS_KEY not in data:
        return FaultPlan.from_dict(data, seed=seed)
    plans = data[PLANS_KEY]
    if set(data) != {PLANS_KEY} or not isinstance(plans, list):
        msg = f'"{PLANS_KEY}" must be the only key, with a list of plans'
        raise ValueError(msg)
    if not all(isinstance(plan, dict) for plan in plans):
        msg = f'every entry of "{PLANS_KEY}" must be a plan object'
        raise ValueError(msg)
    return [FaultPlan.from_dict(plan, seed=seed) for plan in plans]


def plans_to_dict(faults: FaultPlan | Sequence[FaultPlan]) -> dict[str, Any]:
    """Return the JSON form of one plan or of several (`{"plans": [...]}`).

    Args:
        faults: A plan or a sequence of plans.

    Returns:
        A JSON-serialisable dict.
    """
    if isinstance(faults, FaultPlan):
        return faults.to_dict()
    return {PLANS_KEY: [plan.to_dict() for plan in faults]}


def _check_kinds(kinds: list[str]) -> None:
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        msg = f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)} and {NO_FAULT!r}"
        raise ValueError(msg)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"expected a number of seconds, got {value!r}"
        raise TypeError(msg)
    return int(value)


def _optional_names(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        msg = f"vendors must be a list of names, got {value!r}"
        raise TypeError(msg)
    return [str(name) for name in value]
