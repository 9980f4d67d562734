"""Percentiles and the run's counters."""

from __future__ import annotations

import pytest

from unmute_server.loadtest.stats import LatencySummary, Tally, percentile


def test_percentile_interpolates_between_closest_ranks() -> None:
    ordered = [10.0, 20.0, 30.0, 40.0]
    assert percentile(ordered, 0) == 10.0
    assert percentile(ordered, 50) == 25.0
    assert percentile(ordered, 100) == 40.0
    assert percentile([float(v) for v in range(1, 101)], 99) == pytest.approx(99.01)


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([7.0], 0) == percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("p", [-1.0, 100.5])
def test_percentile_outside_0_to_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0, 2.0], p)


def test_percentile_of_nothing_is_refused_not_zero() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summary_sorts_the_samples_itself() -> None:
    summary = LatencySummary.of([0.5, 0.1, 0.3, 0.2, 0.4])
    assert summary is not None
    assert summary.count == 5
    assert summary.p50 == 0.3
    assert summary.max == 0.5
    assert summary.mean == pytest.approx(0.3)
    assert summary.p95 == pytest.approx(0.48)


def test_summary_of_no_samples_is_none() -> None:
    assert LatencySummary.of([]) is None


def test_tally_keeps_answers_and_latencies_per_event_type() -> None:
    tally = Tally()
    tally.sent["session.characters.list"] += 2
    tally.record_answer("session.characters.list", 0.01)
    tally.record_answer("session.characters.list", 0.02)
    tally.errors["unknown_character"] += 1
    assert tally.total_sent == tally.total_answered == 2
    assert tally.latencies == {"session.characters.list": [0.01, 0.02]}
    assert tally.total_errors == 1
