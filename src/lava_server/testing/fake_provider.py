"""A fake AI provider: OpenAI, Anthropic and Gemini wire formats, offline and deterministic.

Tests, the demo and the benchmarks point the forward proxy at this server instead of the real
providers (``LAVA_UPSTREAM_OPENAI=http://127.0.0.1:9100`` and so on). It answers like the real
APIs, streaming and not, with usage blocks derived from the request, so that a bill can be checked
to the token.

Routes. Any path prefix is accepted before the suffixes below, so OpenAI-compatible providers whose
base URL carries a prefix (``/openai/v1`` for Groq, ``/inference/v1`` for Fireworks,
``/v1beta/openai`` for Gemini's compatible API) reach the same handlers:

=================================================  ============================================
``POST .../chat/completions``                      OpenAI chat completions
``POST .../responses``                             OpenAI Responses API
``POST .../embeddings``                            OpenAI embeddings (float or base64)
``POST .../audio/speech``                          OpenAI text to speech (``audio/mpeg`` bytes)
``GET  .../models``                                model list: Anthropic's shape when
                                                   ``anthropic-version`` is sent, Gemini's
                                                   under ``/v1beta/`` (not ``/openai/``),
                                                   else OpenAI's
``POST .../messages``                              Anthropic messages
``POST .../models/{model}:generateContent``        Gemini
``POST .../models/{model}:streamGenerateContent``  Gemini streaming: SSE with ``?alt=sse``
                                                   (``\\r\\n\\r\\n`` separators, as Google
                                                   sends), else a streamed JSON array
``POST .../text-to-speech/{voice}[/stream]``       ElevenLabs (``x-character-count`` header)
``GET /_fake/requests``                            the recorded requests, oldest first
``DELETE /_fake/requests``                         forget them
``GET /_fake/health``                              ``{"ok": true}``
=================================================  ============================================

Credentials. A non-empty key is required, sent the provider's way: ``Authorization: Bearer`` on
OpenAI-style routes; ``x-api-key`` or ``Authorization: Bearer`` for Anthropic; ``x-goog-api-key``
or ``?key=`` for Gemini; ``xi-api-key`` for ElevenLabs. Without one the answer is a 401 in the
provider's error format. The key and where it was found are recorded (``api_key``,
``key_source``), with the method, path, query, headers and JSON body of each request.

Usage. Tokens are counted with :func:`count_tokens` (one token per run of word characters, one per
other non-space character). Input tokens are that count over the request's text (messages,
system, instructions, contents, embedding inputs), plus 85 per image and one per id of a token-id
array; at least 1. The answer is a fixed cycle of plain words (:func:`answer_text`), one token and
one stream chunk per word, :data:`DEFAULT_OUTPUT_TOKENS` of them unless ``fake-tokens-<N>`` says
otherwise, capped by ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` /
``generationConfig.maxOutputTokens`` (the finish reason is then ``length`` / ``max_tokens`` /
``MAX_TOKENS``, and a Responses answer is ``incomplete``). Reasoning models (OpenAI ``o1``, ``o3``,
``o4``, ``gpt-5`` families; Gemini models whose name contains ``thinking`` or ``2.5``) also spend
:data:`REASONING_TOKENS` hidden tokens within the same cap, reported as ``reasoning_tokens`` /
``thoughtsTokenCount`` and counted in the output tokens (Gemini: in ``totalTokenCount``, not in
``candidatesTokenCount``).

Test controls. The proxy forwards the body, the path and the upstream query string but not
arbitrary headers, so a control is a word found anywhere in the request body, path or query
string: in the model name (``"model": "fake-error-500"``) or in the prompt text, so that a priced
model name such as ``gpt-4o-mini`` can still be used. Controls combine.

============================  ==================================================================
``fake-error-<NNN>``          answer status NNN (4xx/5xx) with the provider's error body, e.g.
                              ``fake-error-500``, ``fake-error-429``, ``fake-error-529``
``fake-slow``                 wait 5 s before the first byte (``fake-slow-<N>ms``: N ms)
``fake-hang-midstream``       send a few chunks, then stall for 60 s before going on
                              (not streaming: half of the body, then the stall)
``fake-drop-midstream``       send a few chunks, then close the connection abruptly
                              (not streaming: half of the body under a full Content-Length)
``fake-error-midstream``      send a few chunks, then the provider's in-stream error (OpenAI
                              ``data: {"error": ...}``, Responses ``response.failed``, Anthropic
                              ``event: error``, Gemini an ``error`` chunk), and end
``fake-no-usage``             omit every usage block
``fake-usage-on-last-chunk``  chat streaming: usage on the last choice chunk (the one with the
                              finish reason) whether or not ``stream_options.include_usage`` is
                              set, as several OpenAI-compatible providers do; no usage chunk
``fake-tokens-<N>``           generate N output tokens (still capped by the max tokens field)
``fake-claim-<N>``            OpenAI chat: the usage block claims N output tokens whatever was
                              sent (a provider whose accounting runs wild)
``fake-cache-read``           half of the input tokens are cache reads (OpenAI and Responses
                              ``cached_tokens``, Anthropic ``cache_read_input_tokens``, Gemini
                              ``cachedContentTokenCount``)
``fake-cache-write``          Anthropic: half of the input tokens are cache writes
                              (``cache_creation_input_tokens``)
============================  ==================================================================

Timing. ``latency_ms`` delays the first byte of every provider answer (status line and headers
included); ``chunk_delay_ms`` is slept between stream chunks. Chunks are sent one by one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import re
import struct
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "HANG_SECONDS",
    "IMAGE_TOKENS",
    "MIDSTREAM_AFTER_CHUNKS",
    "REASONING_TOKENS",
    "SLOW_SECONDS",
    "ConnectionDropped",
    "Controls",
    "FakeProvider",
    "answer_text",
    "count_tokens",
    "create_fake_provider_app",
    "parse_controls",
    "run",
]

DEFAULT_OUTPUT_TOKENS = 16
"""Output tokens (words) generated when no control and no cap says otherwise."""
REASONING_TOKENS = 16
"""Hidden reasoning/thinking tokens spent by reasoning models."""
IMAGE_TOKENS = 85
"""Input tokens counted for each image part."""
SLOW_SECONDS = 5.0
"""Delay added by ``fake-slow``."""
HANG_SECONDS = 60.0
"""Stall of ``fake-hang-midstream``."""
MIDSTREAM_AFTER_CHUNKS = 4
"""Chunks sent before a midstream control acts (fewer when the stream is shorter)."""
MAX_OUTPUT_TOKENS = 100_000
"""Upper bound of ``fake-tokens-<N>``."""

JSON = dict[str, Any]

# --------------------------------------------------------------------------------------------------
# Tokens and the generated answer
# --------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The fake tokenizer: a token per run of word characters, one per other non-space character."""
    return len(_TOKEN_RE.findall(text))


_ANSWER_WORDS = [
    "Hello",
    "from",
    "the",
    "Lava",
    "fake",
    "provider",
    "this",
    "answer",
    "is",
    "deterministic",
    "and",
    "its",
    "usage",
    "is",
    "derived",
    "from",
    "the",
    "request",
    "so",
    "that",
    "every",
    "bill",
    "can",
    "be",
    "checked",
    "to",
    "the",
    "token",
    "by",
    "the",
    "tests",
    "of",
    "the",
    "forward",
    "proxy",
]


@lru_cache(maxsize=128)
def _answer_pieces(n: int) -> tuple[str, ...]:
    """The answer's stream pieces: word ``i`` with a leading space after the first."""
    words = len(_ANSWER_WORDS)
    return tuple(
        (_ANSWER_WORDS[i % words] if i == 0 else " " + _ANSWER_WORDS[i % words]) for i in range(n)
    )


def answer_text(n: int) -> str:
    """The text of an answer of ``n`` output tokens (``count_tokens(answer_text(n)) == n``)."""
    return "".join(_answer_pieces(n))


_TEXT_KEYS = frozenset(
    {
        "arguments",
        "content",
        "contents",
        "function",
        "input",
        "instructions",
        "messages",
        "output",
        "parts",
        "system",
        "systemInstruction",
        "system_instruction",
        "text",
        "tool_calls",
    }
)
_IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})


def _count_input(value: Any) -> int:
    """Tokens of the text inside a request fragment (messages, contents, inputs...)."""
    if isinstance(value, str):
        return count_tokens(value)
    if isinstance(value, list):
        total = 0
        for item in value:
            if type(item) is int:  # a token-id array (embeddings, legacy prompts)
                total += 1
            else:
                total += _count_input(item)
        return total
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            if key in _TEXT_KEYS:
                total += _count_input(item)
        if (
            value.get("type") in _IMAGE_TYPES
            or "inlineData" in value
            or "inline_data" in value
            or "fileData" in value
        ):
            total += IMAGE_TOKENS
        return total
    return 0


# --------------------------------------------------------------------------------------------------
# Controls
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Controls:
    """Test behaviours asked for by ``fake-...`` words in the request (see the module docstring)."""

    error_status: int | None = None
    slow_seconds: float = 0.0
    hang_midstream: bool = False
    drop_midstream: bool = False
    error_midstream: bool = False
    no_usage: bool = False
    usage_on_last_chunk: bool = False
    output_tokens: int | None = None
    cache_read: bool = False
    cache_write: bool = False
    claimed_output_tokens: int | None = None

    @property
    def midstream(self) -> bool:
        return self.hang_midstream or self.drop_midstream or self.error_midstream


_NO_CONTROLS = Controls()
_CONTROL_RE = re.compile(
    r"fake-(?:error-(?P<status>[45]\d\d)(?!\d)|slow-(?P<slow_ms>\d+)ms|tokens-(?P<tokens>\d+)"
    r"|claim-(?P<claim>\d+)"
    r"|(?P<flag>error-midstream|hang-midstream|drop-midstream|no-usage|usage-on-last-chunk"
    r"|cache-read|cache-write|slow))"
)
_FLAG_FIELDS = {
    "error-midstream": "error_midstream",
    "hang-midstream": "hang_midstream",
    "drop-midstream": "drop_midstream",
    "no-usage": "no_usage",
    "usage-on-last-chunk": "usage_on_last_chunk",
    "cache-read": "cache_read",
    "cache-write": "cache_write",
}


def parse_controls(*sources: str) -> Controls:
    """The controls named in ``sources`` (body text, path, query string)."""
    found: dict[str, Any] = {}
    for source in sources:
        if "fake-" not in source:
            continue
        for match in _CONTROL_RE.finditer(source):
            if match["status"] is not None:
                found["error_status"] = int(match["status"])
            elif match["slow_ms"] is not None:
                found["slow_seconds"] = int(match["slow_ms"]) / 1000
            elif match["tokens"] is not None:
                found["output_tokens"] = min(int(match["tokens"]), MAX_OUTPUT_TOKENS)
            elif match["claim"] is not None:
                found["claimed_output_tokens"] = int(match["claim"])
            elif match["flag"] == "slow":
                found.setdefault("slow_seconds", SLOW_SECONDS)
            else:
                found[_FLAG_FIELDS[match["flag"]]] = True
    return Controls(**found) if found else _NO_CONTROLS


# --------------------------------------------------------------------------------------------------
# Plans: what an answer contains
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """The answer to one request: its input accounting and its output."""

    input_tokens: int  # all prompt tokens, cached ones included
    cache_read: int
    cache_write: int
    pieces: tuple[str, ...]  # visible output, one token per piece
    reasoning: int
    truncated: bool  # stopped by the caller's max tokens
    claimed_output_tokens: int | None = None  # what the usage block says instead (fake-claim-N)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return len(self.pieces) + self.reasoning


def _as_int(value: Any) -> int | None:
    if type(value) is int and value >= 0:
        return value
    return None


def _plan(
    input_tokens: int, cap: int | None, controls: Controls, *, reasoning_model: bool
) -> _Plan:
    input_tokens = max(1, input_tokens)
    wanted = DEFAULT_OUTPUT_TOKENS if controls.output_tokens is None else controls.output_tokens
    reasoning = REASONING_TOKENS if reasoning_model else 0
    truncated = False
    if cap is not None:
        reasoning = min(reasoning, cap)
        if wanted > cap - reasoning:
            wanted = cap - reasoning
            truncated = True
    half = input_tokens // 2
    return _Plan(
        input_tokens=input_tokens,
        cache_read=half if controls.cache_read else 0,
        cache_write=half if controls.cache_write and not controls.cache_read else 0,
        pieces=_answer_pieces(wanted),
        reasoning=reasoning,
        truncated=truncated,
        claimed_output_tokens=controls.claimed_output_tokens,
    )


_OPENAI_REASONING_RE = re.compile(r"(?:^|/)(?:o\d|gpt-5)")


def _openai_reasoning(model: str) -> bool:
    return _OPENAI_REASONING_RE.search(model) is not None


def _gemini_thinking(model: str) -> bool:
    return "thinking" in model or "2.5" in model


# --------------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------------

_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_google = json.JSONEncoder(separators=(",", ": "), ensure_ascii=False).encode


def _dumps(obj: Any) -> bytes:
    return _compact(obj).encode()


def _sse(obj: Any) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


def _sse_event(event: str, obj: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _dumps(obj) + b"\n\n"


def _gemini_sse(obj: Any) -> bytes:
    return b"data: " + _google(obj).encode() + b"\r\n\r\n"


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


class ConnectionDropped(Exception):
    """Raised inside a stream to make the server close the connection abruptly."""


def _is_dropped(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, ConnectionDropped):
        return True
    inner = getattr(exc, "exceptions", None)
    return isinstance(inner, tuple) and any(_is_dropped(e) for e in inner)


class _DroppedConnectionFilter(logging.Filter):
    """Keeps uvicorn from logging a traceback for each ``fake-drop-midstream``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_dropped(record.exc_info[1]))


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DroppedConnectionFilter) for f in logger.filters):
        logger.addFilter(_DroppedConnectionFilter())


# --------------------------------------------------------------------------------------------------
# Errors, in each provider's format
# --------------------------------------------------------------------------------------------------

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_denied", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_GEMINI_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request is missing a valid API key."),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}


def _openai_error_body(status: int, message: str | None = None) -> JSON:
    kind, code, default = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def _anthropic_error_body(status: int, message: str | None = None) -> JSON:
    kind, default = _ANTHROPIC_ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", "Error.")
    )
    return {
        "type": "error",
        "error": {"type": kind, "message": message or default},
        "request_id": _new_id("req_"),
    }


def _gemini_error_body(status: int, message: str | None = None) -> JSON:
    kind, default = _GEMINI_ERRORS.get(
        status, ("INTERNAL" if status >= 500 else "INVALID_ARGUMENT", "Error.")
    )
    return {"error": {"code": status, "message": message or default, "status": kind}}


def _elevenlabs_error_body(status: int, message: str | None = None) -> JSON:
    kind = "invalid_api_key" if status == 401 else "error"
    return {"detail": {"status": kind, "message": message or "Error."}}


_ERROR_BODIES: dict[str, Callable[[int, str | None], JSON]] = {
    "openai": _openai_error_body,
    "anthropic": _anthropic_error_body,
    "gemini": _gemini_error_body,
    "elevenlabs": _elevenlabs_error_body,
}

_MISSING_KEY_MESSAGES = {
    "openai": (
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
    "anthropic": "x-api-key header is required",
    "gemini": "Method doesn't allow unregistered callers. Please use an API key.",
    "elevenlabs": "Missing xi-api-key header.",
}


# --------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Endpoint:
    family: str  # openai | anthropic | gemini | elevenlabs
    kind: str
    model: str | None = None  # from the path (Gemini)


def _resolve(method: str, path: str, headers: dict[str, str]) -> _Endpoint | None:
    if method == "POST":
        last = path.rpartition("/")[2]
        if ":" in last and "/models/" in path:
            model, _, action = last.partition(":")
            if action in ("generateContent", "streamGenerateContent"):
                return _Endpoint("gemini", action, model)
            return None
        if path.endswith("/chat/completions"):
            return _Endpoint("openai", "chat")
        if path.endswith("/responses"):
            return _Endpoint("openai", "responses")
        if path.endswith("/embeddings"):
            return _Endpoint("openai", "embeddings")
        if path.endswith("/audio/speech"):
            return _Endpoint("openai", "speech")
        if path.endswith("/messages"):
            return _Endpoint("anthropic", "messages")
        if "/text-to-speech/" in path:
            return _Endpoint("elevenlabs", "tts")
    elif method == "GET" and path.endswith("/models"):
        if "anthropic-version" in headers:
            return _Endpoint("anthropic", "models")
        if "/v1beta/" in path and "/openai/" not in path:
            return _Endpoint("gemini", "models")
        return _Endpoint("openai", "models")
    return None


def _find_key(family: str, headers: dict[str, str], request: Request) -> tuple[str, str] | None:
    """The provider key of a request and where it was found."""

    def bearer() -> str | None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    if family == "openai":
        key = bearer()
        return (key, "authorization") if key else None
    if family == "anthropic":
        key = headers.get("x-api-key", "").strip()
        if key:
            return key, "x-api-key"
        key = bearer() or ""
        return (key, "authorization") if key else None
    if family == "gemini":
        key = headers.get("x-goog-api-key", "").strip()
        if key:
            return key, "x-goog-api-key"
        key = request.query_params.get("key", "").strip()
        return (key, "query:key") if key else None
    key = headers.get("xi-api-key", "").strip()
    return (key, "xi-api-key") if key else None


# --------------------------------------------------------------------------------------------------
# The provider
# --------------------------------------------------------------------------------------------------

_SSE_HEADERS = {"cache-control": "no-cache"}
_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small", "tts-1")
_ANTHROPIC_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5")
_GEMINI_MODELS = ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro")


class FakeProvider:
    """The fake provider's configuration, recorded requests and handlers.

    ``create_fake_provider_app`` builds one and exposes it as ``app.state.fake_provider``, so
    in-process tests can read :attr:`requests` without going through ``GET /_fake/requests``.
    """

    def __init__(
        self, *, latency_ms: float = 0, chunk_delay_ms: float = 0, max_recorded: int = 1000
    ) -> None:
        self.latency = max(0.0, latency_ms) / 1000
        self.chunk_delay = max(0.0, chunk_delay_ms) / 1000
        self._recorded: deque[JSON] = deque(maxlen=max(1, max_recorded))
        self._sequence = 0

    # -- recording ---------------------------------------------------------------------------------

    @property
    def requests(self) -> list[JSON]:
        """The recorded requests, oldest first."""
        return list(self._recorded)

    def clear(self) -> None:
        self._recorded.clear()

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw: bytes,
        body: Any,
        endpoint: _Endpoint | None,
        key: tuple[str, str] | None,
    ) -> None:
        self._sequence += 1
        record: JSON = {
            "seq": self._sequence,
            "time": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
            "provider": endpoint.family if endpoint else None,
            "endpoint": endpoint.kind if endpoint else None,
            "model": (endpoint.model if endpoint and endpoint.model else None)
            or (body.get("model") if isinstance(body, dict) else None),
            "api_key": key[0] if key else None,
            "key_source": key[1] if key else None,
        }
        if body is None and raw:
            record["body_text"] = raw.decode("utf-8", "replace")
        self._recorded.append(record)

    async def list_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear()
            return Response(status_code=204)
        return _json_response(200, {"object": "list", "data": self.requests})

    async def health(self, request: Request) -> Response:
        return _json_response(200, {"ok": True})

    # -- dispatch ----------------------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        scope = request.scope
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        query: str = scope["query_string"].decode("latin-1")
        endpoint = _resolve(request.method, path, headers)
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        key = _find_key(endpoint.family, headers, request) if endpoint else None
        self._record(request.method, path, query, headers, raw, body, endpoint, key)

        if endpoint is None:
            return _json_response(
                404, _openai_error_body(404, f"Unknown route {request.method} {path}")
            )

        text = raw.decode("utf-8", "replace") if b"fake-" in raw else ""
        controls = parse_controls(text, path, query)
        delay = self.latency + controls.slow_seconds
        if delay > 0:
            await asyncio.sleep(delay)

        family = endpoint.family
        if key is None:
            return self._error(family, 401, _MISSING_KEY_MESSAGES[family])
        if controls.error_status is not None:
            return self._error(family, controls.error_status)
        if endpoint.kind == "models":
            return self._models(family)
        if not isinstance(body, dict):
            return self._error(family, 400, "The request body must be a JSON object.")

        if endpoint.kind == "chat":
            return self._chat(body, controls)
        if endpoint.kind == "responses":
            return self._responses(body, controls)
        if endpoint.kind == "embeddings":
            return self._embeddings(body, controls)
        if endpoint.kind == "speech":
            return self._speech(body, controls)
        if endpoint.kind == "messages":
            return self._messages(body, controls)
        if endpoint.kind == "tts":
            return self._elevenlabs(body, controls)
        model = endpoint.model or ""
        sse = request.query_params.get("alt") == "sse"
        return self._gemini(
            model, body, controls, stream=endpoint.kind != "generateContent", sse=sse
        )

    # -- responses ---------------------------------------------------------------------------------

    def _error(self, family: str, status: int, message: str | None = None) -> Response:
        return _json_response(status, _ERROR_BODIES[family](status, message), _request_id(family))

    def _json(self, family: str, obj: Any, controls: Controls) -> Response:
        headers = _request_id(family)
        if not controls.midstream:
            return Response(_dumps(obj), 200, headers, "application/json")
        data = _dumps(obj)
        half = len(data) // 2
        headers["content-length"] = str(len(data))
        return StreamingResponse(
            self._emit([data[:half], data[half:]], controls, None),
            200,
            headers,
            "application/json",
        )

    def _stream(
        self,
        family: str,
        frames: list[bytes],
        controls: Controls,
        error_frame: bytes | None,
        media_type: str = "text/event-stream; charset=utf-8",
    ) -> Response:
        headers = _request_id(family)
        headers.update(_SSE_HEADERS)
        return StreamingResponse(
            self._emit(frames, controls, error_frame), 200, headers, media_type
        )

    async def _emit(
        self, frames: Sequence[bytes], controls: Controls, error_frame: bytes | None
    ) -> AsyncIterator[bytes]:
        """Send ``frames`` one by one, acting on the midstream controls."""
        trigger = min(MIDSTREAM_AFTER_CHUNKS, len(frames) - 1) if controls.midstream else -1
        delay = self.chunk_delay
        for index, frame in enumerate(frames):
            if index and delay:
                await asyncio.sleep(delay)
            if index == trigger:
                if controls.drop_midstream:
                    raise ConnectionDropped("fake-drop-midstream")
                if controls.error_midstream and error_frame is not None:
                    yield error_frame
                    return
                if controls.hang_midstream:
                    await asyncio.sleep(HANG_SECONDS)
            yield frame

    def _models(self, family: str) -> Response:
        now = 1_700_000_000
        if family == "anthropic":
            data: list[JSON] = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in _ANTHROPIC_MODELS
            ]
            body: JSON = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"],
                "last_id": data[-1]["id"],
            }
        elif family == "gemini":
            body = {
                "models": [
                    {
                        "name": f"models/{m}",
                        "displayName": m,
                        "inputTokenLimit": 1_048_576,
                        "outputTokenLimit": 65_536,
                        "supportedGenerationMethods": ["generateContent", "countTokens"],
                    }
                    for m in _GEMINI_MODELS
                ]
            }
        else:
            body = {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": now, "owned_by": "system"}
                    for m in _MODELS
                ],
            }
        return _json_response(200, body, _request_id(family))

    # -- OpenAI chat completions -------------------------------------------------------------------

    def _chat(self, body: JSON, controls: Controls) -> Response:
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            return self._error("openai", 400, "you must provide a model parameter")
        if not isinstance(messages, list) or not messages:
            return self._error("openai", 400, "'messages' must be a non-empty array")
        cap = _as_int(body.get("max_completion_tokens"))
        if cap is None:
            cap = _as_int(body.get("max_tokens"))
        plan = _plan(
            _count_input(messages), cap, controls, reasoning_model=_openai_reasoning(model)
        )
        finish = "length" if plan.truncated else "stop"
        usage = None if controls.no_usage else _openai_chat_usage(plan)
        ident = _new_id("chatcmpl-")
        created = int(time.time())

        if body.get("stream") is not True:
            result: JSON = {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": plan.text,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            if usage is not None:
                result["usage"] = usage
            return self._json("openai", result, controls)

        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        on_last = controls.usage_on_last_chunk

        def chunk(delta: JSON, finish_reason: str | None, last: bool = False) -> bytes:
            obj: JSON = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
            if last and on_last and usage is not None:
                obj["usage"] = usage
            elif include_usage:
                obj["usage"] = None
            return _sse(obj)

        frames = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        frames.extend(chunk({"content": piece}, None) for piece in plan.pieces)
        frames.append(chunk({}, finish, last=True))
        if include_usage and not on_last and usage is not None:
            frames.append(
                _sse(
                    {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "service_tier": "default",
                        "system_fingerprint": "fp_fake",
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        frames.append(b"data: [DONE]\n\n")
        error = _sse(_openai_error_body(500)) if controls.error_midstream else None
        return self._stream("openai", frames, controls, error)

    # -- OpenAI Responses API ----------------------------------------------------------------------

    def _responses(self, body: JSON, controls: Controls) -> Response:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error("openai", 400, "Missing required parameter: 'model'.")
        if "input" not in body and "instructions" not in body:
            return self._error("openai", 400, "Missing required parameter: 'input'.")
        plan = _plan(
            _count_input(body.get("input")) + _count_input(body.get("instructions")),
            _as_int(body.get("max_output_tokens")),
            controls,
            reasoning_model=_openai_reasoning(model),
        )
        usage = None if controls.no_usage else _openai_responses_usage(plan)
        ident = _new_id("resp_")
        message_id = _new_id("msg_")
        reasoning_item: JSON | None = (
            {"id": _new_id("rs_"), "type": "reasoning", "summary": []} if plan.reasoning else None
        )
        status = "incomplete" if plan.truncated else "completed"
        text_part: JSON = {
            "type": "output_text",
            "text": plan.text,
            "annotations": [],
            "logprobs": [],
        }
        message: JSON = {
            "id": message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [text_part],
        }
        output = [message] if reasoning_item is None else [reasoning_item, message]
        created = int(time.time())

        def response(state: str, items: list[JSON], with_usage: JSON | None) -> JSON:
            return {
                "id": ident,
                "object": "response",
                "created_at": created,
                "status": state,
                "background": False,
                "error": None,
                "incomplete_details": (
                    {"reason": "max_output_tokens"} if state == "incomplete" else None
                ),
                "instructions": body.get("instructions"),
                "max_output_tokens": body.get("max_output_tokens"),
                "model": model,
                "output": items,
                "parallel_tool_calls": True,
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None},
                "service_tier": "default",
                "store": body.get("store", True),
                "temperature": body.get("temperature", 1.0),
                "text": {"format": {"type": "text"}},
                "tool_choice": "auto",
                "tools": [],
                "top_p": body.get("top_p", 1.0),
                "truncation": "disabled",
                "usage": with_usage,
                "user": None,
                "metadata": body.get("metadata") or {},
            }

        if body.get("stream") is not True:
            return self._json("openai", response(status, output, usage), controls)

        sequence = 0

        def event(kind: str, payload: JSON) -> bytes:
            nonlocal sequence
            payload = {"type": kind, "sequence_number": sequence, **payload}
            sequence += 1
            return _sse_event(kind, payload)

        frames = [
            event("response.created", {"response": response("in_progress", [], None)}),
            event("response.in_progress", {"response": response("in_progress", [], None)}),
        ]
        index = 0
        if reasoning_item is not None:
            frames.append(
                event("response.output_item.added", {"output_index": 0, "item": reasoning_item})
            )
            frames.append(
                event("response.output_item.done", {"output_index": 0, "item": reasoning_item})
            )
            index = 1
        where = {"item_id": message_id, "output_index": index, "content_index": 0}
        frames.append(
            event(
                "response.output_item.added",
                {
                    "output_index": index,
                    "item": {**message, "status": "in_progress", "content": []},
                },
            )
        )
        frames.append(
            event("response.content_part.added", {**where, "part": {**text_part, "text": ""}})
        )
        frames.extend(
            event("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
            for piece in plan.pieces
        )
        frames.append(
            event("response.output_text.done", {**where, "text": plan.text, "logprobs": []})
        )
        frames.append(event("response.content_part.done", {**where, "part": text_part}))
        frames.append(event("response.output_item.done", {"output_index": index, "item": message}))
        frames.append(event(f"response.{status}", {"response": response(status, output, usage)}))

        error = None
        if controls.error_midstream:
            failed = response("failed", [], usage)
            failed["error"] = {"code": "server_error", "message": "The model failed to respond."}
            at = min(MIDSTREAM_AFTER_CHUNKS, len(frames) - 1)  # where _emit puts it
            error = _sse_event(
                "response.failed",
                {"type": "response.failed", "sequence_number": at, "response": failed},
            )
        return self._stream("openai", frames, controls, error)

    # -- OpenAI embeddings and speech --------------------------------------------------------------

    def _embeddings(self, body: JSON, controls: Controls) -> Response:
        model = body.get("model")
        inputs = body.get("input")
        if not isinstance(model, str) or not model:
            return self._error("openai", 400, "you must provide a model parameter")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and type(inputs[0]) is int
        ):
            items: list[Any] = [inputs]
        elif isinstance(inputs, list) and inputs:
            items = inputs
        else:
            return self._error("openai", 400, "'input' must be a string or a non-empty array")
        tokens = max(1, _count_input(items))
        dims = _as_int(body.get("dimensions")) or (3072 if "large" in model else 1536)
        dims = min(max(dims, 1), 8192)
        fmt = "base64" if body.get("encoding_format") == "base64" else "float"
        vector = _embedding_json(dims, fmt)
        data = ",".join(
            f'{{"object":"embedding","index":{i},"embedding":{vector}}}' for i in range(len(items))
        )
        tail = (
            ""
            if controls.no_usage
            else f',"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}'
        )
        payload = f'{{"object":"list","data":[{data}],"model":{_compact(model)}{tail}}}'
        return Response(payload.encode(), 200, _request_id("openai"), "application/json")

    def _speech(self, body: JSON, controls: Controls) -> Response:
        text = body.get("input")
        if not isinstance(text, str) or not text:
            return self._error("openai", 400, "Missing required parameter: 'input'.")
        fmt = body.get("response_format", "mp3")
        media = _AUDIO_TYPES.get(fmt if isinstance(fmt, str) else "mp3", "audio/mpeg")
        return Response(_fake_audio(len(text)), 200, _request_id("openai"), media)

    def _elevenlabs(self, body: JSON, controls: Controls) -> Response:
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return self._error("elevenlabs", 400, "Missing text.")
        headers = {
            "request-id": _new_id(""),
            "history-item-id": _new_id(""),
            "x-character-count": str(len(text)),
        }
        return Response(_fake_audio(len(text)), 200, headers, "audio/mpeg")

    # -- Anthropic messages ------------------------------------------------------------------------

    def _messages(self, body: JSON, controls: Controls) -> Response:
        model = body.get("model")
        messages = body.get("messages")
        cap = _as_int(body.get("max_tokens"))
        if not isinstance(model, str) or not model:
            return self._error("anthropic", 400, "model: Field required")
        if not isinstance(messages, list) or not messages:
            return self._error("anthropic", 400, "messages: Field required")
        if cap is None:
            return self._error("anthropic", 400, "max_tokens: Field required")
        plan = _plan(
            _count_input(messages) + _count_input(body.get("system")),
            cap,
            controls,
            reasoning_model=False,
        )
        stop_reason = "max_tokens" if plan.truncated else "end_turn"
        ident = _new_id("msg_01")
        uncached = plan.input_tokens - plan.cache_read - plan.cache_write

        def usage(output_tokens: int) -> JSON:
            return {
                "input_tokens": uncached,
                "cache_creation_input_tokens": plan.cache_write,
                "cache_read_input_tokens": plan.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": plan.cache_write,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": output_tokens,
                "service_tier": "standard",
            }

        def message(content: list[JSON], stop: str | None, output_tokens: int) -> JSON:
            result: JSON = {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
            }
            if not controls.no_usage:
                result["usage"] = usage(output_tokens)
            return result

        if body.get("stream") is not True:
            content = [{"type": "text", "text": plan.text}]
            return self._json(
                "anthropic", message(content, stop_reason, plan.output_tokens), controls
            )

        delta_usage: JSON = {
            "input_tokens": uncached,
            "cache_creation_input_tokens": plan.cache_write,
            "cache_read_input_tokens": plan.cache_read,
            "output_tokens": plan.output_tokens,
        }
        final: JSON = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        }
        if not controls.no_usage:
            final["usage"] = delta_usage
        frames = [
            _sse_event("message_start", {"type": "message_start", "message": message([], None, 1)}),
            _sse_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            _PING,
        ]
        frames.extend(
            _sse_event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
            for piece in plan.pieces
        )
        frames.append(_sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        frames.append(_sse_event("message_delta", final))
        frames.append(_sse_event("message_stop", {"type": "message_stop"}))
        return self._stream("anthropic", frames, controls, _ANTHROPIC_STREAM_ERROR)

    # -- Gemini ------------------------------------------------------------------------------------

    def _gemini(
        self, model: str, body: JSON, controls: Controls, *, stream: bool, sse: bool
    ) -> Response:
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return self._error(
                "gemini", 400, "* GenerateContentRequest.contents: contents is not specified"
            )
        config = body.get("generationConfig") or body.get("generation_config")
        cap = None
        if isinstance(config, dict):
            cap = _as_int(config.get("maxOutputTokens"))
            if cap is None:
                cap = _as_int(config.get("max_output_tokens"))
        system = body.get("systemInstruction") or body.get("system_instruction")
        plan = _plan(
            _count_input(contents) + _count_input(system),
            cap,
            controls,
            reasoning_model=_gemini_thinking(model),
        )
        finish = "MAX_TOKENS" if plan.truncated else "STOP"
        response_id = uuid.uuid4().hex[:22]

        def usage(candidates: int) -> JSON:
            meta: JSON = {
                "promptTokenCount": plan.input_tokens,
                "candidatesTokenCount": candidates,
                "totalTokenCount": plan.input_tokens + candidates + plan.reasoning,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": plan.input_tokens}],
            }
            if plan.cache_read:
                meta["cachedContentTokenCount"] = plan.cache_read
            if plan.reasoning:
                meta["thoughtsTokenCount"] = plan.reasoning
            return meta

        def chunk(text: str, finish_reason: str | None, candidates: int) -> JSON:
            candidate: JSON = {"content": {"parts": [{"text": text}], "role": "model"}}
            if finish_reason is not None:
                candidate["finishReason"] = finish_reason
            candidate["index"] = 0
            result: JSON = {"candidates": [candidate]}
            if not controls.no_usage:
                result["usageMetadata"] = usage(candidates)
            result["modelVersion"] = model
            result["responseId"] = response_id
            return result

        if not stream:
            return self._json("gemini", chunk(plan.text, finish, len(plan.pieces)), controls)

        pieces = plan.pieces or ("",)
        last = len(pieces) - 1
        objects = [
            chunk(piece, finish if i == last else None, min(i + 1, len(plan.pieces)))
            for i, piece in enumerate(pieces)
        ]
        if sse:
            frames = [_gemini_sse(obj) for obj in objects]
            error = _GEMINI_STREAM_ERROR_SSE if controls.error_midstream else None
            return self._stream("gemini", frames, controls, error, "text/event-stream")
        # Without alt=sse Google streams one JSON array, element by element.
        encoded = [_google(obj).encode() for obj in objects]
        frames = [b"[" + encoded[0]] + [b"\n,\r\n" + e for e in encoded[1:]]
        frames.append(b"\n]")
        error = _GEMINI_STREAM_ERROR_ARRAY if controls.error_midstream else None
        return self._stream("gemini", frames, controls, error, "application/json; charset=UTF-8")


_PING = _sse_event("ping", {"type": "ping"})
_ANTHROPIC_STREAM_ERROR = _sse_event(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
)
_GEMINI_STREAM_ERROR_SSE = _gemini_sse(_gemini_error_body(500))
_GEMINI_STREAM_ERROR_ARRAY = b"\n,\r\n" + _google(_gemini_error_body(500)).encode() + b"\n]"


def _openai_chat_usage(plan: _Plan) -> JSON:
    output = plan.output_tokens
    if plan.claimed_output_tokens is not None:
        output = plan.claimed_output_tokens
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": output,
        "total_tokens": plan.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": plan.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _openai_responses_usage(plan: _Plan) -> JSON:
    output = plan.output_tokens
    return {
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": plan.cache_read},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning},
        "total_tokens": plan.input_tokens + output,
    }


@lru_cache(maxsize=16)
def _embedding_json(dims: int, fmt: str) -> str:
    """The JSON of the (same, unit-length) embedding returned for every input."""
    raw = [math.sin(i + 1) for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    values = [round(x / norm, 6) for x in raw]
    if fmt == "base64":
        packed = struct.pack(f"<{dims}f", *values)
        return '"' + base64.b64encode(packed).decode() + '"'
    return _compact(values)


_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # one silent MPEG-1 Layer III frame, 128 kbit/s


@lru_cache(maxsize=64)
def _fake_audio(characters: int) -> bytes:
    """Bytes that look like an MP3 file, longer for longer texts (a frame per 4 characters)."""
    frames = max(1, min(characters, 20_000) // 4)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + _MP3_FRAME * frames


def _request_id(family: str) -> dict[str, str]:
    if family == "anthropic":
        return {"request-id": _new_id("req_")}
    if family == "openai":
        return {"x-request-id": _new_id("req_"), "openai-processing-ms": "1"}
    return {}


def _json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(obj), status, headers, "application/json")


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def create_fake_provider_app(
    latency_ms: float = 0, *, chunk_delay_ms: float = 0, max_recorded: int = 1000
) -> Starlette:
    """The fake provider as an ASGI app (see the module docstring for routes and controls).

    ``latency_ms`` is slept before the first byte of each provider answer, ``chunk_delay_ms``
    between stream chunks; the last ``max_recorded`` requests are kept for
    ``GET /_fake/requests``. The :class:`FakeProvider` is ``app.state.fake_provider``.
    """
    _install_log_filter()
    provider = FakeProvider(
        latency_ms=latency_ms, chunk_delay_ms=chunk_delay_ms, max_recorded=max_recorded
    )
    app = Starlette(
        routes=[
            Route("/_fake/requests", provider.list_requests, methods=["GET", "DELETE"]),
            Route("/_fake/health", provider.health, methods=["GET"]),
            Route("/{path:path}", provider.dispatch, methods=["GET", "POST"]),
        ]
    )
    app.state.fake_provider = provider
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 9100,
    latency_ms: float = 0,
    *,
    chunk_delay_ms: float = 0,
    log_level: str = "warning",
) -> None:
    """Serve the fake provider with uvicorn until interrupted."""
    import uvicorn

    app = create_fake_provider_app(latency_ms, chunk_delay_ms=chunk_delay_ms)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
