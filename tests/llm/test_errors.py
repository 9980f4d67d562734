"""LLM error codes are protocol: their values are pinned here."""

from __future__ import annotations

from unmute_server.llm import LLMError, LLMErrorCode


def test_codes_have_their_protocol_values() -> None:
    assert {code.value for code in LLMErrorCode} == {
        "llm_timeout",
        "llm_unreachable",
        "llm_http_error",
        "llm_bad_stream",
        "llm_unavailable",
        "llm_context_exceeded",
    }


def test_errors_compare_by_code_and_message_and_show_both() -> None:
    error = LLMError(LLMErrorCode.TIMEOUT, "slow")
    assert error == LLMError(LLMErrorCode.TIMEOUT, "slow")
    assert error != LLMError(LLMErrorCode.TIMEOUT, "slower")
    assert str(error) == "llm_timeout: slow"
    assert repr(error) == "LLMError('llm_timeout', 'slow')"
    assert len({error, LLMError(LLMErrorCode.TIMEOUT, "slow")}) == 1
