"""The load generator behind ``unmute-server loadtest``.

It opens many real WebSocket sessions against one server (loopback only, unless told
otherwise), drives a realistic event mix, and reports connection success, latency
percentiles per event type, errors by code and throughput. The benchmark suite
(``tests/perf``) runs it in its own process; tests run :func:`run_load` in-process.
"""

from __future__ import annotations

from unmute_server.loadtest.mix import (
    EXPECTED_ANSWER,
    Action,
    ActionKind,
    payload,
    plan_session,
    reload_pack,
    steady_action,
)
from unmute_server.loadtest.pacer import Pacer
from unmute_server.loadtest.progress import Progress, ProgressSnapshot, progress_line
from unmute_server.loadtest.report import LoadReport, RoundResult, format_report
from unmute_server.loadtest.rlimit import OpenFileLimit, raise_open_file_limit
from unmute_server.loadtest.runner import LoadConfig, Scenario, run_load
from unmute_server.loadtest.stats import LatencySummary, Tally, percentile
from unmute_server.loadtest.target import TargetError, check_target, is_loopback_host

__all__ = [
    "EXPECTED_ANSWER",
    "Action",
    "ActionKind",
    "LatencySummary",
    "LoadConfig",
    "LoadReport",
    "OpenFileLimit",
    "Pacer",
    "Progress",
    "ProgressSnapshot",
    "RoundResult",
    "Scenario",
    "Tally",
    "TargetError",
    "check_target",
    "format_report",
    "is_loopback_host",
    "payload",
    "percentile",
    "plan_session",
    "progress_line",
    "raise_open_file_limit",
    "reload_pack",
    "run_load",
    "steady_action",
]
