"""Choosing the process's speech engines from its settings: the one place that knows them all.

Each engine module is imported only when it is chosen, so a server with the Kyutai engines does
not load pocketsphinx's model, and one with the embedded engines opens no HTTP client.
"""

from __future__ import annotations

from unmute_server.voice.settings import EngineKind, EngineSettings
from unmute_server.voice.stt.engine import SpeechToText
from unmute_server.voice.tts.engine import TextToSpeech


def make_stt(settings: EngineSettings, *, worker_niceness: int = 0) -> SpeechToText:
    """The speech-to-text engine ``settings`` names (not started; see its ``probe``); an
    embedded one runs its workers ``worker_niceness`` nicer than the server."""
    if settings.kind is EngineKind.KYUTAI:
        from unmute_server.voice.stt.kyutai import KyutaiSpeechToText

        return KyutaiSpeechToText(
            _url(settings),
            api_key=settings.api_key,
            connect_timeout=settings.timeout,
            idle_timeout=settings.timeout,
        )
    if settings.kind is EngineKind.OPENAI:
        from unmute_server.voice.stt.openai import OpenAISpeechToText

        return OpenAISpeechToText(
            _url(settings),
            api_key=settings.api_key,
            model=settings.model or "",
            timeout=settings.timeout,
        )
    from unmute_server.voice.stt.embedded import EmbeddedSpeechToText

    return EmbeddedSpeechToText(niceness=worker_niceness)


def make_tts(settings: EngineSettings, *, worker_niceness: int = 0) -> TextToSpeech:
    """The text-to-speech engine ``settings`` names; an embedded one runs espeak-ng
    ``worker_niceness`` nicer than the server."""
    if settings.kind is EngineKind.KYUTAI:
        from unmute_server.voice.tts.kyutai import KyutaiTextToSpeech

        return KyutaiTextToSpeech(
            _url(settings),
            api_key=settings.api_key,
            connect_timeout=settings.timeout,
            idle_timeout=settings.timeout,
        )
    if settings.kind is EngineKind.OPENAI:
        from unmute_server.voice.tts.openai import OpenAITextToSpeech

        return OpenAITextToSpeech(
            _url(settings),
            api_key=settings.api_key,
            model=settings.model or "",
            timeout=settings.timeout,
        )
    from unmute_server.voice.tts.embedded import EmbeddedTextToSpeech

    return EmbeddedTextToSpeech(niceness=worker_niceness)


def _url(settings: EngineSettings) -> str:
    if settings.url is None:
        raise ValueError(f"the {settings.kind.value} engine needs a URL")
    return settings.url
