"""``unmute-server say PACK NAME TEXT -o OUT.wav``: hear a character without a browser.

The text is spoken in the character's voice on the embedded text-to-speech (espeak-ng), in the
character's language (the first of a pair), and written as a 16-bit mono WAV file at 24 kHz, the
audio a session would send. Exit 0 written, 1 the engine failed (the message says how to fix it:
for a missing espeak-ng, the command that installs it), 2 an unknown pack or character, a bad
option, or a file that cannot be written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unmute_server.characters.model import Character
from unmute_server.cli._lookup import UsageError, find_character
from unmute_server.terminal_text import escape_controls

if TYPE_CHECKING:
    from unmute_server.voice.audio import Pcm
    from unmute_server.voice.tts.engine import VoiceChoice

EXIT_WRITTEN = 0
EXIT_ENGINE = 1
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "say",
        help="speak a text in a character's voice into a WAV file",
        description=(
            "Speak TEXT in the voice of the character named NAME in pack PACK, on the embedded "
            "text-to-speech (espeak-ng), and write it to a 24 kHz 16-bit mono WAV file. "
            "Exit 0 written, 1 the engine failed, 2 unknown pack or character, or a bad option."
        ),
    )
    parser.add_argument("pack", metavar="PACK", help="a pack folder name under the packs root")
    parser.add_argument("name", metavar="NAME", help="the character's name (its `name` field)")
    parser.add_argument("text", metavar="TEXT", help="what the character says")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write"
    )
    parser.add_argument(
        "--packs-root",
        default="character_packs",
        metavar="DIR",
        help="folder holding the packs (default: character_packs)",
    )
    parser.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="language when the character names none (default: en)",
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    # The voice stack (numpy and the engines) is imported only when the command runs.
    from unmute_server.voice.audio import duration
    from unmute_server.voice.choice import voice_choice
    from unmute_server.voice.errors import VoiceEngineError

    try:
        character = find_character(Path(args.packs_root), args.pack, args.name)
        if not args.text.strip():
            raise UsageError("TEXT is empty; give the words to say")
        language = _language(character, args.language)
        voice = voice_choice(character, language)
        pcm = asyncio.run(_speak(voice, language, args.text))
        _write_wav(Path(args.output), pcm)
    except UsageError as error:
        print(f"unmute-server say: {escape_controls(str(error), keep=chr(10))}", file=sys.stderr)
        return EXIT_USAGE
    except VoiceEngineError as error:
        print(f"unmute-server say: {escape_controls(error.message)}", file=sys.stderr)
        return EXIT_ENGINE
    name = escape_controls(character.name)
    print(
        f"wrote {escape_controls(args.output)}: {duration(pcm):.1f} s in {name}'s voice "
        f"(espeak-ng {voice.embedded})",
        file=sys.stderr,
    )
    return EXIT_WRITTEN


def _language(character: Character, fallback: str) -> str:
    named = getattr(character.instructions, "language", None) or fallback
    return str(named).split("/", 1)[0]


async def _speak(voice: VoiceChoice, language: str, text: str) -> Pcm:
    import numpy as np

    from unmute_server.voice.tts.embedded import EmbeddedTextToSpeech

    engine = EmbeddedTextToSpeech()
    try:
        synthesis = await engine.start(voice, language)
        await synthesis.send_text(text)
        await synthesis.end()
        pieces = [spoken.pcm async for spoken in synthesis.audio()]
    finally:
        await engine.aclose()
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _write_wav(path: Path, pcm: Pcm) -> None:
    import numpy as np

    from unmute_server.voice.audio import SAMPLE_RATE

    samples = (np.clip(pcm, -1.0, 1.0) * 32767).round().astype("<i2")
    try:
        # Opened here, not by wave.open, whose half-made writer complains when the open fails.
        with path.open("wb") as file, wave.open(file, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes(samples.tobytes())
    except OSError as error:
        raise UsageError(f"cannot write {str(path)!r}: {error.strerror}") from error
