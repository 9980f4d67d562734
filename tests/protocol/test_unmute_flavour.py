"""The unmute flavour's events, fed plain beta events (the pure part of what the frontend gets)."""

from __future__ import annotations

from unmute_server.protocol.events import (
    AnyServerEvent,
    ConversationItem,
    InputAudioBufferSpeechStarted,
    Response,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseCreated,
    ResponseDone,
    ResponsePart,
    ResponseTextDelta,
    ResponseTextDone,
)
from unmute_server.protocol.unmute_flavour import UnmuteFlavour

RESPONSE = "resp_1"
ITEM = "item_1"


def started(flavour: UnmuteFlavour, *, spoken: bool) -> None:
    flavour.events(ResponseCreated(response=Response(id=RESPONSE, status="in_progress", output=[])))
    part = (
        ResponsePart(type="audio", transcript="") if spoken else ResponsePart(type="text", text="")
    )
    flavour.events(ResponseContentPartAdded(response_id=RESPONSE, item_id=ITEM, part=part))


def subtitles(events: list[AnyServerEvent]) -> list[str]:
    return [e.delta for e in events if isinstance(e, ResponseTextDelta)]


def test_a_text_answer_is_sent_as_whole_words_even_when_a_delta_splits_one() -> None:
    flavour = UnmuteFlavour()
    started(flavour, spoken=False)
    sent: list[AnyServerEvent] = []
    for delta in ("Of cou", "rse.  One\ncup of cof", "fee"):
        sent += flavour.events(ResponseTextDelta(response_id=RESPONSE, item_id=ITEM, delta=delta))
    assert subtitles(sent) == ["Of", "course.", "One", "cup", "of"]
    done = flavour.events(ResponseTextDone(response_id=RESPONSE, item_id=ITEM, text="..."))
    assert subtitles(list(done)) == ["coffee"]
    assert done[-1].type == "response.text.done"
    ready = [e.delta for e in sent if e.type == "unmute.response.text.delta.ready"]
    assert ready == ["Of cou", "rse.  One\ncup of cof", "fee"]


def test_a_spoken_answers_words_follow_the_speech_not_the_llm() -> None:
    flavour = UnmuteFlavour()
    started(flavour, spoken=True)
    written = flavour.events(
        ResponseTextDelta(response_id=RESPONSE, item_id=ITEM, delta="Hi there")
    )
    assert [e.type for e in written] == ["unmute.response.text.delta.ready"]
    # The LLM's text is over before the speech is: the word being spoken is not cut.
    spoken = list(
        flavour.events(
            ResponseAudioTranscriptDelta(response_id=RESPONSE, item_id=ITEM, delta="Hi th")
        )
    )
    spoken += flavour.events(ResponseTextDone(response_id=RESPONSE, item_id=ITEM, text="Hi there"))
    spoken += flavour.events(
        ResponseAudioTranscriptDelta(response_id=RESPONSE, item_id=ITEM, delta="ere")
    )
    spoken += flavour.events(
        ResponseAudioTranscriptDone(response_id=RESPONSE, item_id=ITEM, transcript="Hi there")
    )
    assert subtitles(spoken) == ["Hi", "there"]


def test_a_cancelled_answer_is_interrupted_by_vad_only_when_the_person_spoke_over_it() -> None:
    item = ConversationItem(id=ITEM, status="incomplete", role="assistant", content=[])
    cancelled = ResponseDone(response=Response(id=RESPONSE, status="cancelled", output=[item]))
    flavour = UnmuteFlavour()
    started(flavour, spoken=True)
    assert [e.type for e in flavour.events(cancelled)] == [  # a client's cancel
        "response.done",
        "unmute.additional_outputs",
    ]
    started(flavour, spoken=True)
    flavour.events(InputAudioBufferSpeechStarted(audio_start_ms=0, item_id="item_2"))
    assert [e.type for e in flavour.events(cancelled)] == [
        "unmute.interrupted_by_vad",
        "response.done",
        "unmute.additional_outputs",
    ]
