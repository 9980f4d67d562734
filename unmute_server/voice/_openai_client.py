"""What the OpenAI-compatible speech-to-text and text-to-speech adapters share.

Both speak through the official `openai` client (one request per utterance or answer: the
SDK's cost per request, which moved the LLM's streamed answers to aiohttp, matters little here),
and need the same three things around it: a client built the same way (no retries, no stray
``OPENAI_API_KEY``), one :class:`~unmute_server.voice.errors.VoiceEngineError` code per way of
failing with a message that never holds the URL or the key, and a cheap, bounded, briefly cached
health probe.
"""

from __future__ import annotations

import asyncio
import logging
import math

import openai

from unmute_server.llm.openai_backend import NO_API_KEY
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode

logger = logging.getLogger(__name__)

#: The longest a health probe may take, whatever the engine's own timeout.
PROBE_TIMEOUT_SECONDS = 3.0
#: How long a probe's answer is reused: ``/v1/health`` may be polled by every open page.
PROBE_CACHE_SECONDS = 2.0

# The adapters enforce their own deadlines with asyncio; the client's timeout is only a backstop
# set later than theirs, so a deadline always surfaces as the adapters' TimeoutError and never as
# an HTTP library's read-timeout exception half-way through a body.
_BACKSTOP_MARGIN_SECONDS = 5.0
_LOGGED_DETAIL_LIMIT = 300


def check_engine_arguments(model: str, timeout: float) -> None:
    """Refuse a constructor call that could only fail later, with a message naming the argument."""
    if not model.strip():
        raise ValueError("model must name the model to ask for, and is empty")
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def make_client(base_url: str, api_key: str | None, timeout: float) -> openai.AsyncOpenAI:
    """One client (one connection pool) per engine per process.

    Retries are off: in a live conversation a retried request only adds silence. Without a key a
    placeholder is sent, so the library never picks up an unrelated ``OPENAI_API_KEY``.
    """
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key or NO_API_KEY,
        max_retries=0,
        timeout=openai.Timeout(timeout + _BACKSTOP_MARGIN_SECONDS),
    )


class FailureReport:
    """Turns an exception from one engine's requests into a client-safe `VoiceEngineError`.

    ``server`` names the engine in messages ("speech-to-text server"); the operator's log gets the
    library's own detail, with the API key blanked and the length bounded.
    """

    __slots__ = ("_api_key", "_server", "_timeout")

    def __init__(self, server: str, api_key: str | None, timeout: float) -> None:
        self._server = server
        self._api_key = api_key
        self._timeout = timeout

    def deadline(self) -> VoiceEngineError:
        """The engine did not answer (or went silent) within the timeout."""
        return VoiceEngineError(
            VoiceErrorCode.TIMEOUT,
            f"the OpenAI-compatible {self._server} did not answer within {self._timeout:g} s",
        )

    def request(self, err: Exception) -> VoiceEngineError:
        """A failure before the answer's body: connecting, sending, the status line, parsing."""
        self.log(err, "request")
        if isinstance(err, TimeoutError | openai.APITimeoutError):
            return self.deadline()
        if isinstance(err, openai.APIConnectionError):
            return VoiceEngineError(
                VoiceErrorCode.UNAVAILABLE,
                f"could not connect to the OpenAI-compatible {self._server}",
            )
        if isinstance(err, openai.APIStatusError):
            reason = err.response.reason_phrase
            status = f"HTTP {err.status_code}" + (f" {reason}" if reason else "")
            return VoiceEngineError(
                VoiceErrorCode.REJECTED,
                f"the OpenAI-compatible {self._server} answered {status}",
            )
        return self.unreadable()

    def stream(self, err: Exception) -> VoiceEngineError:
        """A failure while reading a body that had started: the engine was reached, the answer
        broke off."""
        self.log(err, "stream")
        if isinstance(err, TimeoutError | openai.APITimeoutError):
            return self.deadline()
        return VoiceEngineError(
            VoiceErrorCode.BAD_RESPONSE,
            f"the OpenAI-compatible {self._server} broke off its answer",
        )

    def unreadable(self) -> VoiceEngineError:
        """The engine answered 2xx with something the adapter cannot read."""
        return VoiceEngineError(
            VoiceErrorCode.BAD_RESPONSE,
            f"the OpenAI-compatible {self._server} sent an answer that cannot be read",
        )

    def log(self, err: BaseException, stage: str) -> None:
        """Server-side detail for the operator, without the key and bounded in size."""
        detail = str(err)
        if self._api_key:
            detail = detail.replace(self._api_key, "[api key]")
        if len(detail) > _LOGGED_DETAIL_LIMIT:
            detail = detail[:_LOGGED_DETAIL_LIMIT] + "..."
        logger.warning("%s %s failed: %s: %s", self._server, stage, type(err).__name__, detail)


class ModelsProbe:
    """Whether an OpenAI-compatible server answers ``GET {base_url}/models`` with a 2xx status.

    That endpoint is what every server named in docs/operations.md answers (OpenAI, speaches, vLLM,
    Kokoro-FastAPI, openedai-speech), costs nothing to compute, and needs the API key, so a wrong
    key shows as down. The configured model is not looked for in the list: servers disagree on
    what they list (speaches lists the models installed so far, openedai-speech may answer
    ``{}``, Kokoro-FastAPI lists aliases), so a missing id would be a false alarm. Concurrent
    callers share one request, and the answer is reused for :data:`PROBE_CACHE_SECONDS`.
    """

    __slots__ = ("_checked_at", "_client", "_lock", "_timeout", "_up")

    def __init__(self, client: openai.AsyncOpenAI, timeout: float) -> None:
        self._client = client
        self._timeout = min(timeout, PROBE_TIMEOUT_SECONDS)
        self._lock = asyncio.Lock()
        self._checked_at = -math.inf
        self._up = False

    async def __call__(self) -> bool:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if now - self._checked_at >= PROBE_CACHE_SECONDS:
                self._up = await self._ask()
                self._checked_at = asyncio.get_running_loop().time()
            return self._up

    async def _ask(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                # The raw response is not parsed: a 2xx status is the whole answer wanted.
                await self._client.models.with_raw_response.list()
        except Exception as err:  # any failure means "cannot serve now"
            logger.info("OpenAI-compatible server probe failed: %s", type(err).__name__)
            return False
        return True
