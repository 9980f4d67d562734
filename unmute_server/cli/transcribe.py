"""``unmute-server transcribe FILE``: what the embedded speech-to-text hears in a recording.

``FILE`` is a WAV file (16-bit PCM, any rate, mono or stereo, as ``say`` writes and most recorders
do) or Ogg Opus (as kyutai-labs/unmute's frontend sends). It is brought to 24 kHz mono and fed
to the embedded speech-to-text (pocketsphinx, English only) in 20 ms frames, as a session feeds
it; the final transcript is printed on stdout, and with ``--partials`` each partial hypothesis on
stderr as it comes. Exit 0 printed, 1 the engine failed, 2 a file that cannot be read or decoded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unmute_server.terminal_text import escape_controls

if TYPE_CHECKING:
    from unmute_server.voice.audio import Pcm

EXIT_PRINTED = 0
EXIT_ENGINE = 1
EXIT_USAGE = 2
_FRAME_SECONDS = 0.02


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="print what the embedded speech-to-text hears in a WAV or Ogg Opus file",
        description=(
            "Transcribe FILE (16-bit PCM WAV, or Ogg Opus) with the embedded speech-to-text "
            "(pocketsphinx, English only) and print the transcript. Exit 0 printed, 1 the "
            "engine failed, 2 a file that cannot be read or decoded."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="a .wav (16-bit PCM) or Ogg Opus file")
    parser.add_argument(
        "--language", default="en", metavar="CODE", help="the language spoken (default: en)"
    )
    parser.add_argument(
        "--partials", action="store_true", help="also print each partial transcript on stderr"
    )
    parser.set_defaults(run=_run)


class _UnreadableAudio(Exception):
    """The file is not audio this command reads; the message says why."""


def _run(args: argparse.Namespace) -> int:
    from unmute_server.voice.errors import VoiceEngineError

    try:
        pcm = _read_audio(Path(args.file))
    except _UnreadableAudio as error:
        print(f"unmute-server transcribe: {escape_controls(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        transcript = asyncio.run(_transcribe(pcm, args.language, args.partials))
    except VoiceEngineError as error:
        print(f"unmute-server transcribe: {escape_controls(error.message)}", file=sys.stderr)
        return EXIT_ENGINE
    print(escape_controls(transcript))
    return EXIT_PRINTED


async def _transcribe(pcm: Pcm, language: str, partials: bool) -> str:
    from unmute_server.voice.audio import SAMPLE_RATE
    from unmute_server.voice.stt.embedded import EmbeddedSpeechToText

    def show(text: str) -> None:
        if partials:
            print(f"... {escape_controls(text)}", file=sys.stderr, flush=True)

    engine = EmbeddedSpeechToText(max_workers=1)
    try:
        transcription = await engine.start(language, show)
        try:
            frame = round(_FRAME_SECONDS * SAMPLE_RATE)
            for start in range(0, len(pcm), frame):
                await transcription.feed(pcm[start : start + frame])
            return await transcription.finish()
        finally:
            await transcription.aclose()
    finally:
        await engine.aclose()


def _read_audio(path: Path) -> Pcm:
    """The file's audio as mono float32 at 24 kHz."""
    import numpy as np

    from unmute_server.voice.audio import SAMPLE_RATE
    from unmute_server.voice.resample import resample

    shown = repr(str(path))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _UnreadableAudio(f"cannot read {shown}: {error.strerror}") from error
    if data.startswith(b"OggS"):
        import sphn  # no type hints of its own

        try:
            decoded, rate = sphn.read_opus_bytes(data)
        except Exception as error:  # sphn raises its own untyped errors
            raise _UnreadableAudio(f"{shown} is not Ogg Opus audio: {error}") from error
        mono = np.asarray(decoded, dtype=np.float32).mean(axis=0, dtype=np.float32)
        return resample(mono, int(rate), SAMPLE_RATE)
    try:
        with wave.open(str(path), "rb") as reader:
            if reader.getsampwidth() != 2:
                raise _UnreadableAudio(f"{shown} is not 16-bit PCM; convert it first")
            channels, rate = reader.getnchannels(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as error:
        raise _UnreadableAudio(f"{shown} is neither a WAV nor an Ogg Opus file: {error}") from error
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    mono = (samples.mean(axis=1) / 32768).astype(np.float32)
    return resample(mono, rate, SAMPLE_RATE)
