"""One benchmark figure: its runs, target and baseline, and the table and JSON views.

A figure's value is the median of its runs; min and max show the spread. A target is an
upper or lower bound on the value and/or on the ratio to the baseline measured in the same
run. A figure without a target is reported for information ("info").
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    """Bounds a figure must meet; any left ``None`` is not checked."""

    at_most: float | None = None
    at_least: float | None = None
    ratio_at_most: float | None = None
    ratio_at_least: float | None = None

    def describe(self, unit: str) -> str:
        parts = []
        if self.at_most is not None:
            parts.append(f"<= {_number(self.at_most)} {unit}".rstrip())
        if self.at_least is not None:
            parts.append(f">= {_number(self.at_least)} {unit}".rstrip())
        if self.ratio_at_most is not None:
            parts.append(f"<= {_number(self.ratio_at_most)}x base")
        if self.ratio_at_least is not None:
            parts.append(f">= {_number(self.ratio_at_least)}x base")
        return ", ".join(parts)


@dataclass(slots=True)
class Figure:
    """A measured figure, one value per run."""

    name: str
    unit: str
    runs: list[float]
    target: Target | None = None
    baseline_name: str | None = None
    baseline_runs: list[float] = field(default_factory=list)
    note: str = ""
    #: Set when the figure could not be measured (the reason); the runs are then empty.
    missing: str | None = None

    @property
    def value(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def baseline(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None

    @property
    def ratio(self) -> float | None:
        value, baseline = self.value, self.baseline
        if value is None or baseline is None or baseline == 0:
            return None
        return value / baseline

    @property
    def verdict(self) -> str:
        """``pass``, ``FAIL``, ``info`` (no target) or ``n/a`` (not measured)."""
        value = self.value
        if value is None:
            return "n/a"
        target = self.target
        if target is None:
            return "info"
        ratio = self.ratio
        checks = [
            target.at_most is None or value <= target.at_most,
            target.at_least is None or value >= target.at_least,
            target.ratio_at_most is None or (ratio is not None and ratio <= target.ratio_at_most),
            target.ratio_at_least is None or (ratio is not None and ratio >= target.ratio_at_least),
        ]
        return "pass" if all(checks) else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.name,
            "value": self.value,
            "unit": self.unit,
            "min": min(self.runs) if self.runs else None,
            "max": max(self.runs) if self.runs else None,
            "runs": self.runs,
            "target": self.target.describe(self.unit) if self.target else None,
            "baseline_name": self.baseline_name,
            "baseline_value": self.baseline,
            "baseline_runs": self.baseline_runs,
            "ratio_to_baseline": self.ratio,
            "result": self.verdict,
            "note": self.note,
            "missing": self.missing,
        }


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude == 0 or magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


COLUMNS = ("figure", "value", "unit", "min..max (runs)", "target", "baseline", "ratio", "result")


def table_rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for figure in figures:
        spread = (
            f"{_number(min(figure.runs))}..{_number(max(figure.runs))} ({len(figure.runs)})"
            if figure.runs
            else (figure.missing or "not measured")
        )
        baseline = (
            f"{_number(figure.baseline)} {figure.baseline_name}" if figure.baseline_name else "-"
        )
        ratio = figure.ratio
        rows.append(
            (
                figure.name,
                _number(figure.value),
                figure.unit,
                spread,
                figure.target.describe(figure.unit) if figure.target else "-",
                baseline,
                f"{ratio:.2f}x" if ratio is not None else "-",
                figure.verdict,
            )
        )
    return rows


def format_table(figures: list[Figure]) -> str:
    """The figures as one aligned text table."""
    rows: list[tuple[str, ...]] = [COLUMNS, *table_rows(figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    numeric = {1, 6}
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in numeric and number else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
