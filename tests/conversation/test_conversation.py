"""The conversation state machine against the fake OpenAI-compatible server on loopback.

Every test drives the real `openai` client through `OpenAICompatibleBackend` to a real HTTP server
(`tests.fake_llm`) that streams real server-sent events and records what it received, including
whether the client went away before the answer was complete.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import (
    WAIT_GUARD_SECONDS,
    FakeLLM,
    RawReply,
    Reply,
    SilentReply,
    StatusReply,
    StreamReply,
    start_fake_llm,
)
from unmute_server.conversation.conversation import (
    Conversation,
    ConversationRecord,
    DuplicateItemId,
    HistoryItem,
    HistoryLimits,
    LLMObserver,
    ResponseFinished,
    ResponseInProgress,
    ResponseStarted,
    ResponseStatus,
    TextDelta,
    TextDone,
)
from unmute_server.llm import LLMError, LLMErrorCode, LLMSettings, OpenAICompatibleBackend

API_KEY = "sk-test-secret-0123456789"


class Recorder:
    """The `emit` callback: keeps every record and lets a test wait for one."""

    def __init__(self) -> None:
        self.records: list[ConversationRecord] = []
        self._changed = asyncio.Condition()

    async def __call__(self, record: ConversationRecord) -> None:
        self.records.append(record)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_GUARD_SECONDS), self._changed:
            await self._changed.wait_for(predicate)

    async def finished(self, response_id: str) -> ResponseFinished:
        await self.wait_for(lambda: self._finished(response_id) is not None)
        record = self._finished(response_id)
        assert record is not None
        return record

    def _finished(self, response_id: str) -> ResponseFinished | None:
        for record in self.records:
            if isinstance(record, ResponseFinished) and record.response_id == response_id:
                return record
        return None

    def of(self, response_id: str) -> list[ConversationRecord]:
        return [record for record in self.records if record.response_id == response_id]

    def text(self, response_id: str) -> str:
        return "".join(
            record.delta
            for record in self.records
            if isinstance(record, TextDelta) and record.response_id == response_id
        )


def _settings(url: str, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {"url": url, "model": "fake-model", "api_key": API_KEY}
    values.update(overrides)
    return LLMSettings(**values)


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeLLM:
    return await start_fake_llm(aiohttp_server)


@pytest.fixture
async def backend(fake: FakeLLM) -> AsyncIterator[OpenAICompatibleBackend]:
    backend = OpenAICompatibleBackend(_settings(fake.base_url))
    yield backend
    await backend.aclose()


@pytest.fixture
async def quick_backend(fake: FakeLLM) -> AsyncIterator[OpenAICompatibleBackend]:
    """Small deadlines, for the tests whose point is that a deadline passes."""
    backend = OpenAICompatibleBackend(
        _settings(fake.base_url, first_token_timeout=0.5, total_timeout=2.0)
    )
    yield backend
    await backend.aclose()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        yield f"http://127.0.0.1:{port}/v1"


async def _respond(conversation: Conversation, recorder: Recorder) -> ResponseFinished:
    response_id = await conversation.start_response(recorder)
    return await recorder.finished(response_id)


# --- prompts and history ----------------------------------------------------------------------


async def test_system_prompt_set_is_sent_upstream_as_first_message(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    conversation.set_system_prompt("You are Charles, a French general.")
    conversation.add_user_text("item_u1", "Bonjour!")

    finished = await _respond(conversation, Recorder())

    assert finished.status == "completed"
    assert fake.requests[0].messages == [
        {"role": "system", "content": "You are Charles, a French general."},
        {"role": "user", "content": "Bonjour!"},
    ]
    assert fake.requests[0].body["model"] == "fake-model"
    assert fake.requests[0].body["stream"] is True


async def test_changing_the_system_prompt_changes_the_next_request_and_keeps_history(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.set_system_prompt("You are Ada.")
    conversation.add_user_text("item_u1", "Hi")
    await _respond(conversation, recorder)

    conversation.set_system_prompt("You are Eve.")
    conversation.add_user_text("item_u2", "Who are you now?")
    await _respond(conversation, recorder)

    assert fake.requests[0].system_prompt == "You are Ada."
    assert fake.requests[1].system_prompt == "You are Eve."
    assert fake.requests[1].messages[1:] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there."},
        {"role": "user", "content": "Who are you now?"},
    ]


async def test_no_system_message_is_sent_before_a_prompt_is_set(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    conversation.add_user_text("item_u1", "Hi")
    await _respond(conversation, Recorder())
    assert fake.requests[0].messages == [{"role": "user", "content": "Hi"}]


async def test_two_conversations_stream_at_once_with_their_own_prompts(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()

    def echo_prompt(body: Any) -> list[str]:
        return ["I am told: ", body["messages"][0]["content"]]

    fake.default = StreamReply(chunks=echo_prompt, gate=gate)
    ada, eve = Conversation(backend), Conversation(backend)
    ada.set_system_prompt("You are Ada.")
    eve.set_system_prompt("You are Eve.")
    ada.add_user_text("a1", "Hi")
    eve.add_user_text("e1", "Hi")
    ada_records, eve_records = Recorder(), Recorder()

    ada_id = await ada.start_response(ada_records)
    eve_id = await eve.start_response(eve_records)
    # Both requests are open upstream before either stream sends a byte of text.
    await fake.wait_until(lambda: len(fake.requests) == 2)
    gate.set()
    ada_done, eve_done = await asyncio.gather(
        ada_records.finished(ada_id), eve_records.finished(eve_id)
    )

    assert (ada_done.status, eve_done.status) == ("completed", "completed")
    assert {request.system_prompt for request in fake.requests} == {"You are Ada.", "You are Eve."}
    assert ada_records.text(ada_id) == "I am told: You are Ada."
    assert eve_records.text(eve_id) == "I am told: You are Eve."
    assert ada.history[-1].text == "I am told: You are Ada."
    assert eve.history[-1].text == "I am told: You are Eve."


async def test_history_grows_by_one_user_and_one_assistant_message_per_turn(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("One",)), StreamReply(chunks=("Two",)))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "First?")
    first = await conversation.start_response(recorder)
    await recorder.finished(first)
    conversation.add_user_text("u2", "Second?")
    second = await conversation.start_response(recorder)
    await recorder.finished(second)

    history = conversation.history
    assert [(item.role, item.text) for item in history] == [
        ("user", "First?"),
        ("assistant", "One"),
        ("user", "Second?"),
        ("assistant", "Two"),
    ]
    assert history[0].item_id == "u1"
    started = [record for record in recorder.records if isinstance(record, ResponseStarted)]
    assert [item.item_id for item in history if item.role == "assistant"] == [
        record.item_id for record in started
    ]


async def test_a_completed_response_emits_started_deltas_done_and_finished_in_order(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Bon", "jour", "!")))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Salut")

    response_id = await conversation.start_response(recorder)
    await recorder.finished(response_id)

    started = recorder.records[0]
    assert isinstance(started, ResponseStarted)
    item_id = started.item_id
    assert recorder.records == [
        ResponseStarted(response_id, item_id),
        TextDelta(response_id, item_id, "Bon"),
        TextDelta(response_id, item_id, "jour"),
        TextDelta(response_id, item_id, "!"),
        TextDone(response_id, item_id, "Bonjour!"),
        ResponseFinished(response_id, "completed", None),
    ]
    assert conversation.active_response_id is None


async def test_consecutive_user_messages_are_merged_into_one_upstream_message(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    conversation.add_user_text("u1", "Hello.")
    conversation.add_user_text("u2", "Are you there?")
    await _respond(conversation, Recorder())

    assert fake.requests[0].messages == [{"role": "user", "content": "Hello.\n\nAre you there?"}]
    assert [item.item_id for item in conversation.history][:2] == ["u1", "u2"]


async def test_a_user_message_added_while_streaming_follows_that_answer(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()
    fake.enqueue(StreamReply(chunks=("Answer",), gate=gate))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Question")
    response_id = await conversation.start_response(recorder)
    conversation.add_user_text("u2", "Interjection")
    gate.set()
    await recorder.finished(response_id)

    assert [(item.role, item.text) for item in conversation.history] == [
        ("user", "Question"),
        ("assistant", "Answer"),
        ("user", "Interjection"),
    ]
    assert fake.requests[0].messages == [{"role": "user", "content": "Question"}]


async def test_history_keeps_the_last_items_and_starts_with_a_user_message_after_trimming(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend, limits=HistoryLimits(max_items=3))
    recorder = Recorder()
    for turn in range(3):
        fake.enqueue(StreamReply(chunks=(f"answer {turn}",)))
        conversation.add_user_text(f"u{turn}", f"question {turn}")
        await _respond(conversation, recorder)

    # Six messages were made; three fit, and a window may not start with an orphan answer.
    assert [(item.role, item.text) for item in conversation.history] == [
        ("user", "question 2"),
        ("assistant", "answer 2"),
    ]
    assert fake.requests[2].messages == [
        {"role": "user", "content": "question 1"},
        {"role": "assistant", "content": "answer 1"},
        {"role": "user", "content": "question 2"},
    ]


async def test_history_character_cap_drops_the_oldest_messages_but_never_the_newest(
    backend: OpenAICompatibleBackend,
) -> None:
    conversation = Conversation(backend, limits=HistoryLimits(max_chars=10))
    conversation.add_user_text("u1", "12345")
    conversation.add_user_text("u2", "67890")
    assert [item.item_id for item in conversation.history] == ["u1", "u2"]
    conversation.add_user_text("u3", "a message longer than the cap")
    assert [item.item_id for item in conversation.history] == ["u3"]


async def test_an_item_id_already_in_the_history_is_refused(
    backend: OpenAICompatibleBackend,
) -> None:
    conversation = Conversation(backend)
    conversation.add_user_text("u1", "Hi")
    with pytest.raises(DuplicateItemId, match="u1") as caught:
        conversation.add_user_text("u1", "Hi again")
    assert caught.value.code == "duplicate_item_id"
    assert len(conversation.history) == 1


# --- one response at a time and cancellation ----------------------------------------------------


async def test_a_second_start_while_streaming_raises_response_in_progress(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()
    fake.enqueue(StreamReply(gate=gate))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    response_id = await conversation.start_response(recorder)

    with pytest.raises(ResponseInProgress, match=response_id) as caught:
        await conversation.start_response(recorder)
    assert caught.value.code == "conversation_already_has_active_response"

    gate.set()
    assert (await recorder.finished(response_id)).status == "completed"
    assert len(fake.requests) == 1
    assert len([r for r in recorder.records if isinstance(r, ResponseStarted)]) == 1


async def test_cancel_mid_stream_finishes_cancelled_and_closes_the_upstream_request(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Once upon",), then="stall"))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Tell me a story")
    response_id = await conversation.start_response(recorder)
    await recorder.wait_for(lambda: any(isinstance(r, TextDelta) for r in recorder.records))

    assert await conversation.cancel_response() is True

    item_id = recorder.records[0].item_id  # type: ignore[union-attr]
    assert recorder.of(response_id)[-2:] == [
        TextDone(response_id, item_id, "Once upon"),
        ResponseFinished(response_id, "cancelled", None),
    ]
    assert conversation.active_response_id is None
    await fake.wait_until(lambda: fake.requests[0].disconnected)
    # What the client was shown stays in the history, so the model knows it said it.
    assert [(item.role, item.text) for item in conversation.history] == [
        ("user", "Tell me a story"),
        ("assistant", "Once upon"),
    ]


async def test_cancel_right_after_start_finishes_cancelled_without_text(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    response_id = await conversation.start_response(recorder)

    assert await conversation.cancel_response() is True

    assert recorder.of(response_id) == [
        recorder.records[0],
        ResponseFinished(response_id, "cancelled", None),
    ]
    assert [item.role for item in conversation.history] == ["user"]
    fake.enqueue(StreamReply(chunks=("Fresh",)))
    assert (await _respond(conversation, recorder)).status == "completed"
    assert conversation.history[-1].text == "Fresh"


async def test_cancel_without_a_response_in_progress_returns_false(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    conversation = Conversation(backend)
    recorder = Recorder()
    assert await conversation.cancel_response() is False
    conversation.add_user_text("u1", "Hi")
    await _respond(conversation, recorder)
    count = len(recorder.records)
    assert await conversation.cancel_response() is False
    assert len(recorder.records) == count


async def test_a_new_response_can_start_after_a_cancelled_one(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Hmm",), then="stall"), StreamReply(chunks=("Sure.",)))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    await conversation.start_response(recorder)
    await recorder.wait_for(lambda: any(isinstance(r, TextDelta) for r in recorder.records))
    await conversation.cancel_response()
    conversation.add_user_text("u2", "Go on")

    assert (await _respond(conversation, recorder)).status == "completed"
    assert fake.requests[1].messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hmm"},
        {"role": "user", "content": "Go on"},
    ]


async def test_aclose_stops_the_response_silently_and_closes_the_upstream_request(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Still talking",), then="stall"))
    conversation = Conversation(backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    await conversation.start_response(recorder)
    await recorder.wait_for(lambda: any(isinstance(r, TextDelta) for r in recorder.records))
    count = len(recorder.records)

    await conversation.aclose()

    assert len(recorder.records) == count
    assert conversation.active_response_id is None
    await fake.wait_until(lambda: fake.requests[0].disconnected)


async def test_a_failing_emit_stops_the_response_and_closes_the_upstream_request(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("a", "b", "c"), delay=0.01, then="stall"))
    conversation = Conversation(backend)
    emitted: list[ConversationRecord] = []

    async def broken_socket(record: ConversationRecord) -> None:
        if isinstance(record, TextDelta):
            raise ConnectionResetError("the client is gone")
        emitted.append(record)

    conversation.add_user_text("u1", "Hi")
    await conversation.start_response(broken_socket)
    await fake.wait_until(lambda: bool(fake.requests) and fake.requests[0].disconnected)

    assert [type(record) for record in emitted] == [ResponseStarted]
    assert conversation.active_response_id is None
    assert (await _respond(conversation, Recorder())).status == "completed"


# --- failures ------------------------------------------------------------------------------------

FAILURES: list[tuple[str, Reply, LLMErrorCode]] = [
    ("http_500", StatusReply(500), LLMErrorCode.HTTP_ERROR),
    (
        "http_401",
        StatusReply(401, f"Incorrect API key provided: {API_KEY}"),
        LLMErrorCode.HTTP_ERROR,
    ),
    ("malformed_json", RawReply(b"data: {not json\n\n"), LLMErrorCode.BAD_STREAM),
    ("chunk_without_choices", RawReply(b'data: {"id": "x"}\n\n'), LLMErrorCode.BAD_STREAM),
    ("closed_mid_stream", StreamReply(then="close"), LLMErrorCode.BAD_STREAM),
    ("ended_without_finish", StreamReply(then="end"), LLMErrorCode.BAD_STREAM),
    ("stalled_before_text", StreamReply(chunks=(), then="stall"), LLMErrorCode.TIMEOUT),
    ("stalled_after_text", StreamReply(then="stall"), LLMErrorCode.TIMEOUT),
    ("no_status_line", SilentReply(), LLMErrorCode.TIMEOUT),
]


@pytest.mark.parametrize(
    ("reply", "code"),
    [pytest.param(reply, code, id=name) for name, reply, code in FAILURES],
)
async def test_backend_failure_finishes_failed_with_its_code_and_the_conversation_goes_on(
    fake: FakeLLM, quick_backend: OpenAICompatibleBackend, reply: Reply, code: LLMErrorCode
) -> None:
    fake.enqueue(reply, StreamReply(chunks=("Recovered.",)))
    conversation = Conversation(quick_backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")

    failed = await _respond(conversation, recorder)

    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == code
    assert API_KEY not in failed.error.message
    assert fake.base_url not in failed.error.message
    assert conversation.active_response_id is None

    conversation.add_user_text("u2", "Again?")
    recovered = await _respond(conversation, recorder)
    assert recovered.status == "completed"
    assert conversation.history[-1].text == "Recovered."


async def test_failed_response_keeps_the_text_already_shown(
    fake: FakeLLM, quick_backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Half an",), then="close"))
    conversation = Conversation(quick_backend)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    response_id = await conversation.start_response(recorder)
    finished = await recorder.finished(response_id)

    assert finished.status == "failed"
    assert recorder.of(response_id)[-2] == TextDone(
        response_id, conversation.history[-1].item_id, "Half an"
    )
    assert conversation.history[-1] == HistoryItem(
        conversation.history[-1].item_id, "assistant", "Half an"
    )


async def test_refused_connection_finishes_failed_unreachable_and_stays_usable(
    refused_url: str,
) -> None:
    backend = OpenAICompatibleBackend(_settings(refused_url))
    try:
        conversation = Conversation(backend)
        recorder = Recorder()
        conversation.add_user_text("u1", "Hi")
        for _ in range(2):
            finished = await _respond(conversation, recorder)
            assert finished.status == "failed"
            assert finished.error == LLMError(
                LLMErrorCode.UNREACHABLE, "could not connect to the LLM server"
            )
        assert conversation.active_response_id is None
    finally:
        await backend.aclose()


async def test_without_a_configured_llm_start_response_raises_llm_unavailable() -> None:
    failures: list[LLMErrorCode] = []
    conversation = Conversation(None, observer=LLMObserver(failed=failures.append))
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")

    with pytest.raises(LLMError) as caught:
        await conversation.start_response(recorder)

    assert caught.value.code == LLMErrorCode.UNAVAILABLE
    assert recorder.records == []
    assert failures == [LLMErrorCode.UNAVAILABLE]
    assert conversation.active_response_id is None
    assert [item.text for item in conversation.history] == ["Hi"]


# --- metrics hooks -------------------------------------------------------------------------------


async def test_observer_sees_first_token_duration_and_failures(
    fake: FakeLLM, quick_backend: OpenAICompatibleBackend
) -> None:
    first_tokens: list[float] = []
    finished: list[tuple[float, ResponseStatus]] = []
    failures: list[LLMErrorCode] = []
    observer = LLMObserver(
        first_token=first_tokens.append,
        finished=lambda seconds, status: finished.append((seconds, status)),
        failed=failures.append,
    )
    fake.enqueue(StreamReply(), StatusReply(503), StreamReply(chunks=("x",), then="stall"))
    conversation = Conversation(quick_backend, observer=observer)
    recorder = Recorder()
    conversation.add_user_text("u1", "Hi")
    await _respond(conversation, recorder)
    await _respond(conversation, recorder)
    await conversation.start_response(recorder)
    await recorder.wait_for(lambda: isinstance(recorder.records[-1], TextDelta))
    await conversation.cancel_response()

    assert len(first_tokens) == 2
    assert all(seconds >= 0 for seconds in first_tokens)
    assert [status for _, status in finished] == ["completed", "failed", "cancelled"]
    assert all(seconds >= 0 for seconds, _ in finished)
    assert failures == [LLMErrorCode.HTTP_ERROR]
