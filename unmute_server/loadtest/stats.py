"""Latency percentiles and the counters one load test run accumulates.

Percentiles are computed exactly from every sample (no sketch): a run holds at most a few
million floats, and an exact p99 is what the targets are stated in. The method is linear
interpolation between closest ranks, the default of NumPy and of most dashboards, so a
figure here can be checked against another tool.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) of already sorted ``ordered``, interpolated.

    Raises ``ValueError`` for an empty sequence or ``p`` outside 0..100: a percentile of
    nothing is not zero, and a caller that reports one has a bug.
    """
    if not ordered:
        raise ValueError("percentile of no samples")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, not {p}")
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """One event type's answer latencies, in seconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> LatencySummary | None:
        """The summary of ``samples`` (any order), or ``None`` when there are none."""
        if not samples:
            return None
        ordered = sorted(samples)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )


@dataclass(slots=True)
class Tally:
    """Everything one run counts. Mutated only from the event loop's thread, so no lock."""

    connects_attempted: int = 0
    connects_succeeded: int = 0
    connect_failures: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    connect_latencies: list[float] = field(default_factory=list)
    closed_sessions: int = 0

    def record_answer(self, event_type: str, seconds: float) -> None:
        self.answered[event_type] += 1
        samples = self.latencies.get(event_type)
        if samples is None:
            samples = self.latencies[event_type] = []
        samples.append(seconds)

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_answered(self) -> int:
        return sum(self.answered.values())

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())
