"""Error codes: which kind each one is, and the voice engines' codes among them."""

from __future__ import annotations

import json

import pytest

from tests.server.conftest import SERVER_SCHEMA
from unmute_server.protocol.error_codes import WARNING_CODES, ErrorCode, error_kind
from unmute_server.protocol.events import encode, error_event, warning_event
from unmute_server.voice.errors import VoiceErrorCode


def test_every_voice_engine_code_is_a_protocol_code_and_a_server_error() -> None:
    for code in VoiceErrorCode:
        protocol_code = ErrorCode(code.value)
        assert error_kind(protocol_code) == "server_error"


def test_the_voice_engine_codes_are_pinned() -> None:
    assert {code.value for code in VoiceErrorCode} == {
        "voice_engine_unavailable",
        "voice_engine_timeout",
        "voice_engine_error",
        "voice_engine_bad_response",
        "voice_unsupported",
    }


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (ErrorCode.INVALID_AUDIO, "invalid_request_error"),
        (ErrorCode.AUDIO_BUFFER_FULL, "invalid_request_error"),
        (ErrorCode.UNSUPPORTED_AUDIO_FORMAT, "invalid_request_error"),
        (ErrorCode.INPUT_AUDIO_BUFFER_COMMIT_EMPTY, "invalid_request_error"),
        (ErrorCode.VOICE_ENGINE_TIMEOUT, "server_error"),
        (ErrorCode.ENGINE_SLOWER_THAN_REAL_TIME, "warning"),
    ],
)
def test_each_audio_code_has_its_kind(code: ErrorCode, kind: str) -> None:
    assert error_kind(code) == kind
    assert error_event(code, "m").error.type == kind


def test_a_warning_has_the_shape_unmutes_frontend_reads() -> None:
    event = warning_event(
        ErrorCode.ENGINE_SLOWER_THAN_REAL_TIME, "speech-to-text is slower than real time"
    )
    payload = json.loads(encode(event))
    SERVER_SCHEMA.validate(payload)
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "warning"
    assert payload["error"]["code"] == "engine_slower_than_real_time"
    assert payload["error"]["message"] == "speech-to-text is slower than real time"


def test_only_warning_codes_make_warnings() -> None:
    assert {ErrorCode.ENGINE_SLOWER_THAN_REAL_TIME} == WARNING_CODES
    with pytest.raises(ValueError, match="not a warning code"):
        warning_event(ErrorCode.VOICE_ENGINE_TIMEOUT, "m")
