"""Fit a chat request into the LLM's context: the system prompt, the newest turns, room to answer.

A conversation's history is bounded in characters (`HistoryLimits`), not in the model's tokens:
a small model's slot (2,048 tokens for the embedded one) fills up after a dozen turns, and
llama.cpp then refuses the whole request, so an answer is lost. `ContextWindow.fit` is what
every request goes through before it leaves: the system prompt is kept whole and first (so the
model's prompt cache still reuses it), then the newest messages that fit, oldest dropped first,
always whole, never the newest one (the message being answered), and a window that starts
with the user's words, never with an answer whose question is gone.

Tokens are not counted by the model: they are bounded from above by `estimate_tokens`, a pure
function of the text, so fitting costs no request and no latency. The bound was measured on
SmolLM2's tokenizer (through llama.cpp's `/tokenize`) for English and French: the ASCII letters
and spaces of ordinary prose took at least 2.4 characters a token (4 to 5 for English), while
digits, punctuation and accented letters often took a token each; random consonants took 1.7.
So a letter or space counts half a token and every other character as many tokens as its UTF-8
bytes (a byte-level tokenizer never needs more); each message adds the chat template's tokens.
It over-counts English prose about twofold: the price of never losing an answer to a miscount.
Text that is no language (runs of random consonants) can take more tokens than the bound says;
llama.cpp then refuses that request as before (`llm_http_error`).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass

from unmute_server.llm import ChatMessage, LLMError, LLMErrorCode

#: ASCII letters and the space: what ordinary English and French prose is mostly made of.
_PLAIN = frozenset(string.ascii_letters + " ")
#: Characters of `_PLAIN` that one token covers at least (measured least for real text: 2.4).
PLAIN_CHARACTERS_PER_TOKEN = 2
#: The chat template's tokens around each message (ChatML: `<|im_start|>role\n...<|im_end|>\n`).
MESSAGE_OVERHEAD_TOKENS = 5
#: The template's start of the answer (`<|im_start|>assistant\n`), sent with every request.
ANSWER_PRIMER_TOKENS = 3


def estimate_tokens(text: str) -> int:
    """At least as many tokens as `text` takes (see the module's docstring for the bound)."""
    plain = 0
    other = 0
    for character in text:
        if character in _PLAIN:
            plain += 1
        else:
            other += len(character.encode("utf-8", "surrogatepass"))
    return math.ceil(plain / PLAIN_CHARACTERS_PER_TOKEN) + other


def message_tokens(message: ChatMessage) -> int:
    """At least as many tokens as `message` takes in a request, template included."""
    return estimate_tokens(message.content) + MESSAGE_OVERHEAD_TOKENS


@dataclass(frozen=True, slots=True)
class ContextWindow:
    """The tokens one request may hold (`tokens`) and those kept free for the answer
    (`answer_tokens`, the `max_tokens` sent with it)."""

    tokens: int
    answer_tokens: int

    def __post_init__(self) -> None:
        if self.answer_tokens < 1 or self.tokens <= self.answer_tokens + ANSWER_PRIMER_TOKENS:
            raise ValueError(
                f"a context of {self.tokens} tokens leaves no room for a prompt next to "
                f"{self.answer_tokens} tokens of answer"
            )

    @property
    def prompt_tokens(self) -> int:
        """The tokens the messages may take: the context less the answer's room."""
        return self.tokens - self.answer_tokens - ANSWER_PRIMER_TOKENS

    def fit(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """`messages` (an optional system message first, then the conversation, oldest first)
        with the oldest conversation messages left out until the rest fits.

        Raises `LLMError` `llm_context_exceeded`, naming the budget, when the system prompt
        with the newest message alone does not fit: no request is worth sending then, and
        cutting either would change what the character is or what it is asked.
        """
        system = list(messages[:1]) if messages and messages[0].role == "system" else []
        turns = list(messages[len(system) :])
        budget = self.prompt_tokens
        if system:
            needed = message_tokens(system[0])
            if needed > budget:
                raise LLMError(
                    LLMErrorCode.CONTEXT_EXCEEDED,
                    f"the character's system prompt needs up to {needed} tokens, more than the "
                    f"{budget} a context of {self.tokens} leaves beside {self.answer_tokens} for "
                    "the answer; shorten the prompt or raise --llm-context",
                )
            budget -= needed
        kept: list[ChatMessage] = []
        for message in reversed(turns):
            needed = message_tokens(message)
            if needed > budget:
                break
            kept.append(message)
            budget -= needed
        if turns and not kept:
            raise LLMError(
                LLMErrorCode.CONTEXT_EXCEEDED,
                f"the message to answer needs up to {message_tokens(turns[-1])} tokens, more "
                f"than the {budget} a context of {self.tokens} leaves beside the system prompt "
                f"and {self.answer_tokens} tokens for the answer; send a shorter message",
            )
        kept.reverse()
        # Cut at a turn boundary: an answer whose question was left out goes too.
        while len(kept) < len(turns) and len(kept) > 1 and kept[0].role == "assistant":
            del kept[0]
        return system + kept
