"""The embedded text-to-speech: espeak-ng, offline, on the CPU.

espeak-ng is GPL, so it only ever runs as a separate program (never linked or loaded into this
process). One process per text chunk, started as soon as the chunk arrives (at most
``MAX_RUNNING`` per answer; espeak-ng gives its first audio in about 15 ms), its standard output
read as it is produced and converted from 22,050 Hz to 24 kHz on the way. Each runs ``niceness``
nicer than the server, so the event loop wins a busy core. Each process's output
is read eagerly into memory (bounded by the chunk's length), so a chunk waiting its turn to be
played never blocks espeak-ng on a full pipe, and the timeout measures espeak-ng alone.

The text goes in on standard input, never on the command line: it cannot be taken for an option
(``--help``, ``-w FILE``), and no shell ever sees it. espeak-ng's ``[[phoneme]]`` notation is broken
up, so text is always spoken as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

import numpy as np

from unmute_server.voice._subprocess import reap, run_nicer
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.resample import Resampler
from unmute_server.voice.tts.engine import SpokenAudio, VoiceChoice

COMMAND: Final = "espeak-ng"
INSTALL_HINT: Final = "apt-get install -y espeak-ng"
#: A chunk longer than this is spoken as several processes (split at a sentence or word end).
MAX_CHUNK_CHARS: Final = 600
#: espeak-ng processes running at once for one answer: the one being heard and the next.
MAX_RUNNING: Final = 2
#: An espeak-ng voice: a language (``en``, ``en-us``, ``fr``) and an optional ``+variant``.
VOICE_PATTERN: Final = re.compile(r"(?:[a-z]{2,3}(?:-[a-z0-9]{1,8})*)?(?:\+[a-z0-9_]{1,32})?")
_WAV_HEADER = 44
_READ_BYTES = 8192  # about 0.19 s of espeak-ng's audio
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class EmbeddedTextToSpeech:
    """:class:`~unmute_server.voice.tts.engine.TextToSpeech` on espeak-ng subprocesses."""

    name = "embedded"

    def __init__(
        self,
        *,
        chunk_timeout: float = 10.0,
        command: str = COMMAND,
        probe_cache: float = 5.0,
        niceness: int = 0,
    ) -> None:
        self._chunk_timeout = chunk_timeout
        self._niceness = niceness
        self._command = command
        self._probe_cache = probe_cache
        self._probed: tuple[float, bool] | None = None
        self._syntheses: set[_EspeakSynthesis] = set()

    async def start(self, voice: VoiceChoice, language: str) -> _EspeakSynthesis:
        executable = shutil.which(self._command)
        if executable is None:
            raise VoiceEngineError(VoiceErrorCode.UNAVAILABLE, missing_message(self._command))
        synthesis = _EspeakSynthesis(
            executable, espeak_voice(voice.embedded, language), self._chunk_timeout, self._niceness
        )
        self._syntheses.add(synthesis)
        synthesis.on_close = self._syntheses.discard
        return synthesis

    async def probe(self) -> bool:
        """Whether ``espeak-ng --version`` runs; the answer is kept ``probe_cache`` seconds."""
        now = time.monotonic()
        if self._probed is not None and now - self._probed[0] < self._probe_cache:
            return self._probed[1]
        up = await _runs(self._command)
        self._probed = (time.monotonic(), up)
        return up

    async def aclose(self) -> None:
        await asyncio.gather(*(synthesis.aclose() for synthesis in list(self._syntheses)))


def missing_message(command: str = COMMAND) -> str:
    """What to tell someone whose machine has no espeak-ng."""
    return (
        f"{command} is not installed (the embedded text-to-speech runs it); "
        f"install it with: {INSTALL_HINT} (or `make system-deps` as root)"
    )


def espeak_voice(spec: str, language: str) -> str:
    """The ``-v`` value: ``spec`` as is when it names a language, else ``language`` + ``spec``.

    Raises ``rejected`` for anything that is not a plain espeak-ng voice name, so a voice never
    reaches espeak-ng's command line as anything else.
    """
    spec = spec.strip().casefold()
    if not spec or spec.startswith("+"):
        spec = language.strip().casefold() + spec
    if not spec or VOICE_PATTERN.fullmatch(spec) is None:
        raise VoiceEngineError(VoiceErrorCode.REJECTED, f"{spec!r} is not an espeak-ng voice")
    return spec


def speakable(text: str) -> str:
    """``text`` as espeak-ng should read it: no control characters, no ``[[phonemes]]``."""
    return _CONTROL.sub(" ", text).replace("[[", "[ [")


def split_chunk(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after a sentence end, else at a
    space, else anywhere."""
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind(mark) for mark in (". ", "! ", "? ", "; ", ", "))
        cut = cut + 1 if cut > 0 else window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].strip())
        text = text[cut:]
    pieces.append(text.strip())
    return [piece for piece in pieces if piece]


async def _runs(command: str) -> bool:
    if shutil.which(command) is None:
        return False
    try:
        process = await asyncio.create_subprocess_exec(
            command,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return False
    try:
        return await asyncio.wait_for(process.wait(), 2.0) == 0
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


class _EspeakSynthesis:
    """One answer: a queue of chunks, each spoken by its own espeak-ng process."""

    def __init__(self, executable: str, voice: str, chunk_timeout: float, niceness: int) -> None:
        self._executable = executable
        self._voice = voice
        self._chunk_timeout = chunk_timeout
        self._niceness = niceness
        self._chunks: list[_Chunk] = []
        self._more = asyncio.Event()  # a chunk was added, or the text ended
        self._ended = False
        self._closed = False
        self._running = asyncio.Semaphore(MAX_RUNNING)
        self._reaps: set[asyncio.Future[None]] = set()
        self._texts = 0  # send_text calls so far: the next chunk's index
        self.on_close: Callable[[_EspeakSynthesis], None] | None = None

    async def send_text(self, text: str) -> None:
        if self._closed:
            return  # stopped (barge-in): late text is not spoken
        if self._ended:
            raise VoiceEngineError(VoiceErrorCode.REJECTED, "the answer's text has ended")
        index, self._texts = self._texts, self._texts + 1
        for piece in split_chunk(speakable(text)):
            chunk = _Chunk(index, piece)
            chunk.task = asyncio.create_task(self._speak(chunk))
            self._chunks.append(chunk)
        self._more.set()

    async def end(self) -> None:
        self._ended = True
        self._more.set()

    async def audio(self) -> AsyncIterator[SpokenAudio]:
        position = 0
        while not self._closed:
            if position == len(self._chunks):
                if self._ended:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            chunk = self._chunks[position]
            while True:
                pcm = await chunk.audio.get()
                if pcm is None:
                    break
                if self._closed:
                    return
                yield SpokenAudio(pcm, chunk.index)
            if chunk.error is not None:
                raise chunk.error
            position += 1

    async def aclose(self) -> None:
        """Stop every chunk and wait until each espeak-ng process is reaped.

        A second call waits for what a first one, cancelled midway (a session torn down while
        its answer was being stopped), left running, so the engine's own ``aclose`` at
        shutdown leaves no process and no pipe behind the server's loop.
        """
        tasks = [chunk.task for chunk in self._chunks if chunk.task is not None]
        if not self._closed:
            self._closed = True
            self._more.set()
            for task in tasks:
                task.cancel()
            for chunk in self._chunks:
                chunk.audio.put_nowait(None)
        await asyncio.gather(*tasks, *self._reaps, return_exceptions=True)
        if self.on_close is not None:
            self.on_close(self)

    async def _speak(self, chunk: _Chunk) -> None:
        try:
            async with self._running:
                await asyncio.wait_for(self._run(chunk), self._chunk_timeout)
        except TimeoutError:
            chunk.error = VoiceEngineError(
                VoiceErrorCode.TIMEOUT,
                f"espeak-ng took over {self._chunk_timeout:g} s for {len(chunk.text)} characters",
            )
        except VoiceEngineError as error:
            chunk.error = error
        finally:
            chunk.audio.put_nowait(None)

    async def _run(self, chunk: _Chunk) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                self._executable,
                "--stdout",
                "-v",
                self._voice,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError:
            raise VoiceEngineError(VoiceErrorCode.UNAVAILABLE, missing_message()) from None
        run_nicer(process, self._niceness)
        try:
            await _speak_with(process, chunk)
        finally:
            # Reaped whatever happened, cancellation included: no zombie is left, and no
            # wait on a pipe nobody reads any more. Held in _reaps, so that a reap a second
            # cancellation leaves running is still waited for by aclose.
            reaping = asyncio.ensure_future(reap(process))
            self._reaps.add(reaping)
            reaping.add_done_callback(self._reaps.discard)
            await asyncio.shield(reaping)


async def _speak_with(process: asyncio.subprocess.Process, chunk: _Chunk) -> None:
    if process.stdin is None or process.stdout is None or process.stderr is None:
        raise RuntimeError("espeak-ng was started without its three pipes")
    process.stdin.write(chunk.text.encode() + b"\n")
    with contextlib.suppress(ConnectionError):
        await process.stdin.drain()
    process.stdin.close()
    stderr = asyncio.create_task(process.stderr.read(4096))
    try:
        header = await process.stdout.read(_WAV_HEADER)
        while len(header) < _WAV_HEADER:
            more = await process.stdout.read(_WAV_HEADER - len(header))
            if not more:
                break
            header += more
        if len(header) < _WAV_HEADER:
            reason = (await stderr).decode(errors="replace").strip() or "no audio"
            raise VoiceEngineError(VoiceErrorCode.REJECTED, f"espeak-ng failed: {reason}")
    finally:
        # Stopped before the pipe is read to its end by reap(): one reader at a time.
        stderr.cancel()
        await asyncio.wait((stderr,))
    rate = _wav_rate(header)
    resampler = Resampler(rate, SAMPLE_RATE)
    leftover = b""
    while block := await process.stdout.read(_READ_BYTES):
        block = leftover + block
        whole = len(block) - len(block) % 2
        leftover = block[whole:]
        samples = np.frombuffer(block[:whole], dtype="<i2").astype(np.float32) / 32768.0
        # About 2 ms of numpy per block, off the loop; and the await yields to it between
        # blocks, which a read of audio already buffered (espeak-ng is fast) would not.
        pcm = await asyncio.to_thread(resampler.process, samples)
        if len(pcm):
            chunk.audio.put_nowait(pcm)
    tail = resampler.flush()
    if len(tail):
        chunk.audio.put_nowait(tail)
    if await process.wait() != 0:
        raise VoiceEngineError(
            VoiceErrorCode.REJECTED, f"espeak-ng stopped with exit code {process.returncode}"
        )


def _wav_rate(header: bytes) -> int:
    """The sample rate of espeak-ng's 16-bit mono WAV header."""
    riff, _, wave, channels, rate, bits = (
        header[0:4],
        header[4:8],
        header[8:12],
        struct.unpack_from("<H", header, 22)[0],
        struct.unpack_from("<I", header, 24)[0],
        struct.unpack_from("<H", header, 34)[0],
    )
    if riff != b"RIFF" or wave != b"WAVE" or channels != 1 or bits != 16 or not rate:
        raise VoiceEngineError(VoiceErrorCode.BAD_RESPONSE, "espeak-ng's output is not 16-bit mono")
    return int(rate)


class _Chunk:
    """One text chunk's process, and the audio it produced so far (``None`` ends it)."""

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self.text = text
        self.audio: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self.error: VoiceEngineError | None = None
        self.task: asyncio.Task[None] | None = None
