"""The embedded LLM with the real bundled model: found, checked, started, streamed, stopped.

One ``unmute-server llm-serve`` child (about 2 s to start, 200-300 MB) serves the module;
answers are capped at a few tokens so the model's speed hardly counts.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]  # no stubs in the test extras
import pytest

from unmute_server.conversation.context_window import (
    ANSWER_PRIMER_TOKENS,
    estimate_tokens,
    message_tokens,
)
from unmute_server.llm import ChatMessage, LLMSettings
from unmute_server.llm.embedded import (
    EmbeddedLLM,
    EmbeddedLLMError,
    bundled_model_file,
    check_model_file,
)
from unmute_server.llm.embedded_process import EmbeddedLLMProcess
from unmute_server.llm.openai_backend import OpenAICompatibleBackend
from unmute_server.llm.settings import BUNDLED_MODEL_NAME, DEFAULT_CONTEXT, EmbeddedLLMSettings

SHORT = 12


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedLLMProcess]:
    llm = EmbeddedLLMProcess.start(EmbeddedLLMSettings(slots=1, max_tokens=SHORT))
    yield llm
    llm.stop()


def test_the_bundled_model_is_installed_as_a_gguf_file() -> None:
    path = bundled_model_file()
    check_model_file(path)
    assert path.suffix == ".gguf"


def test_a_file_that_is_not_gguf_is_refused_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model at all")
    with pytest.raises(EmbeddedLLMError, match=f"model file '{fake}' is not a GGUF file"):
        EmbeddedLLM.start(EmbeddedLLMSettings(model_file=fake))


def test_a_missing_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"
    with pytest.raises(EmbeddedLLMError, match=f"model file '{missing}' cannot be read"):
        EmbeddedLLM.start(EmbeddedLLMSettings(model_file=missing))


def test_it_listens_on_loopback_and_is_reached_with_its_own_settings(
    embedded: EmbeddedLLMProcess,
) -> None:
    assert embedded.url.startswith("http://127.0.0.1:")
    remote = embedded.client_settings()
    assert remote == LLMSettings(
        url=embedded.url,
        model=BUNDLED_MODEL_NAME,
        max_tokens=SHORT,
        slots=1,
        context=DEFAULT_CONTEXT,
    )


async def test_the_openai_backend_streams_a_real_answer_in_several_deltas(
    embedded: EmbeddedLLMProcess,
) -> None:
    backend = OpenAICompatibleBackend(embedded.client_settings())
    try:
        question = [ChatMessage("system", "You are Nova."), ChatMessage("user", "Hello!")]
        async with aclosing(backend.stream(question)) as stream:
            deltas = [delta async for delta in stream]
    finally:
        await backend.aclose()
    assert len(deltas) > 1
    assert "".join(deltas).strip()


async def test_a_request_that_goes_away_stops_its_generation_in_llama_cpp(
    embedded: EmbeddedLLMProcess,
) -> None:
    """What the slots rely on: the llama.cpp slot is free as soon as its client hangs up.

    The request asks for 2000 tokens and forbids the model to stop by itself, so only the
    hang-up can end it early; a slot still busy after the bounded wait below (a few seconds,
    a tenth of the time 2000 tokens take here) would fail the test.
    """
    base = embedded.url.removesuffix("/v1")
    body = {
        "messages": [{"role": "user", "content": "Tell me a very long story."}],
        "max_tokens": 2000,
        "ignore_eos": True,
        "stream": True,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/v1/chat/completions", json=body) as response:
            assert response.status == 200
            for _ in range(3):
                await response.content.readline()
        for _ in range(100):
            async with http.get(f"{base}/slots") as slots_response:
                slots = json.loads(await slots_response.text())
            if not slots[0]["is_processing"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the llama.cpp slot kept generating after its client left")


def test_stop_ends_the_process_and_closes_the_port() -> None:
    llm = EmbeddedLLMProcess.start(EmbeddedLLMSettings(slots=1, max_tokens=SHORT, context=256))
    port = int(llm.url.removesuffix("/v1").rpartition(":")[2])
    process = psutil.Process(llm.pid)
    llm.stop()
    assert not process.is_running()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_a_child_that_cannot_start_reports_its_reason(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model at all")
    with pytest.raises(EmbeddedLLMError, match=f"^model file '{fake}' is not a GGUF file$"):
        EmbeddedLLMProcess.start(EmbeddedLLMSettings(model_file=fake))


def test_the_child_ends_when_its_parent_closes_its_standard_input() -> None:
    """How a killed server's child ends too: its stdin pipe closes with the parent."""
    llm = EmbeddedLLMProcess.start(EmbeddedLLMSettings(slots=1, max_tokens=SHORT, context=256))
    process = psutil.Process(llm.pid)
    assert llm._process.stdin is not None
    llm._process.stdin.close()
    assert process.wait(timeout=10) == 0


#: English and French as a conversation has them, with the digits, punctuation and accents that
#: take a token each, and other scripts (counted by their bytes). Not random letters: a run of
#: consonants such as "qwzx vbnm" takes 1.7 characters a token, below the bound's 2 (see
#: docs/operations.md, "Fitting the context").
TOKENIZER_SAMPLES = (
    "Hello! Who are you? I would like to know what we can talk about today.",
    "It's 3:45 p.m. on Tuesday, 12 March 2026; the weather's fine, isn't it?",
    "Call 555-0134 or 020 7946 0958, order #48213, 12.5 kg at $19.99, ref ABX-9921-QZ.",
    "Bonjour ! Qui êtes-vous ? J'aimerais savoir de quoi nous pouvons parler aujourd'hui.",
    "Le général de Gaulle a prononcé l'appel du 18 juin 1940 à Londres ; c'était décisif.",
    "Ça va très bien, merci. Où êtes-vous né ? À Québec, près du fleuve Saint-Laurent.",
    "Emoji 🙂🚀, CJK 日本語, Ελληνικά, «guillemets» — and tabs\tand\nnew lines.",
)


async def test_the_token_bound_is_never_below_the_real_tokenizers_count(
    embedded: EmbeddedLLMProcess,
) -> None:
    """What fitting a request into the context relies on: the estimate is an upper bound for
    SmolLM2's tokenizer, message by message and for a whole templated request."""
    base = embedded.url.removesuffix("/v1")
    prompts = [
        path.read_text(encoding="utf-8")
        for path in sorted((Path(__file__).parents[2] / "character_packs").glob("*/*.toml"))
    ]
    async with aiohttp.ClientSession() as http:
        for text in (*TOKENIZER_SAMPLES, *prompts):
            body = {"content": text, "add_special": False}
            async with http.post(f"{base}/tokenize", json=body) as response:
                tokens = (await response.json())["tokens"]
            assert estimate_tokens(text) >= len(tokens), text
        messages = [
            ChatMessage("system", prompts[0]),
            *(
                ChatMessage("user" if n % 2 == 0 else "assistant", text)
                for n, text in enumerate(TOKENIZER_SAMPLES)
            ),
        ]
        body = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": 1,
        }
        async with http.post(f"{base}/v1/chat/completions", json=body) as response:
            prompt_tokens = (await response.json())["usage"]["prompt_tokens"]
    assert sum(map(message_tokens, messages)) + ANSWER_PRIMER_TOKENS >= prompt_tokens
