"""kyutai-labs/unmute's frontend, replayed event for event against a real server.

The frontend (``frontend/src/app/Unmute.tsx`` and ``UnmuteConfigurator.tsx`` in that
repository), served from another origin: it fetches ``/v1/health`` and ``/v1/voices``, opens
``/v1/realtime`` with the subprotocol ``realtime``, sends one ``session.update`` built from the
voice it picked (``voice`` = ``source.path_on_server``, ``instructions`` = the voice's
instructions object), then streams Ogg Opus pages from the microphone and never commits.

What it reads back, and so what is checked here: ``response.audio.delta`` (Ogg Opus pages it
decodes and plays), ``response.text.delta`` (the answer's subtitles),
``conversation.item.input_audio_transcription.delta`` (the person's words), ``error`` (shown,
or logged when ``error.type`` is ``warning``). The models below are written from reading
unmute's own event models (``unmute/openai_realtime_api_events.py``), for the events of its
server union this server sends; they allow extra fields as unmute's do.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, TypeAdapter

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import FAKE_MODEL, SERVER_SCHEMA, MakeServer, write_pack
from tests.server.voice_audio import ogg, seconds_of
from tests.voice import speech_fixtures
from unmute_server.llm import LLMSettings
from unmute_server.server.state import VOICE
from unmute_server.voice.audio import silence

FRONTEND_ORIGIN = "http://localhost:3000"
ANSWER = ("Of course. ", "One cup of coffee ", "coming right up.")

#: How large a piece of Ogg the frontend's recorder hands over at a time (a page or so).
PIECE_BYTES = 2_000


# ----------------------------------------------------------- unmute's models, as read


class UnmuteErrorDetails(BaseModel):
    type: str
    code: str | None = None
    message: str
    param: str | None = None
    details: object | None = None


class UnmuteError(BaseModel):
    type: Literal["error"]
    event_id: str
    error: UnmuteErrorDetails


class UnmuteSessionConfig(BaseModel):
    # unmute's instructions field is its Instructions object; this server answers with the
    # rendered prompt (a string), which the frontend ignores, so only these are checked.
    voice: str | None = None
    allow_recording: bool


class UnmuteSessionUpdated(BaseModel):
    type: Literal["session.updated"]
    event_id: str
    session: UnmuteSessionConfig


class UnmuteResponseTextDelta(BaseModel):
    type: Literal["response.text.delta"]
    event_id: str
    delta: str


class UnmuteResponseTextDone(BaseModel):
    type: Literal["response.text.done"]
    event_id: str
    text: str


class UnmuteResponseAudioDelta(BaseModel):
    type: Literal["response.audio.delta"]
    event_id: str
    delta: str


class UnmuteResponseAudioDone(BaseModel):
    type: Literal["response.audio.done"]
    event_id: str


class UnmuteTranscriptionDelta(BaseModel):
    type: Literal["conversation.item.input_audio_transcription.delta"]
    event_id: str
    delta: str
    start_time: float


class UnmuteSpeechStarted(BaseModel):
    type: Literal["input_audio_buffer.speech_started"]
    event_id: str


class UnmuteSpeechStopped(BaseModel):
    type: Literal["input_audio_buffer.speech_stopped"]
    event_id: str


class UnmuteAdditionalOutputs(BaseModel):
    type: Literal["unmute.additional_outputs"]
    event_id: str
    args: Any


class UnmuteResponseTextDeltaReady(BaseModel):
    type: Literal["unmute.response.text.delta.ready"]
    event_id: str
    delta: str


class UnmuteInterruptedByVAD(BaseModel):
    type: Literal["unmute.interrupted_by_vad"]
    event_id: str


#: unmute's server events that this server sends, by type (its response.created needs a
#: ``voice`` in the response, which the frontend never reads; it is not among them).
UNMUTE_MODELS: dict[str, TypeAdapter[Any]] = {
    model.model_fields["type"].annotation.__args__[0]: TypeAdapter(model)  # type: ignore[union-attr]
    for model in (
        UnmuteError,
        UnmuteSessionUpdated,
        UnmuteResponseTextDelta,
        UnmuteResponseTextDone,
        UnmuteResponseAudioDelta,
        UnmuteResponseAudioDone,
        UnmuteTranscriptionDelta,
        UnmuteSpeechStarted,
        UnmuteSpeechStopped,
        UnmuteAdditionalOutputs,
        UnmuteResponseTextDeltaReady,
        UnmuteInterruptedByVAD,
    )
}


def compress_chat_history(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``compressChatHistory`` of the frontend's ``chatHistory.ts``: a role's messages in a
    row become one, joined by a line break (raw LLM tokens, which bring their own spacing,
    verbatim)."""
    compressed: list[dict[str, str]] = []
    for message in messages:
        if compressed and compressed[-1]["role"] == message["role"]:
            separator = "" if message["role"] == "llm_raw" else "\n"
            compressed[-1]["content"] += separator + message["content"]
        else:
            compressed.append(dict(message))
    return compressed


def frontend_chat_history(events: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat history ``Unmute.tsx`` builds from the events, then compresses for its
    subtitles: the person's transcription deltas as they come, and each
    ``response.text.delta`` with a space put before it ("The TTS doesn't include spaces in
    its messages, so add a leading space")."""
    raw: list[dict[str, str]] = []
    for event in events:
        if event["type"] == "conversation.item.input_audio_transcription.delta":
            raw.append({"role": "user", "content": event["delta"]})
        elif event["type"] == "response.text.delta":
            raw.append({"role": "assistant", "content": " " + event["delta"]})
    return compress_chat_history(raw)


def frontend_audio() -> list[str]:
    """The fixture's Ogg Opus pages, then the microphone's silence after it (its own Ogg
    stream, as a recorder restarted by the browser would send), in base64 pieces."""
    data = speech_fixtures.ogg_bytes("hello_coffee") + ogg(silence(1.5))
    return [
        base64.b64encode(data[start : start + PIECE_BYTES]).decode("ascii")
        for start in range(0, len(data), PIECE_BYTES)
    ]


#: A pack as unmute ships them: a good character whose instructions the frontend sends back.
NOVA = """
name = "Nova"
good = true
voice = { source_type = "file", path_on_server = "voices/nova.wav" }
instructions = { type = "smalltalk", language = "en" }
"""


async def test_the_frontends_whole_sequence_gets_what_the_frontend_reads(
    make_server: MakeServer, fake_llm: FakeLLM, packs_root: Path
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    write_pack(packs_root, "unmute", [], nova__toml=NOVA)
    server = await make_server(
        default_pack="unmute", llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL)
    )
    http = server.client
    origin = {"Origin": FRONTEND_ORIGIN}

    # 1. Health: the page shows "Couldn't connect" unless it can read ok (CORS included).
    # The speech-to-text worker loads its model first, as it has long done by the time a
    # person opens the page (/v1/health gives a cold load only two seconds).
    engines = server.app[VOICE]
    assert engines is not None
    assert await engines.stt.probe()
    health_response = await http.get("/v1/health", headers=origin)
    assert health_response.headers["Access-Control-Allow-Origin"] == FRONTEND_ORIGIN
    health = await health_response.json()
    assert health["ok"] is True, health
    for field in ("tts_up", "stt_up", "llm_up", "voice_cloning_up"):
        assert isinstance(health[field], bool), field

    # 2. Voices: the configurator picks one and reads what it sends back.
    voices_response = await http.get("/v1/voices", headers=origin)
    assert voices_response.headers["Access-Control-Allow-Origin"] == FRONTEND_ORIGIN
    voices = await voices_response.json()
    assert voices
    assert all(voice["good"] for voice in voices)
    voice = voices[0]
    assert voice["source"]["source_type"] == "file"
    instructions = voice["instructions"]
    assert instructions["type"] == "smalltalk"

    # 3. The WebSocket, with its subprotocol, from the page's origin.
    ws = await http.ws_connect("/v1/realtime", protocols=("realtime",), headers=origin)
    assert ws.protocol == "realtime"
    received: list[dict[str, Any]] = []

    async def read_until(event_type: str) -> None:
        while True:
            message = await ws.receive(timeout=60)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            event = json.loads(message.data)
            SERVER_SCHEMA.validate(event)
            received.append(event)
            if event["type"] == event_type:
                return

    try:
        # 4. Its session.update, exactly as it sends it.
        await ws.send_str(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {
                        "instructions": instructions,
                        "voice": voice["source"]["path_on_server"],
                        "allow_recording": False,
                    },
                }
            )
        )
        await read_until("session.updated")
        assert received[-1]["session"]["voice"] == voice["name"]

        # 5. The microphone: Ogg Opus pages, as fast as the server takes them.
        for piece in frontend_audio():
            await ws.send_str(json.dumps({"type": "input_audio_buffer.append", "audio": piece}))
        await read_until("response.done")
        await read_until("unmute.additional_outputs")  # the conversation, after the answer
    finally:
        await ws.close()

    # Warnings (an engine slower than real time on a busy machine) are only logged by the
    # frontend; anything else it would show the person as a failure.
    shown = [e for e in received if e["type"] == "error" and e["error"]["type"] != "warning"]
    assert not shown, shown
    for event in received:
        model = UNMUTE_MODELS.get(event["type"])
        if model is not None:
            model.validate_python(event)
    # What the frontend shows: the person's words, the answer's subtitles, the answer's audio.
    # The person's words: the frontend shows the transcription deltas as they come (each
    # checked above against unmute's model, start_time included); the whole turn is heard.
    assert any(e["type"].endswith("input_audio_transcription.delta") for e in received)
    completed = [e["transcript"] for e in received if e["type"].endswith("transcription.completed")]
    assert "coffee" in completed[-1].split(), completed
    # The answer's subtitles, rebuilt as the frontend builds them: one whole word per
    # response.text.delta, no space of its own, so the space the frontend adds is the only one.
    answer_text = "".join(ANSWER)
    history = frontend_chat_history(received)
    assert [message["role"] for message in history][-1] == "assistant", history
    assert history[-1]["content"] == "\n".join(" " + word for word in answer_text.split())
    # The answer's text as the LLM writes it, unmute's "ready" deltas (the frontend ignores
    # them; unmute's tools read them), whole.
    ready = [e["delta"] for e in received if e["type"] == "unmute.response.text.delta.ready"]
    assert "".join(ready) == answer_text
    # unmute's debug output, as the frontend reads it (data.args.debug_dict), after the turn.
    outputs = [e for e in received if e["type"] == "unmute.additional_outputs"]
    assert outputs
    assert isinstance(outputs[-1]["args"]["debug_dict"], dict)
    assert outputs[-1]["args"]["chat_history"][-2:] == [
        {"role": "user", "content": completed[-1]},
        {"role": "assistant", "content": answer_text},
    ]
    # unmute only records its audio "ready" events, it never sends them: neither does this.
    assert not any(e["type"] == "unmute.response.audio.delta.ready" for e in received)
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in received if e["type"] == "response.audio.delta"
    )
    assert audio.startswith(b"OggS")  # pages its Opus decoder takes, in the format it sent
    assert seconds_of(audio, ogg_format=True) > 0.5
    assert received[-2]["response"]["status"] == "completed"


async def test_talking_over_a_spoken_answer_tells_the_frontend_it_was_interrupted_by_vad(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    long_answer = tuple(f"This is sentence {n} of a long answer. " for n in range(30))
    fake_llm.enqueue(StreamReply(chunks=long_answer, delay=0.05), StreamReply(chunks=("Yes?",)))
    server = await make_server(llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL))
    client = await server.connect(protocols=("realtime",))
    await client.update(voice="Alice")
    for piece in frontend_audio():
        await client.send({"type": "input_audio_buffer.append", "audio": piece})
    first = await client.receive_until("response.audio.delta")
    for piece in frontend_audio():  # the person talks over the answer
        await client.send({"type": "input_audio_buffer.append", "audio": piece})
    events = first + await client.receive_until("response.done")

    assert events[-1]["response"]["status"] == "cancelled"
    assert events[-2]["type"] == "unmute.interrupted_by_vad", [e["type"] for e in events[-5:]]
    UNMUTE_MODELS["unmute.interrupted_by_vad"].validate_python(events[-2])
    # The subtitles shown are whole words, each with the one space the frontend puts before it.
    spoken = frontend_chat_history(events)[-1]
    assert spoken["role"] == "assistant"
    lines = spoken["content"].split("\n")
    assert all(line.startswith(" ") for line in lines), lines
    shown = [line[1:] for line in lines]
    assert all(word and word == word.strip() for word in shown), shown
    answer_words = "".join(long_answer).split()
    assert shown == answer_words[: len(shown)]  # what was heard, in order, nothing more
    # The person's second turn is answered as usual.
    answered = await client.receive_until("response.done")
    assert answered[-1]["response"]["status"] == "completed"
    assert "unmute.interrupted_by_vad" not in [e["type"] for e in answered]
