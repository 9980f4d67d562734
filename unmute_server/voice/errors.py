"""The one error type the voice path raises for an engine's failure, with a stable code."""

from __future__ import annotations

import enum


class VoiceErrorCode(enum.StrEnum):
    """Why an engine failed; the server sends the value as the ``error`` event's code."""

    #: The engine cannot be reached (connection refused, DNS, TLS).
    UNAVAILABLE = "voice_engine_unavailable"
    #: The engine did not answer within its timeout.
    TIMEOUT = "voice_engine_timeout"
    #: The engine answered with an error (an HTTP status, an ``Error`` message).
    REJECTED = "voice_engine_error"
    #: The engine answered something the adapter cannot read.
    BAD_RESPONSE = "voice_engine_bad_response"
    #: The engine cannot do what was asked (a language the embedded STT does not have).
    UNSUPPORTED = "voice_unsupported"


class VoiceEngineError(Exception):
    """An engine failed. ``message`` is safe to send to a client: it never holds a URL or key."""

    def __init__(self, code: VoiceErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
