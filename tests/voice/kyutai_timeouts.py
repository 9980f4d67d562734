"""Assertions the Kyutai adapters' timeout tests share: what a timeout raises and logs."""

from __future__ import annotations

import pytest

from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode

TIMEOUT_LOGGER = "unmute_server.voice._kyutai_endpoint"


def timeout_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == TIMEOUT_LOGGER]


def assert_idle_timeout(
    error: VoiceEngineError, caplog: pytest.LogCaptureFixture, service: str
) -> None:
    """A server that owed an answer and said nothing for 0.3 s: its code, message, log line."""
    assert error.code is VoiceErrorCode.TIMEOUT
    assert error.message == f"the Kyutai {service} server stopped answering for more than 0.3 s"
    assert timeout_logs(caplog) == [f"Kyutai {service} read: idle timeout"]
