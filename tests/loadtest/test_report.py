"""The run report: totals, the text view and the JSON view."""

from __future__ import annotations

import json

from unmute_server.loadtest.report import LoadReport, RoundResult, format_report
from unmute_server.loadtest.stats import Tally


def report_of(tally: Tally, **overrides: object) -> LoadReport:
    fields: dict[str, object] = {
        "scenario": "mix",
        "url": "ws://127.0.0.1:1/v1/realtime",
        "sessions": 2,
        "compression": True,
        "elapsed_seconds": 3.0,
        "active_seconds": 2.0,
    }
    fields.update(overrides)
    return LoadReport.from_tally(tally, **fields)  # type: ignore[arg-type]


def clean_tally() -> Tally:
    tally = Tally(connects_attempted=2, connects_succeeded=2)
    for seconds in (0.001, 0.002, 0.003):
        tally.sent["session.characters.list"] += 1
        tally.record_answer("session.characters.list", seconds)
    tally.sent["session.characters.reload"] += 1
    tally.record_answer("session.characters.reload", 0.010)
    return tally


def test_totals_and_throughput_come_from_the_tally() -> None:
    report = report_of(clean_tally())
    assert report.total_sent == report.total_answered == 4
    assert report.unanswered == 0
    assert report.throughput == 2.0
    assert report.clean


def test_an_error_an_unanswered_event_or_a_failed_connection_is_not_clean() -> None:
    with_error = clean_tally()
    with_error.errors["unknown_character"] += 1
    unanswered = clean_tally()
    unanswered.sent["session.update"] += 1
    failed = clean_tally()
    failed.connects_attempted += 1
    failed.connect_failures["connect_econnrefused"] += 1
    for tally in (with_error, unanswered, failed):
        assert not report_of(tally).clean


def test_text_view_shows_latency_in_ms_per_event_type() -> None:
    text = format_report(report_of(clean_tally()))
    line = next(line for line in text.splitlines() if "session.characters.reload" in line)
    assert line.split()[1:] == ["1", "10.00", "10.00", "10.00", "10.00"]
    assert "4 sent, 4 answered, 0 unanswered, 0 errors" in text
    assert "errors       none" in text


def test_text_view_lists_errors_and_connect_failures_by_code() -> None:
    tally = clean_tally()
    tally.errors["rate_limited"] += 3
    tally.connect_failures["handshake_503"] += 1
    text = format_report(report_of(tally))
    assert "errors       by code: rate_limited 3" in text
    assert "failures by reason: handshake_503 1" in text


def test_text_view_shows_each_burst_round() -> None:
    report = report_of(clean_tally(), rounds=(RoundResult(answers=100, seconds=0.5),))
    assert "round 1      100 answers in 0.500 s = 200.0 answers/s" in format_report(report)


def test_json_view_carries_seconds_counts_and_totals() -> None:
    data = json.loads(report_of(clean_tally()).to_json_text())
    assert data["latency"]["session.characters.reload"]["p99"] == 0.010
    assert data["sent"] == {"session.characters.list": 3, "session.characters.reload": 1}
    assert data["totals"] == {
        "sent": 4,
        "answered": 4,
        "unanswered": 0,
        "errors": 0,
        "connect_failed": 0,
        "throughput_per_second": 2.0,
        "clean": True,
    }
