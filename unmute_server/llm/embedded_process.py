"""The embedded LLM in a child process: `unmute-server llm-serve`, started and ended from here.

The session server starts one child per process (in `cleanup_ctx`) and reaches it over
loopback like any OpenAI-compatible server. The child, not the server, holds the model, so
ending it is always possible and immediate (llama.cpp's own shutdown sometimes hangs, see
`embedded`), a crash of the model cannot take sessions down, and its memory is counted apart.
The child exits when its standard input closes, so it never outlives the server, even one
that is killed.

Both calls block (a process start, a wait): the server runs them with `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import threading
import time

from .embedded import EmbeddedLLMError, client_settings
from .settings import EmbeddedLLMSettings, LLMSettings

#: Loading the model takes one to two seconds on a quiet machine; this bounds a stuck start.
START_SECONDS = 60.0
#: How long the child may take to exit once its standard input is closed, before it is killed.
STOP_SECONDS = 5.0
LISTENING_PREFIX = "unmute-server llm-serve listening on "


def serve_arguments(settings: EmbeddedLLMSettings) -> list[str]:
    """The `llm-serve` flags that reproduce `settings`."""
    arguments = [
        f"--threads={settings.threads}",
        f"--slots={settings.slots}",
        f"--context={settings.context}",
        f"--max-tokens={settings.max_tokens}",
    ]
    if settings.model_file is not None:
        arguments.append(f"--model-file={settings.model_file}")
    return arguments


class EmbeddedLLMProcess:
    """A running `unmute-server llm-serve` child on a free loopback port."""

    __slots__ = ("_process", "settings", "url")

    def __init__(
        self, process: subprocess.Popen[str], url: str, settings: EmbeddedLLMSettings
    ) -> None:
        self._process = process
        self.url = url
        self.settings = settings

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    def start(
        cls, settings: EmbeddedLLMSettings, *, start_seconds: float = START_SECONDS
    ) -> EmbeddedLLMProcess:
        """Start the child and wait until it listens; `EmbeddedLLMError` says why it did not."""
        argv = [
            sys.executable,
            "-m",
            "unmute_server",
            "llm-serve",
            "--host=127.0.0.1",
            "--port=0",
            "--until-stdin-closes",
            *serve_arguments(settings),
        ]
        # The child takes its settings from these flags alone, none from the environment.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("UNMUTE_")}
        with tempfile.TemporaryFile(mode="w+") as errors:
            process = subprocess.Popen(  # noqa: S603 (our own program, fixed arguments)
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=environment,
                text=True,
            )
            line = _first_line(process, start_seconds)
            if line is None or not line.startswith(LISTENING_PREFIX):
                _end(process)
                if process.stdout is not None:
                    process.stdout.close()
                errors.seek(0)
                raise EmbeddedLLMError(_failure(errors.read(), line, start_seconds))
        url = line.removeprefix(LISTENING_PREFIX).split()[0]
        # Whatever the child still writes is read and dropped: a full pipe would stop it.
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        return cls(process, url, settings)

    def client_settings(self) -> LLMSettings:
        """How the server's chat backend reaches the child."""
        return client_settings(self.settings, self.url)

    def stop(self) -> None:
        """End the child: close its standard input, and kill it if it has not exited."""
        _end(self._process)


def _first_line(process: subprocess.Popen[str], seconds: float) -> str | None:
    """The child's first line of output, or `None` if it exited or said nothing in time."""
    if process.stdout is None:
        return None
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stdout], [], [], min(remaining, 0.5))
        if ready:
            line = process.stdout.readline()
            return line.strip() or None
        if process.poll() is not None:
            return None
    return None


def _drain(process: subprocess.Popen[str]) -> None:
    if process.stdout is not None:
        with contextlib.suppress(OSError, ValueError), process.stdout:
            for _line in process.stdout:
                pass


def _end(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _failure(stderr: str, line: str | None, seconds: float) -> str:
    """The child's own reason (its last line of errors), or what was seen instead."""
    prefix = "unmute-server llm-serve: "
    reasons = [text.strip() for text in stderr.splitlines() if text.strip()]
    own = [text.removeprefix(prefix) for text in reasons if text.startswith(prefix)]
    if own or reasons:
        return (own or reasons)[-1][:300]
    if line is not None:
        return f"the embedded LLM did not start: it said {line[:200]!r}"
    return f"the embedded LLM did not start within {seconds:g} s"
