"""Fitting a request into the LLM's context: the rule, on plain lists of messages."""

from __future__ import annotations

import pytest

from unmute_server.conversation.context_window import (
    ANSWER_PRIMER_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    ContextWindow,
    estimate_tokens,
    message_tokens,
)
from unmute_server.llm import ChatMessage, LLMError, LLMErrorCode


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("ab cd", 3),  # letters and spaces: half a token each, rounded up
        ("Hello there.", 7),  # 11 letters and spaces, and the full stop
        ("1940", 4),  # a digit can be a token of its own
        ("été", 5),  # é is two UTF-8 bytes
        ("🙂", 4),
    ],
)
def test_the_estimate_counts_letters_at_half_a_token_and_the_rest_by_bytes(
    text: str, tokens: int
) -> None:
    assert estimate_tokens(text) == tokens


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage("assistant", text)


#: 40 letters and spaces: 20 tokens, 25 with the template's.
TEXT = "word " * 8
COST = 25
SYSTEM = ChatMessage("system", TEXT)


def window_for(messages: int, *, answer: int = 10) -> ContextWindow:
    """A window holding exactly `messages` messages of `TEXT`, system prompt included."""
    return ContextWindow(messages * COST + answer + ANSWER_PRIMER_TOKENS, answer)


def test_a_conversation_that_fits_is_sent_whole_even_when_the_character_spoke_first() -> None:
    assert message_tokens(SYSTEM) == COST == 20 + MESSAGE_OVERHEAD_TOKENS
    messages = [SYSTEM, assistant(TEXT), user(TEXT), assistant(TEXT), user(TEXT)]
    assert window_for(5).fit(messages) == messages


def test_the_oldest_messages_go_first_and_the_window_starts_with_the_user() -> None:
    turns = [user(f"{n} " + TEXT[2:]) if n % 2 == 0 else assistant(TEXT) for n in range(7)]
    # Room for the system prompt and four messages: the oldest three go, and then the answer
    # that would start the window (its question is gone) goes too.
    fitted = window_for(5).fit([SYSTEM, *turns])
    assert fitted == [SYSTEM, turns[4], turns[5], turns[6]]


def test_a_smaller_older_message_is_not_kept_once_a_newer_one_was_left_out() -> None:
    turns = [user("hi"), assistant(TEXT * 3), user(TEXT)]
    assert window_for(3).fit([SYSTEM, *turns]) == [SYSTEM, turns[2]]


def test_without_a_system_prompt_all_the_room_is_the_conversations() -> None:
    turns = [user(TEXT), assistant(TEXT), user(TEXT)]
    assert window_for(3).fit(turns) == turns
    assert window_for(2).fit(turns) == [turns[2]]


def test_the_newest_message_is_kept_when_it_is_an_answer() -> None:
    turns = [user(TEXT), assistant(TEXT)]
    assert window_for(2).fit([SYSTEM, *turns]) == [SYSTEM, turns[1]]


def test_a_system_prompt_that_cannot_fit_is_refused_naming_the_budget() -> None:
    window = window_for(1, answer=10)
    big = ChatMessage("system", TEXT * 2)
    with pytest.raises(LLMError) as raised:
        window.fit([big, user("Hello?")])
    assert raised.value.code is LLMErrorCode.CONTEXT_EXCEEDED
    assert raised.value.message == (
        "the character's system prompt needs up to 45 tokens, more than the 25 a context of 38 "
        "leaves beside 10 for the answer; shorten the prompt or raise --llm-context"
    )


def test_a_message_to_answer_that_cannot_fit_beside_the_prompt_is_refused() -> None:
    with pytest.raises(LLMError) as raised:
        window_for(2).fit([SYSTEM, user(TEXT * 2)])
    assert raised.value.code is LLMErrorCode.CONTEXT_EXCEEDED
    assert raised.value.message.startswith(
        "the message to answer needs up to 45 tokens, more than the 25 a context of 63 leaves "
        "beside the system prompt and 10 tokens for the answer"
    )


def test_a_window_must_leave_room_beside_the_answer() -> None:
    with pytest.raises(ValueError, match="a context of 100 tokens leaves no room"):
        ContextWindow(100, 97)
    with pytest.raises(ValueError, match="no room"):
        ContextWindow(100, 0)
