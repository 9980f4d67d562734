"""The unmute flavour of the beta dialect: what kyutai-labs/unmute's frontend is sent.

A connection that negotiated the WebSocket subprotocol ``realtime`` is unmute's frontend (the
official OpenAI SDKs offer no subprotocol). It speaks beta, with what unmute's own server adds
and how it shapes the subtitles:

- ``response.text.delta`` carries one whole word, without spaces: the frontend puts a space
  before every one (``Unmute.tsx``), as unmute's text-to-speech words come. For a spoken
  answer the words follow the speech (the text whose audio has gone out); for a text answer,
  the LLM's text;
- ``unmute.response.text.delta.ready`` carries the LLM's text as it is written (for a spoken
  answer, in place of the beta ``response.text.delta``);
- ``unmute.interrupted_by_vad`` comes before the ``response.done`` of a spoken answer the
  person talked over (barge-in);
- ``unmute.additional_outputs`` (the conversation so far, and a debug dictionary) follows each
  transcribed turn of the person and each ``response.done``.

unmute only records ``unmute.response.audio.delta.ready``, never sends it, and neither does this.
One :class:`UnmuteFlavour` per connection: it remembers the answer in progress (whether it is
spoken, the word not yet complete) and the conversation. This module knows nothing of sockets.
"""

from __future__ import annotations

from typing import Final

from unmute_server.protocol.events import (
    AnyServerEvent,
    AudioContentPart,
    ContentPart,
    ConversationItemCreated,
    InputAudioBufferSpeechStarted,
    InputAudioTranscriptionCompleted,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseCreated,
    ResponseDone,
    ResponseTextDelta,
    ResponseTextDone,
)
from unmute_server.protocol.unmute_events import (
    ChatMessage,
    UnmuteAdditionalOutputs,
    UnmuteDebugOutputs,
    UnmuteInterruptedByVad,
    UnmuteResponseTextDeltaReady,
)

#: The subprotocol unmute's frontend offers (and OpenAI's own browser clients; the SDKs none).
UNMUTE_SUBPROTOCOL: Final = "realtime"


class UnmuteFlavour:
    """One connection's events in the unmute flavour (see the module docstring)."""

    __slots__ = ("_history", "_interrupted", "_partial", "_responses", "_spoken", "_word_of")

    def __init__(self) -> None:
        self._history: list[ChatMessage] = []
        self._responses = 0
        #: The answer in progress: spoken, talked over, the event its words come from.
        self._spoken = False
        self._interrupted = False
        self._word_of: ResponseTextDelta | ResponseAudioTranscriptDelta | None = None
        #: The end of the text received that may still be the start of a longer word.
        self._partial = ""

    def events(self, event: AnyServerEvent) -> tuple[AnyServerEvent, ...]:
        """What unmute's frontend is sent for ``event``, in order."""
        if isinstance(event, ResponseTextDelta):
            ready = UnmuteResponseTextDeltaReady(delta=event.delta)
            if self._spoken:
                return (ready,)
            return (ready, *self._words(event))
        if isinstance(event, ResponseAudioTranscriptDelta):
            return (event, *self._words(event))
        if isinstance(event, ResponseAudioTranscriptDone) or (
            isinstance(event, ResponseTextDone) and not self._spoken
        ):
            return (*self._last_word(), event)
        if isinstance(event, ResponseCreated):
            self._spoken = self._interrupted = False
            self._partial, self._word_of = "", None
        elif isinstance(event, ResponseContentPartAdded) and event.part.type == "audio":
            self._spoken = True
        elif isinstance(event, InputAudioBufferSpeechStarted) and self._spoken:
            self._interrupted = True
        elif isinstance(event, ConversationItemCreated) and event.item.role == "user":
            text = "\n".join(p.text for p in event.item.content if isinstance(p, ContentPart))
            if text:
                self._history.append(ChatMessage(role="user", content=text))
        elif isinstance(event, InputAudioTranscriptionCompleted):
            if event.transcript:
                self._history.append(ChatMessage(role="user", content=event.transcript))
            return (event, self._outputs())
        elif isinstance(event, ResponseDone):
            return self._done(event)
        return (event,)

    def _done(self, event: ResponseDone) -> tuple[AnyServerEvent, ...]:
        response = event.response
        self._responses += 1
        for item in response.output:
            for part in item.content:
                said = part.transcript if isinstance(part, AudioContentPart) else part.text
                if said:
                    self._history.append(ChatMessage(role="assistant", content=said))
        before: tuple[AnyServerEvent, ...] = self._last_word()
        if self._spoken and self._interrupted and response.status == "cancelled":
            before = (*before, UnmuteInterruptedByVad())
        self._spoken = self._interrupted = False
        return (*before, event, self._outputs(last_status=response.status))

    def _words(
        self, event: ResponseTextDelta | ResponseAudioTranscriptDelta
    ) -> tuple[ResponseTextDelta, ...]:
        """The words ``event`` completes; the last one waits, it may go on in the next delta."""
        self._word_of = event
        *complete, self._partial = (self._partial + event.delta).split(" ")
        return tuple(self._word(event, word) for text in complete for word in text.split())

    def _last_word(self) -> tuple[ResponseTextDelta, ...]:
        """The word still waiting, now that the text is over."""
        partial, source = self._partial, self._word_of
        self._partial, self._word_of = "", None
        if source is None:
            return ()
        return tuple(self._word(source, word) for word in partial.split())

    @staticmethod
    def _word(
        source: ResponseTextDelta | ResponseAudioTranscriptDelta, word: str
    ) -> ResponseTextDelta:
        return ResponseTextDelta(response_id=source.response_id, item_id=source.item_id, delta=word)

    def _outputs(self, last_status: str | None = None) -> UnmuteAdditionalOutputs:
        return UnmuteAdditionalOutputs(
            args=UnmuteDebugOutputs(
                chat_history=list(self._history),
                debug_dict={
                    "dialect": "beta",
                    "flavour": "unmute",
                    "responses": self._responses,
                    "last_response_status": last_status,
                },
            )
        )
