"""What a load test run found, as one record with a text view and a JSON view.

The text view is for a person at a terminal; the JSON view (``--json``) is for scripts such
as the benchmark suite, and carries the same numbers in seconds and counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from unmute_server.loadtest.stats import LatencySummary, Tally


@dataclass(frozen=True, slots=True)
class RoundResult:
    """One round of the ``burst`` scenario: every session sent one event at once."""

    answers: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.answers / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Counts, latencies, errors and throughput of one run."""

    scenario: str
    url: str
    sessions: int
    compression: bool
    elapsed_seconds: float
    active_seconds: float
    connects_attempted: int
    connects_succeeded: int
    connect_failures: dict[str, int]
    connect_latency: LatencySummary | None
    sent: dict[str, int]
    answered: dict[str, int]
    latency: dict[str, LatencySummary]
    errors: dict[str, int]
    rounds: tuple[RoundResult, ...] = ()
    cycles_completed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_tally(
        cls,
        tally: Tally,
        *,
        scenario: str,
        url: str,
        sessions: int,
        compression: bool,
        elapsed_seconds: float,
        active_seconds: float,
        rounds: tuple[RoundResult, ...] = (),
        cycles_completed: int = 0,
        settings: dict[str, Any] | None = None,
    ) -> LoadReport:
        latency = {
            kind: summary
            for kind, samples in sorted(tally.latencies.items())
            if (summary := LatencySummary.of(samples)) is not None
        }
        return cls(
            scenario=scenario,
            url=url,
            sessions=sessions,
            compression=compression,
            elapsed_seconds=elapsed_seconds,
            active_seconds=active_seconds,
            connects_attempted=tally.connects_attempted,
            connects_succeeded=tally.connects_succeeded,
            connect_failures=dict(sorted(tally.connect_failures.items())),
            connect_latency=LatencySummary.of(tally.connect_latencies),
            sent={str(kind): count for kind, count in sorted(tally.sent.items())},
            answered={str(kind): count for kind, count in sorted(tally.answered.items())},
            latency={str(kind): summary for kind, summary in latency.items()},
            errors=dict(sorted(tally.errors.items())),
            rounds=rounds,
            cycles_completed=cycles_completed,
            settings=dict(settings or {}),
        )

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_answered(self) -> int:
        return sum(self.answered.values())

    @property
    def unanswered(self) -> int:
        return self.total_sent - self.total_answered

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def connect_failed(self) -> int:
        return self.connects_attempted - self.connects_succeeded

    @property
    def throughput(self) -> float:
        """Answers per second over the active phase (sending to last answer)."""
        if self.active_seconds <= 0:
            return 0.0
        return self.total_answered / self.active_seconds

    @property
    def clean(self) -> bool:
        """No failed connection, no error, no unanswered event."""
        return not self.connect_failed and not self.total_errors and not self.unanswered

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``json.dumps``: seconds and counts, with derived totals."""
        data = asdict(self)
        data["rounds"] = [
            {"answers": r.answers, "seconds": r.seconds, "per_second": r.per_second}
            for r in self.rounds
        ]
        data["totals"] = {
            "sent": self.total_sent,
            "answered": self.total_answered,
            "unanswered": self.unanswered,
            "errors": self.total_errors,
            "connect_failed": self.connect_failed,
            "throughput_per_second": self.throughput,
            "clean": self.clean,
        }
        return data

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def format_report(report: LoadReport) -> str:
    """The report as aligned text lines for a terminal."""
    offered = "offered" if report.compression else "not offered"
    lines = [
        f"unmute-server loadtest: {report.scenario} against {report.url}",
        f"sessions     {report.sessions} requested, {report.connects_succeeded} connected, "
        f"{report.connect_failed} failed (permessage-deflate {offered})",
        f"events       {report.total_sent} sent, {report.total_answered} answered, "
        f"{report.unanswered} unanswered, {report.total_errors} errors",
        f"throughput   {report.throughput:.1f} answers/s over {report.active_seconds:.2f} s "
        f"(run took {report.elapsed_seconds:.2f} s)",
    ]
    if report.cycles_completed:
        lines.append(f"cycles       {report.cycles_completed} connect/reload/disconnect completed")
    for number, result in enumerate(report.rounds, 1):
        lines.append(
            f"round {number:<6} {result.answers} answers in {result.seconds:.3f} s "
            f"= {result.per_second:.1f} answers/s"
        )
    summaries = dict(report.latency)
    if report.connect_latency is not None:
        summaries = {"(connect)": report.connect_latency, **summaries}
    if summaries:
        width = max(len(name) for name in summaries)
        lines.append(
            f"latency ms   {'event'.ljust(width)}    count      p50      p95      p99      max"
        )
        for name, summary in summaries.items():
            lines.append(
                f"             {name.ljust(width)} {summary.count:8d} {_ms(summary.p50)} "
                f"{_ms(summary.p95)} {_ms(summary.p99)} {_ms(summary.max)}"
            )
    if report.connect_failures:
        failures = ", ".join(f"{reason} {n}" for reason, n in report.connect_failures.items())
        lines.append(f"connect      failures by reason: {failures}")
    if report.errors:
        errors = ", ".join(f"{code} {n}" for code, n in report.errors.items())
        lines.append(f"errors       by code: {errors}")
    else:
        lines.append("errors       none")
    return "\n".join(lines)
