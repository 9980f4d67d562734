"""Every ``error.code`` the server sends, and which kind of error each one is."""

from __future__ import annotations

import enum
from typing import Final, Literal


class ErrorCode(enum.StrEnum):
    """Every ``error.code`` this server sends. Stable: clients match on them."""

    DIRECTORY_NOT_FOUND = "directory_not_found"
    INVALID_DIRECTORY_FORMAT = "invalid_directory_format"
    PACK_OUTSIDE_ROOT = "pack_outside_root"
    PACK_CHANGED_DURING_READ = "pack_changed_during_read"
    NO_VALID_CHARACTERS = "no_valid_characters"
    PACK_TOO_COSTLY = "pack_too_costly"
    STRICT_REJECTED = "strict_rejected"
    UNKNOWN_CHARACTER = "unknown_character"
    INVALID_EVENT = "invalid_event"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_SESSIONS = "too_many_sessions"
    INTERNAL_ERROR = "internal_error"
    DUPLICATE_ITEM_ID = "duplicate_item_id"
    CONVERSATION_ALREADY_HAS_ACTIVE_RESPONSE = "conversation_already_has_active_response"
    #: OpenAI's code for a ``response.cancel`` with no response in progress.
    RESPONSE_CANCEL_NOT_ACTIVE = "response_cancel_not_active"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_UNREACHABLE = "llm_unreachable"
    LLM_TIMEOUT = "llm_timeout"
    LLM_HTTP_ERROR = "llm_http_error"
    LLM_BAD_STREAM = "llm_bad_stream"
    #: The system prompt, or it and the message to answer, do not fit the LLM's context.
    LLM_CONTEXT_EXCEEDED = "llm_context_exceeded"
    #: Audio that cannot be read as the session's format (garbage, an Ogg page never completed).
    INVALID_AUDIO = "invalid_audio"
    #: Audio arrives faster than it is processed, past the session's buffered seconds.
    AUDIO_BUFFER_FULL = "audio_buffer_full"
    #: A format OpenAI names and this server does not speak (G.711), or audio of no known format.
    UNSUPPORTED_AUDIO_FORMAT = "unsupported_audio_format"
    #: OpenAI's code for ``input_audio_buffer.commit`` with nothing in the buffer.
    INPUT_AUDIO_BUFFER_COMMIT_EMPTY = "input_audio_buffer_commit_empty"
    # The next five are the values of ``unmute_server.voice.errors.VoiceErrorCode`` (pinned
    # by a test), so an engine's error is sent with its own code.
    VOICE_ENGINE_UNAVAILABLE = "voice_engine_unavailable"
    VOICE_ENGINE_TIMEOUT = "voice_engine_timeout"
    VOICE_ENGINE_ERROR = "voice_engine_error"
    VOICE_ENGINE_BAD_RESPONSE = "voice_engine_bad_response"
    VOICE_UNSUPPORTED = "voice_unsupported"
    #: A warning: an engine is slower than real time for this session (audio will lag).
    ENGINE_SLOWER_THAN_REAL_TIME = "engine_slower_than_real_time"


#: Codes for the server's own failures (``server_error``).
SERVER_ERROR_CODES: Final = frozenset(
    {
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.LLM_UNAVAILABLE,
        ErrorCode.LLM_UNREACHABLE,
        ErrorCode.LLM_TIMEOUT,
        ErrorCode.LLM_HTTP_ERROR,
        ErrorCode.LLM_BAD_STREAM,
        ErrorCode.VOICE_ENGINE_UNAVAILABLE,
        ErrorCode.VOICE_ENGINE_TIMEOUT,
        ErrorCode.VOICE_ENGINE_ERROR,
        ErrorCode.VOICE_ENGINE_BAD_RESPONSE,
        ErrorCode.VOICE_UNSUPPORTED,
    }
)

#: Codes sent with ``error.type`` ``warning``: the peer's frontend logs these and shows
#: nothing, and nothing failed (the session and any response carry on).
WARNING_CODES: Final = frozenset({ErrorCode.ENGINE_SLOWER_THAN_REAL_TIME})

ErrorKind = Literal["invalid_request_error", "server_error", "warning"]


def error_kind(code: ErrorCode) -> ErrorKind:
    """``error.type`` for ``code``: a warning, the server's failure, or else the client's."""
    if code in WARNING_CODES:
        return "warning"
    if code in SERVER_ERROR_CODES:
        return "server_error"
    return "invalid_request_error"
