"""The two embedded engines together: what espeak-ng says, pocketsphinx hears."""

from __future__ import annotations

import numpy as np

from unmute_server.voice.audio import silence
from unmute_server.voice.stt.embedded import EmbeddedSpeechToText
from unmute_server.voice.tts.embedded import EmbeddedTextToSpeech
from unmute_server.voice.tts.engine import VoiceChoice


async def test_speech_from_the_tts_is_transcribed_back_into_its_words() -> None:
    tts = EmbeddedTextToSpeech()
    stt = EmbeddedSpeechToText(max_workers=1)
    try:
        synthesis = await tts.start(
            VoiceChoice(kyutai=None, embedded="en-us", openai="alloy"), "en"
        )
        await synthesis.send_text("Hello, how are you today?")
        await synthesis.send_text("I would like a cup of coffee, please.")
        await synthesis.end()
        pieces = [spoken.pcm async for spoken in synthesis.audio()]
        pcm = np.concatenate([silence(0.5), *pieces, silence(0.5)])
        transcription = await stt.start("en", lambda text: None)
        for start in range(0, len(pcm), 480):
            await transcription.feed(pcm[start : start + 480])
        words = set((await transcription.finish()).split())
    finally:
        await tts.aclose()
        await stt.aclose()
    assert {"hello", "how", "you", "coffee", "please"} <= words, words
